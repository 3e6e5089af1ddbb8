"""Albums: their answer once the photos stop coming, and 🎬 Generate all.

Generate all is one press that queues a take for every drafted shot, or none.

The quota is checked for the whole album before anything is queued, and again by each
take's own reservation (another press may have spent meanwhile). If any take cannot be
queued, the takes this press already queued are cancelled, which returns what they
reserved: the album is all or nothing. Takes are queued waiting for their status
messages, so the runner cannot start one before that decision is made.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.errors import StudioError
from bot.domain.records import TakeRecord
from bot.domain.states import IllegalTransition, ShotState
from bot.domain.types import Actor
from bot.services.budget import Budget
from bot.services.generation import Generation
from bot.services.permissions import FetchStatus, Permissions
from storage.db import Database
from storage.models import Shot, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlbumShotTake:
    """One shot's outcome: its take, and whether this press queued it (False: it was
    already being made)."""

    position: int
    take: TakeRecord
    queued: bool
    photo_message_id: int | None


class Albums:
    """An album's shots, and a take per drafted shot of it, queued as one decision."""

    def __init__(
        self, db: Database, permissions: Permissions, generation: Generation, budget: Budget
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.generation = generation
        self.budget = budget

    async def note_album_photo(self, chat_id: int, media_group_id: str) -> None:
        """One more photo of an album arrived: its answer waits until they stop coming."""
        async with self.db.unit_of_work() as uow:
            await uow.chats.touch_media_group(chat_id, media_group_id)

    async def claim_album(
        self, actor: Actor, media_group_id: str, quiet_for: float
    ) -> list[Shot] | None:
        """The album's shots if it has been quiet for `quiet_for` s and nobody answered yet."""
        quiet_since = utcnow() - timedelta(seconds=quiet_for)
        async with self.db.unit_of_work() as uow:
            if not await uow.chats.claim_media_group_answer(
                actor.chat_id, media_group_id, quiet_since
            ):
                return None
            return await uow.shots.order_album(actor.chat_id, media_group_id)

    async def album_shots(self, actor: Actor, shot_id: int) -> list[Shot]:
        """Every shot of the album `shot_id` came in (just it, if it came alone)."""
        async with self.db.unit_of_work() as uow:
            shot = await self.permissions.shot(uow, actor, shot_id)
            if not shot.media_group_id:
                return [shot]
            return await uow.shots.shots_in_media_group(actor.chat_id, shot.media_group_id)

    async def generate_all(
        self,
        actor: Actor,
        shot_id: int,
        *,
        request_key: str,
        chat_id: int,
        thread_id: int | None,
        fetch_status: FetchStatus | None = None,
    ) -> list[AlbumShotTake]:
        """Every drafted shot of `shot_id`'s album gets a take, or the press changes nothing."""
        await self.permissions.check_may_spend(actor, fetch_status)
        async with self.db.unit_of_work() as uow:
            first = await self.permissions.shot(uow, actor, shot_id)
            shots = (
                await uow.shots.shots_in_media_group(actor.chat_id, first.media_group_id)
                if first.media_group_id
                else [first]
            )
            drafted = [
                (s, revision)
                for s in shots
                if s.status == ShotState.DRAFTED
                and s.current_revision_id is not None
                and (revision := await uow.shots.get_revision(s.current_revision_id))
            ]
            if not drafted:
                raise StudioError("album.nothing_to_generate")
            group_id = actor.chat_id if actor.is_group else None
            # A shot already being made gets no second take: it costs nothing more. Each
            # is priced as its take will be (with the project's sound where it makes sound).
            total = 0.0
            sound: dict[int, bool] = {}  # per project, read once
            for shot, revision in drafted:
                if await uow.takes.active_take_for_revision(revision.id) is None:
                    if shot.project_id not in sound:
                        project = await uow.projects.get_project(shot.project_id)
                        sound[shot.project_id] = project is not None and project.sound
                    total += self.generation.price(revision.params, sound=sound[shot.project_id])
            # Bought credits pay where the free quota ends, as each take's reservation will.
            left = await self.budget.available(uow.accounts, actor.user_id, group_id)
        if left is not None and total > left + 1e-9:
            raise StudioError(
                "album.over_budget", count=len(drafted), cost=f"{total:g}", left=f"{left:g}"
            )
        outcomes: list[AlbumShotTake] = []
        try:
            for shot, revision in drafted:
                result = await self.generation.request_take(
                    actor,
                    revision.id,
                    request_key=f"{request_key}:{shot.id}",
                    chat_id=chat_id,
                    thread_id=thread_id,
                    reply_to_message_id=shot.message_id if shot.chat_id == chat_id else None,
                    status_message_pending=True,
                    fetch_status=fetch_status,
                )
                outcomes.append(
                    AlbumShotTake(shot.position, result.take, result.created, shot.message_id)
                )
        except StudioError as error:
            await self._undo(o.take.id for o in outcomes if o.queued)
            if error.key == "budget.exceeded":  # spent elsewhere since the check above
                raise StudioError(
                    "album.over_budget",
                    count=len(drafted),
                    cost=f"{total:g}",
                    left=error.params.get("left", "0"),
                ) from None
            raise
        return outcomes

    async def _undo(self, take_ids: Iterable[int]) -> None:
        for take_id in take_ids:
            try:
                await self.generation.abandon_take(take_id, "album: all or nothing")
            except IllegalTransition:  # a runner started it after all: it will be delivered
                log.warning("take %s of an album could not be taken back", take_id)
