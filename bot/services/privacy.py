"""/forget and /export on disk: a user's files leave with them, or go home as a zip.

The rows are the accounts use case's (bot.services.accounts); these are the file halves,
run on worker threads.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain.errors import StudioError
from bot.domain.records import ProjectRecord
from bot.files import DataFolders, private_dir
from bot.media.intake import llm_copy_path
from bot.media.lastframe import provider_frame_path
from storage.models import PromptRevision, Shot, Take
from storage.repos.accounts import OwnedFiles

ZIP_OVERHEAD = 64 * 1024  # the zip's own headers, project.md and project.json

ShotData = tuple[Shot, list[PromptRevision], list[Take]]  # a shot, its drafts, its clips


@dataclass(frozen=True, slots=True)
class Forgotten:
    files: int
    projects: int


@dataclass(slots=True)
class Export:
    """A zip on disk, never in memory: 0600 under data_dir/exports, removed after sending."""

    filename: str
    path: Path
    size: int
    shots: int
    clips: int
    skipped_clips: list[str] = field(default_factory=list)  # left out: over the upload limit


def remove_files(folders: DataFolders, owned: OwnedFiles) -> int:
    """Remove every file /forget found the user owns; how many there were."""
    removed = sum(_unlink(Path(raw)) for raw in owned.paths)
    for raw in owned.photo_paths:  # the LLM's copy is part of its photo: not counted apart
        _unlink(llm_copy_path(Path(raw)))
    for name in owned.shot_folders:  # stills and end frames
        removed += _remove_tree(folders.stills, name)
    for name in owned.clip_names:  # downloads cut off half way (the clip download, previews)
        for partial in folders.clips.glob(f".{glob.escape(name)}.mp4.*.part"):
            removed += _unlink(partial)
        removed += _unlink(folders.clips / f"{name}.mp4.part")
        # The provider's last frame of the clip, kept for ➡️ Continue.
        removed += _unlink(provider_frame_path(folders.clips / f"{name}.mp4"))
    for name in owned.music_names:  # "calm" is no file; a song's name comes from a row
        if name != Path(name).name or name.startswith("."):
            continue
        removed += _unlink(folders.music / name)
    for project_id in owned.project_ids:
        # Older versions kept photos and films in a folder per project id.
        removed += _remove_tree(folders.photos, str(project_id))
        removed += _remove_tree(folders.films, str(project_id))
    return removed


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _remove_tree(parent: Path, name: str) -> int:
    """Remove `parent/name` and everything in it; `name` comes from a row, so it is checked."""
    if not name.isalnum():
        return 0
    folder = parent / name
    if not folder.is_dir():
        return 0
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return count


def build_zip(
    project: ProjectRecord, data: list[ShotData], limit_bytes: int, folder: Path
) -> Export:
    """The project as a zip in `folder`: photos, prompts and revisions (Markdown, JSON), clips.

    Clips that would push the zip over `limit_bytes` (Telegram's upload limit) are left out
    and listed, so the document always sends; the caller removes the file.
    """
    manifest: dict[str, Any] = {"project": {"id": project.id, "title": project.title}, "shots": []}
    lines = [f"# {project.title}", ""]
    files: dict[str, Path] = {}  # name in the zip -> file on disk
    clips: list[tuple[str, Path]] = []
    for shot, revisions, takes in data:
        photo_name = f"photos/shot-{shot.position:02d}.jpg"
        if Path(shot.photo_path).exists():
            files[photo_name] = Path(shot.photo_path)
        lines += [f"## Shot {shot.position}", "", f"Description: {shot.description or ''}", ""]
        shot_json: dict[str, Any] = {
            "position": shot.position,
            "description": shot.description,
            "photo": photo_name,
            "created_by": shot.created_by,
            "revisions": [],
            "takes": [],
        }
        still = getattr(shot, "still_path", None)
        if still and Path(still).exists():
            shot_json["still"] = f"stills/shot-{shot.position:02d}.jpg"
            files[shot_json["still"]] = Path(still)
        for revision in revisions:
            lines += [
                f"### Revision {revision.number}"
                + (f" — {revision.instruction}" if revision.instruction else ""),
                "",
                revision.prompt,
                "",
            ]
            shot_json["revisions"].append(
                {
                    "number": revision.number,
                    "prompt": revision.prompt,
                    "negative_prompt": revision.negative_prompt,
                    "instruction": revision.instruction,
                    "params": _portable(revision.params, shot.position, files),
                    "created_by": revision.created_by,
                    "created_at": revision.created_at.isoformat(),
                }
            )
        for take in takes:
            name = f"clips/shot-{shot.position:02d}-take-{take.id}.mp4"
            if take.clip_path and Path(take.clip_path).exists():
                clips.append((name, Path(take.clip_path)))
            shot_json["takes"].append(
                {
                    "id": take.id,
                    "clip": name,
                    "kept": take.id == shot.kept_take_id,
                    "requested_by": take.requested_by,
                    "provider": take.provider,
                    "params": _portable(take.params, shot.position, files),
                }
            )
        manifest["shots"].append(shot_json)
    budget = limit_bytes - ZIP_OVERHEAD  # room for the zip's own headers and the text files
    used = sum(path.stat().st_size for path in files.values())
    if used > budget:
        raise StudioError("export.too_large", limit=limit_bytes // (1024 * 1024))
    skipped: list[str] = []
    kept_clips = []
    for name, path in clips:
        size = path.stat().st_size
        if used + size > budget:
            skipped.append(name)
            continue
        used += size
        kept_clips.append((name, path))
    if skipped:
        lines += ["", "Clips left out (over the upload limit): " + ", ".join(skipped)]
    private_dir(folder)
    path = folder / f"{uuid.uuid4().hex}.zip"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            archive.writestr("project.md", "\n".join(lines) + "\n")
            archive.writestr("project.json", json.dumps(manifest, ensure_ascii=False, indent=2))
            for name, source in [*files.items(), *kept_clips]:
                # Photos and clips are compressed already; each is copied in small chunks.
                archive.write(source, name, compress_type=zipfile.ZIP_STORED)
        size = path.stat().st_size
        if size > limit_bytes:
            raise StudioError("export.too_large", limit=limit_bytes // (1024 * 1024))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in project.title)[:40]
    return Export(
        filename=f"claymate-{safe or project.id}.zip",
        path=path,
        size=size,
        shots=len(data),
        clips=len(kept_clips),
        skipped_clips=skipped,
    )


def _portable(params: dict[str, Any], position: int, files: dict[str, Path]) -> dict[str, Any]:
    """Params as the zip holds them: a file on the server becomes a file in the zip, by name."""
    portable = dict(params)
    for key, value in params.items():
        if not (isinstance(value, str) and Path(value).is_absolute()):
            continue
        source = Path(value)
        name = f"end-frames/shot-{position:02d}-{source.name}"
        if source.is_file():
            files[name] = source
            portable[key] = name
        else:
            portable[key] = None  # gone from the server: never show where it was
    return portable
