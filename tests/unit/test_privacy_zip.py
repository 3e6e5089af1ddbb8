"""/export's zip stays under the upload limit by leaving clips out, and says which."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from bot.pipeline.privacy import _build_zip


def test_clips_over_the_limit_are_left_out_and_listed(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\xff\xd8" + b"p" * 1000)
    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    small.write_bytes(b"s" * 10_000)
    big.write_bytes(b"b" * 200_000)
    shot = SimpleNamespace(
        position=1, description="boats", photo_path=str(photo), created_by=1, kept_take_id=2
    )
    revision = SimpleNamespace(
        number=1,
        prompt="clay boats glide",
        negative_prompt="",
        instruction=None,
        params={"duration": 5},
        created_by=1,
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    takes = [
        SimpleNamespace(id=1, clip_path=str(big), requested_by=1, provider="kling", params={}),
        SimpleNamespace(id=2, clip_path=str(small), requested_by=2, provider="kling", params={}),
    ]
    project = SimpleNamespace(id=3, title="Shanghai / in clay")
    export = _build_zip(project, [(shot, [revision], takes)], limit_bytes=64 * 1024 + 50_000)
    assert len(export.data) < 64 * 1024 + 50_000
    assert (export.clips, export.skipped_clips) == (1, ["clips/shot-01-take-1.mp4"])
    assert export.filename == "claymate-Shanghai---in-clay.zip"
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    assert "clips/shot-01-take-2.mp4" in archive.namelist()
    assert "left out" in archive.read("project.md").decode()
    manifest = json.loads(archive.read("project.json"))
    assert [t["kept"] for t in manifest["shots"][0]["takes"]] == [False, True]
