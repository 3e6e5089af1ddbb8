"""/forget and /export: a user's data leaves with them, or goes home with them as a zip."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import logging
import os
import shutil
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.errors import StudioError
from bot.domain.ports import cancel_upstream
from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.files import private_dir
from bot.media.intake import llm_copy_path
from bot.services.studio import Studio
from storage.models import Project
from storage.repos.accounts import AccountsRepo, InFlight, OwnedFiles
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

ZIP_OVERHEAD = 64 * 1024  # the zip's own headers, project.md and project.json


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


async def forget(studio: Studio, user_id: int) -> Forgotten:
    """Delete every row the user owns, stop their takes in flight, then remove their files."""
    async with studio.db.session() as session:
        owned = await AccountsRepo(session).forget_user(user_id)
    for take in owned.in_flight:
        await _stop_upstream(studio, take)
    removed = await asyncio.to_thread(_remove_files, studio, owned)
    log.info("forgot user %s: %d projects, %d files", user_id, len(owned.project_ids), removed)
    return Forgotten(removed, len(owned.project_ids))


async def _stop_upstream(studio: Studio, take: InFlight) -> None:
    """Cancel the provider's task where it allows; otherwise the runner just drops the take."""
    provider = studio.providers.get(take.provider)
    if provider is None or take.upstream_task_id is None:
        return
    try:
        stopped = await cancel_upstream(provider, take.upstream_task_id)
    except Exception:  # the rows are gone already: a failed cancel must not undo /forget
        log.exception("take %s: cancelling upstream failed", take.take_id)
        return
    log.info("take %s: upstream task %s", take.take_id, "cancelled" if stopped else "left")


def _remove_files(studio: Studio, owned: OwnedFiles) -> int:
    data_dir = studio.settings.data_dir
    removed = sum(_unlink(Path(raw)) for raw in owned.paths)
    for raw in owned.photo_paths:  # the LLM's copy is part of its photo: not counted apart
        _unlink(llm_copy_path(Path(raw)))
    for name in owned.shot_folders:  # stills and end frames
        removed += _remove_tree(data_dir / "stills", name)
    for name in owned.clip_names:  # downloads cut off half way (the clip download, previews)
        for partial in studio.clips_dir.glob(f".{glob.escape(name)}.mp4.*.part"):
            removed += _unlink(partial)
        removed += _unlink(studio.clips_dir / f"{name}.mp4.part")
    for project_id in owned.project_ids:
        # Older versions kept photos and films in a folder per project id.
        removed += _remove_tree(studio.photos_dir, str(project_id))
        removed += _remove_tree(data_dir / "films", str(project_id))
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


@contextlib.asynccontextmanager
async def exported(studio: Studio, actor: Actor, *, limit_bytes: int) -> AsyncIterator[Export]:
    """The current project's zip for the length of the block; the file goes afterwards, always."""
    export = await export_project(studio, actor, limit_bytes=limit_bytes)
    try:
        yield export
    finally:
        export.path.unlink(missing_ok=True)


async def export_project(studio: Studio, actor: Actor, *, limit_bytes: int) -> Export:
    """The current project as a zip on disk: photos, prompts and revisions (Markdown, JSON), clips.

    Clips that would push the zip over `limit_bytes` (Telegram's upload limit) are left out
    and listed, so the document always sends; the caller removes the file (see `exported`).
    """
    project = await studio.current_project(actor)
    async with studio.db.session() as session:
        uow = UnitOfWork(session)
        shots = await uow.projects.project_shots(project.id)
        data = []
        for shot in shots:
            revisions = await uow.projects.shot_revisions(shot.id)
            takes = [
                t for t in await uow.takes.shot_takes(shot.id) if t.status == TakeState.DELIVERED
            ]
            data.append((shot, revisions, takes))
    folder = studio.settings.data_dir / "exports"
    async with studio.heavy_work():  # zipping clips takes a while, on a worker thread
        return await asyncio.to_thread(_build_zip, project, data, limit_bytes, folder)


def _build_zip(project: Project, data: list, limit_bytes: int, folder: Path) -> Export:
    manifest: dict = {"project": {"id": project.id, "title": project.title}, "shots": []}
    lines = [f"# {project.title}", ""]
    files: dict[str, Path] = {}  # name in the zip -> file on disk
    clips: list[tuple[str, Path]] = []
    for shot, revisions, takes in data:
        photo_name = f"photos/shot-{shot.position:02d}.jpg"
        if Path(shot.photo_path).exists():
            files[photo_name] = Path(shot.photo_path)
        lines += [f"## Shot {shot.position}", "", f"Description: {shot.description or ''}", ""]
        shot_json = {
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


def _portable(params: dict, position: int, files: dict[str, Path]) -> dict:
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
