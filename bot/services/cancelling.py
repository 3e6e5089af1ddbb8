"""/cancel: stop what the user has waiting in this chat, with an answer saying what.

Their newest take still in the queue goes first (it is what holds money: cancelling it
returns the reservation, as ✖ on its status message does); else their newest draft never
generated is dropped, as its ✖ does. A take already at the provider cannot be stopped,
and the answer says so. Only the user's own work: /cancel never touches anyone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.services.drafting import Drafting
from bot.services.generation import Generation
from storage.db import Database


class Outcome(StrEnum):
    TAKE = "take"  # a queued take was cancelled (its reservation returned)
    DRAFT = "draft"  # a draft was dropped
    BUSY = "busy"  # the newest take is already being made: nothing to stop
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class Cancelled:
    outcome: Outcome
    position: int | None = None  # the shot's number in its project
    take_id: int | None = None
    status_message: tuple[int, int] | None = None  # (chat, message) showing the take


class Cancelling:
    """/cancel for one user in one chat."""

    def __init__(self, db: Database, generation: Generation, drafting: Drafting) -> None:
        self.db = db
        self.generation = generation
        self.drafting = drafting

    async def cancel_latest(self, actor: Actor) -> Cancelled:
        """Cancel the actor's queued take, else drop their ungenerated draft."""
        async with self.db.unit_of_work() as uow:
            take = await uow.pending.latest_unfinished_take(actor.chat_id, actor.user_id)
            shot = await uow.pending.latest_ungenerated_shot(actor.chat_id, actor.user_id)
            take_shot = await uow.shots.get_shot(take.shot_id) if take else None
        if take is not None and take.status == TakeState.QUEUED:
            # Re-checked under a row lock there: the runner may have just picked it up.
            if await self.generation.cancel_take(actor, take.id):
                where = (
                    (take.chat_id, take.status_message_id)
                    if take.chat_id is not None and take.status_message_id is not None
                    else None
                )
                position = take_shot.position if take_shot else None
                return Cancelled(Outcome.TAKE, position, take.id, where)
        if shot is not None:
            await self.drafting.cancel_shot(actor, shot.id)
            return Cancelled(Outcome.DRAFT, shot.position)
        if take is not None:
            return Cancelled(Outcome.BUSY, take_shot.position if take_shot else None, take.id)
        return Cancelled(Outcome.NOTHING)
