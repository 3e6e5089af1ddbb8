"""Votes for takes in a group, on real databases (concurrent voters included)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from bot.domain.types import Actor
from storage.db import Database
from storage.uow import UnitOfWork
from tests.integration.test_budget_quotas import revisions, services_for

GROUP = -1_007_000_000_001


async def delivered_takes(db: Database, revision_id: int, count: int) -> list[int]:
    async with db.session() as session:
        uow = UnitOfWork(session)
        revision = await uow.shots.get_revision(revision_id)
        assert revision is not None
        ids = []
        for _ in range(count):
            take = await uow.takes.add_take(
                shot_id=revision.shot_id,
                revision_id=revision.id,
                provider="kling",
                model="kling-v2-5-turbo",
                external_id=str(uuid.uuid4()),
                status="delivered",
            )
            ids.append(take.id)
        return ids


async def test_the_most_voted_take_is_kept_until_an_admin_picks(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path)
    [revision_id] = await revisions(database, GROUP, 1)
    first, second = await delivered_takes(database, revision_id, 2)
    voters = [Actor(9_000 + i, GROUP, "supergroup") for i in range(12)]

    # Eight members vote at once for the second take, four for the first.
    await asyncio.gather(
        *(
            services.groups.vote(a, second if i < 8 else first, admin=False)
            for i, a in enumerate(voters)
        )
    )
    assert await kept(database, second) == (second, False)
    again = await services.groups.vote(voters[0], second, admin=False)  # one vote per member
    assert (again.votes, again.kept_take_id) == (8, second)
    moved = await services.groups.vote(
        voters[0], first, admin=False
    )  # a member changes their mind
    assert (moved.votes, moved.kept_take_id) == (5, second)

    picked = await services.groups.vote(voters[11], first, admin=True)
    assert picked.kept_take_id == first
    later = await services.groups.vote(voters[1], second, admin=False)  # votes no longer move it
    assert later.kept_take_id == first
    assert await kept(database, second) == (first, True)


async def kept(db: Database, take_id: int) -> tuple[int | None, bool]:
    """The shot's kept take, and whether an admin picked it."""
    async with db.session() as session:
        take = await UnitOfWork(session).takes.get_take(take_id)
        assert take is not None
        shot = await UnitOfWork(session).shots.get_shot(take.shot_id)
    assert shot is not None
    return shot.kept_take_id, shot.kept_by_admin
