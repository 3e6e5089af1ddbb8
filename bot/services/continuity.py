"""➡️ Continue: the next shot of a story starts where its kept take ends.

The next shot's picture is the kept take's last frame: the one its provider returned
where it offers one (Seedance's return_last_frame, kept beside the clip), otherwise the
clip's own final frame, decoded from its end (bot/media/lastframe.py). The frame is the
new shot's photo byte for byte, so the provider starts exactly there. The shot joins the
same project right after the one it continues, waiting for one line of what happens next;
its draft then takes the kept take's engine, model and mode (see Drafting.describe).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.domain.aspect import shot_aspect
from bot.domain.errors import StudioError
from bot.domain.states import CLIP_READY_STATES, ShotState
from bot.domain.types import Actor
from bot.files import write_private
from bot.media.intake import llm_copy_path
from bot.media.lastframe import StartFrame, last_frame, provider_frame_path, start_frame
from bot.media.probe import ClipError
from bot.services.drafting import facts_to_json
from bot.services.permissions import Permissions
from storage.db import Database
from storage.models import Project, Shot
from storage.uow import UnitOfWork

FROM_TAKE = "from_take"  # a continued shot's intake note: the kept take it starts from


@dataclass(frozen=True, slots=True)
class Continuation:
    """A new shot waiting for its line, and where it came from."""

    shot: Shot
    project: Project
    follows_revision_id: int  # the kept take's draft: its settings carry over
    frame: bytes  # the new shot's photo, exactly as the provider will get it
    from_provider: bool


class Continuity:
    """Starts a project's next shot from the last frame of a kept take."""

    def __init__(self, db: Database, permissions: Permissions, *, photos_dir: Path) -> None:
        self.db = db
        self.permissions = permissions  # whoever may see the take's project may continue it
        self.photos_dir = photos_dir

    async def start(self, actor: Actor, take_id: int) -> Continuation:
        """➡️ Continue under a kept take: a new shot right after it, from its last frame."""
        async with self.db.unit_of_work() as uow:
            take = await self.permissions.take(uow, actor, take_id)
            source = await self.permissions.shot(uow, actor, take.shot_id)
            if take.status not in CLIP_READY_STATES or source.kept_take_id != take.id:
                raise StudioError("continue.not_kept")
            clip = Path(take.clip_path) if take.clip_path else None
            revision_id = take.revision_id
            waiting = await _waiting_shot(uow, source.project_id, take.id)
            if waiting is not None:  # pressed again before the line came: the same shot
                project = await self.permissions.project(uow, actor, source.project_id)
                shown = await asyncio.to_thread(Path(waiting.photo_path).read_bytes)
                return Continuation(waiting, project, revision_id, shown, from_provider=False)
        if clip is None:
            raise StudioError("continue.no_clip")
        frame, from_provider = await asyncio.to_thread(_frame_of, clip)
        # A random name like every photo's; /forget finds it through the shot's row.
        suffix = ".png" if frame.source_format == "PNG" else ".jpg"
        path = self.photos_dir / f"{uuid.uuid4().hex}{suffix}"
        await asyncio.to_thread(write_private, llm_copy_path(path), frame.llm_jpeg)
        await asyncio.to_thread(write_private, path, frame.data)
        async with self.db.unit_of_work() as uow:
            project = await self.permissions.project(uow, actor, source.project_id)
            shot = await uow.shots.add_shot(
                project.id,
                created_by=actor.user_id,
                status=ShotState.AWAITING_DESCRIPTION,
                description=None,
                photo_path=str(path),
                photo_width=frame.width,
                photo_height=frame.height,
                source_format=frame.source_format,
                # The frame is the clip's own shape: it keeps the shot it continues.
                facts=facts_to_json(frame.facts, shot_aspect(source.facts)),
                intake_notes={"notes": [], FROM_TAKE: take.id},
                chat_id=actor.chat_id,
            )
            order = [s.id for s in await uow.shots.project_shots(project.id) if s.id != shot.id]
            at = order.index(source.id) + 1 if source.id in order else len(order)
            order.insert(at, shot.id)
            await uow.shots.reorder_shots(project.id, order)
            await uow.projects.set_current_project(actor.chat_id, project.id)
        return Continuation(shot, project, revision_id, frame.data, from_provider)

    async def waiting_line(self, actor: Actor) -> tuple[int, int] | None:
        """The actor's newest shot that ➡️ Continue started in the current project and that
        still waits for its line, with the draft it follows; None if there is none."""
        async with self.db.unit_of_work() as uow:
            project = await uow.projects.current_project(actor.chat_id)
            if project is None:
                return None
            shots = await uow.shots.project_shots(project.id)
            for shot in sorted(shots, key=lambda s: s.id, reverse=True):
                source = (shot.intake_notes or {}).get(FROM_TAKE)
                if (
                    shot.status != ShotState.AWAITING_DESCRIPTION
                    or shot.created_by != actor.user_id
                    or not isinstance(source, int)
                ):
                    continue
                take = await uow.takes.get_take(source)
                if take is not None:
                    return shot.id, take.revision_id
        return None


async def _waiting_shot(uow: UnitOfWork, project_id: int, take_id: int) -> Shot | None:
    """A shot already started from this take that still waits for its line."""
    for shot in await uow.shots.project_shots(project_id):
        notes = shot.intake_notes or {}
        if shot.status == ShotState.AWAITING_DESCRIPTION and notes.get(FROM_TAKE) == take_id:
            return shot
    return None


def _frame_of(clip: Path) -> tuple[StartFrame, bool]:
    """The provider's last frame if it left one beside the clip, else the clip's own."""
    try:
        return start_frame(provider_frame_path(clip).read_bytes()), True
    except OSError:  # none returned, or unreadable: the clip itself has the frame
        pass
    try:
        return start_frame(last_frame(clip).jpeg), False
    except (ClipError, OSError) as error:
        raise StudioError("continue.no_clip") from error
