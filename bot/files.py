"""Files the bot keeps (photos, stills, clips, films, exports) are readable by it alone.

Modes are set explicitly, whatever the process umask: files 0600, folders 0700.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class DataFolders:
    """Where each kind of file the bot keeps lives, under CLAYMATE_DATA_DIR."""

    root: Path

    @property
    def photos(self) -> Path:
        return self.root / "photos"

    @property
    def clips(self) -> Path:
        return self.root / "clips"

    @property
    def stills(self) -> Path:
        return self.root / "stills"

    @property
    def films(self) -> Path:
        return self.root / "films"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def music(self) -> Path:
        return self.root / "music"


# Folders this process has made private already. Every file the bot writes asks for its
# folder first (a photo is two files): after the first time one stat is enough, where the
# full check looks at every parent and sets the mode again.
_MADE_PRIVATE: set[Path] = set()


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) as folders only the bot's user can enter."""
    if path in _MADE_PRIVATE and path.is_dir():
        return path
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *missing):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(folder, DIR_MODE)
    _MADE_PRIVATE.add(path)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (a temporary file renamed into place), mode 0600."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, FILE_MODE)  # an existing temporary file keeps its old mode otherwise
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def make_private(path: Path) -> Path:
    """A file another library wrote (PyAV, zipfile): readable by the bot alone."""
    os.chmod(path, FILE_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (e.g. before SQLite opens it).

    SQLite creates its -wal and -shm files with the database file's mode, so they follow.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
