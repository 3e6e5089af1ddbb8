"""Private folders: made once per process, and made again if they went away."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.files import private_dir, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_folder_that_was_there_already_becomes_private_at_its_first_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data" / "photos"
    folder.mkdir(parents=True)
    for made in (folder, folder.parent):
        made.chmod(0o755)
    write_private(folder / "a.jpg", b"a")
    assert _mode(folder) == 0o700
    assert _mode(tmp_path / "data") == 0o755  # it was there: not the bot's to change
    assert _mode(folder / "a.jpg") == 0o600


def test_a_private_folder_removed_meanwhile_is_made_again(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "clips"
    write_private(folder / "a.mp4", b"a")
    (folder / "a.mp4").unlink()
    folder.rmdir()  # an operator's clean-up, between two files
    write_private(folder / "b.mp4", b"b")
    assert (folder / "b.mp4").read_bytes() == b"b"
    assert _mode(folder) == 0o700
    (folder / "b.mp4").unlink()
    folder.rmdir()
    assert private_dir(folder) == folder and _mode(folder) == 0o700
