"""A group as a shared studio: who may press Generate, and ⭐ votes for the kept take.

A group's /generate rule says whether every member or only admins may start paid work
(bot.services.permissions enforces it). Members vote for takes with ⭐ and the most-voted
one is kept; an admin's ⭐ picks the kept take outright, and after that votes still count
but no longer move it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.errors import StudioError
from bot.domain.states import CLIP_READY_STATES
from bot.domain.types import Actor
from bot.services.permissions import GENERATE_POLICIES, FetchStatus, Permissions
from storage.db import Database


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    take_id: int
    votes: int  # votes for this take now
    kept_take_id: int | None


class Groups:
    """A group's Generate rule and its votes."""

    def __init__(self, db: Database, permissions: Permissions) -> None:
        self.db = db
        self.permissions = permissions

    async def policy(self, chat_id: int) -> str:
        """/generate: "everyone" (the default) or "admins"."""
        return await self.permissions.generate_policy(chat_id)

    async def set_policy(self, chat_id: int, policy: str) -> None:
        """/generate everyone|admins (the chat front end checks that an admin asked)."""
        if policy not in GENERATE_POLICIES:
            raise ValueError(policy)
        async with self.db.unit_of_work() as uow:
            await uow.chats.set_chat_setting(chat_id, "generate", policy)

    async def is_admin(self, actor: Actor, fetch_status: FetchStatus) -> bool:
        """Whether the actor administers their group (operators count as admins)."""
        return await self.permissions.is_chat_admin(actor.chat_id, actor.user_id, fetch_status)

    async def vote(self, actor: Actor, take_id: int, *, admin: bool) -> VoteOutcome:
        """Record the member's ⭐ for this take and settle which take the shot keeps."""
        async with self.db.unit_of_work() as uow:
            take = await self.permissions.take(uow, actor, take_id)  # this chat's take
            if take.status not in CLIP_READY_STATES:
                raise StudioError("take.not_found")
            shot = await uow.shots.lock_shot(take.shot_id)
            assert shot is not None
            await uow.takes.vote(shot.id, actor.user_id, take.id)
            counts = await uow.takes.vote_counts(shot.id)
            if admin:
                shot.kept_take_id, shot.kept_by_admin = take.id, True
            elif not shot.kept_by_admin:
                # Most votes wins; on a tie the earlier take stays.
                shot.kept_take_id = min(counts, key=lambda t: (-counts[t], t))
            return VoteOutcome(take.id, counts.get(take.id, 0), shot.kept_take_id)
