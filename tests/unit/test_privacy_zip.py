"""/export's zip: on disk (never in memory), under the size cap, relative paths only."""

from __future__ import annotations

import json
import stat
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.domain.errors import StudioError
from bot.services.privacy import build_zip


def _project(tmp_path: Path, *, clip_bytes: tuple[int, int] = (200_000, 10_000)):  # type: ignore[no-untyped-def]
    photo = tmp_path / "data" / "photos" / "p.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8" + b"p" * 1000)
    tail = tmp_path / "data" / "stills" / "f" / "end-1.jpg"
    tail.parent.mkdir(parents=True)
    tail.write_bytes(b"\xff\xd8" + b"e" * 100)
    big, small = tmp_path / "big.mp4", tmp_path / "small.mp4"
    with big.open("wb") as out:  # written in pieces: the test itself holds no big buffer
        for _ in range(clip_bytes[0] // 65536):
            out.write(b"b" * 65536)
        out.write(b"b" * (clip_bytes[0] % 65536))
    small.write_bytes(b"s" * clip_bytes[1])
    shot = SimpleNamespace(
        position=1,
        description="boats",
        photo_path=str(photo),
        still_path=None,
        created_by=1,
        kept_take_id=2,
    )
    revision = SimpleNamespace(
        number=1,
        prompt="clay boats glide",
        negative_prompt="",
        instruction=None,
        params={"duration": 5, "image_tail_path": str(tail)},
        created_by=1,
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    takes = [
        SimpleNamespace(id=1, clip_path=str(big), requested_by=1, provider="kling", params={}),
        SimpleNamespace(
            id=2,
            clip_path=str(small),
            requested_by=2,
            provider="kling",
            params={"image_tail_path": str(tail)},
        ),
    ]
    project = SimpleNamespace(id=3, title="Shanghai / in clay")
    return project, [(shot, [revision], takes)]


def test_clips_over_the_limit_are_left_out_and_listed(tmp_path: Path) -> None:
    project, data = _project(tmp_path)
    limit = 64 * 1024 + 50_000
    export = build_zip(project, data, limit, tmp_path / "data" / "exports")
    assert export.path.stat().st_size == export.size < limit
    assert (export.clips, export.skipped_clips) == (1, ["clips/shot-01-take-1.mp4"])
    assert export.filename == "claymate-Shanghai---in-clay.zip"
    archive = zipfile.ZipFile(export.path)
    assert "clips/shot-01-take-2.mp4" in archive.namelist()
    assert "left out" in archive.read("project.md").decode()
    manifest = json.loads(archive.read("project.json"))
    assert [t["kept"] for t in manifest["shots"][0]["takes"]] == [False, True]


def test_project_json_holds_relative_paths_only(tmp_path: Path) -> None:
    project, data = _project(tmp_path)
    export = build_zip(project, data, 10 * 1024 * 1024, tmp_path / "data" / "exports")
    archive = zipfile.ZipFile(export.path)
    text = archive.read("project.json").decode()
    assert str(tmp_path) not in text and "/data/" not in text
    manifest = json.loads(text)
    tail = manifest["shots"][0]["revisions"][0]["params"]["image_tail_path"]
    assert tail == "end-frames/shot-01-end-1.jpg"  # the end frame travels in the zip
    assert archive.read(tail)[:2] == b"\xff\xd8"
    assert manifest["shots"][0]["takes"][1]["params"]["image_tail_path"] == tail


def test_the_zip_is_a_private_file_on_disk_not_bytes_in_memory(tmp_path: Path) -> None:
    clip = 8 * 1024 * 1024
    project, data = _project(tmp_path, clip_bytes=(clip, 10_000))
    tracemalloc.start()
    try:
        export = build_zip(project, data, 50 * 1024 * 1024, tmp_path / "data" / "exports")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not hasattr(export, "data")
    assert export.path.parent == tmp_path / "data" / "exports"
    assert export.size > clip  # the clip went in, copied in small pieces
    assert peak < clip // 4
    assert stat.S_IMODE(export.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(export.path.parent.stat().st_mode) == 0o700


def test_a_project_too_large_even_without_clips_says_so_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    project, data = _project(tmp_path)
    with pytest.raises(StudioError) as error:
        build_zip(project, data, 1024, tmp_path / "data" / "exports")
    assert error.value.key == "export.too_large"
    folder = tmp_path / "data" / "exports"
    assert not folder.exists() or list(folder.iterdir()) == []
