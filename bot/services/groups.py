"""A group as a shared studio: members vote for takes with ⭐, the most-voted one is kept.

An admin's ⭐ picks the kept take outright; after that votes still count but no longer
move it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.errors import StudioError
from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.services.studio import Studio
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    take_id: int
    votes: int  # votes for this take now
    kept_take_id: int | None


async def vote(studio: Studio, actor: Actor, take_id: int, *, admin: bool) -> VoteOutcome:
    """Record the member's ⭐ for this take and settle which take the shot keeps."""
    await studio.take_by_id(actor, take_id)  # the take belongs to this chat
    async with studio.db.session() as session:
        uow = UnitOfWork(session)
        take = await uow.takes.get_take(take_id)
        if take is None or take.status != TakeState.DELIVERED:
            raise StudioError("take.not_found")
        shot = await uow.projects.lock_shot(take.shot_id)
        assert shot is not None
        await uow.takes.vote(shot.id, actor.user_id, take.id)
        counts = await uow.takes.vote_counts(shot.id)
        if admin:
            shot.kept_take_id, shot.kept_by_admin = take.id, True
        elif not shot.kept_by_admin:
            # Most votes wins; on a tie the earlier take stays.
            shot.kept_take_id = min(counts, key=lambda t: (-counts[t], t))
        return VoteOutcome(take.id, counts.get(take.id, 0), shot.kept_take_id)
