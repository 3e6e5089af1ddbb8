"""TakesRepo: the take state machine, external ids and claims — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.domain.states import IllegalTransition, TakeState
from storage.db import Database
from storage.models import utcnow
from storage.uow import UnitOfWork
from tests.integration.storage.rows import add_take, project_with_shot


async def test_take_transitions_are_stamped(database: Database) -> None:
    _, shot_id, revision_id = await project_with_shot(database)
    take_id = await add_take(database, shot_id, revision_id)
    for status in (
        TakeState.SUBMITTING,
        TakeState.SUBMITTED,
        TakeState.RENDERING,
        TakeState.DOWNLOADING,
        TakeState.DELIVERING,
    ):
        async with database.session() as session:
            uow = UnitOfWork(session)
            take = await uow.takes.get_take(take_id)
            assert take is not None
            await uow.takes.transition_take(take, status)
    async with database.session() as session:
        uow = UnitOfWork(session)
        take = await uow.takes.get_take(take_id)
        assert take is not None
        await uow.takes.transition_take(take, TakeState.DELIVERED)
    async with database.session() as session:
        uow = UnitOfWork(session)
        events = await uow.takes.take_events(take_id)
        take = await uow.takes.get_take(take_id)
    assert [e.status for e in events] == [
        "queued",
        "submitting",
        "submitted",
        "rendering",
        "downloading",
        "delivering",
        "delivered",
    ]
    assert take is not None and take.submitted_at and take.delivered_at and take.finished_at


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), TakeState.DELIVERED),  # queued: nothing made, nothing to deliver
        ((TakeState.SUBMITTING, TakeState.SUBMITTED), TakeState.QUEUED),  # paid for upstream
        ((TakeState.CANCELLED,), TakeState.SUBMITTING),  # over
    ],
)
async def test_an_illegal_move_is_refused_and_writes_nothing(
    database: Database, path: tuple[TakeState, ...], illegal: TakeState
) -> None:
    _, shot_id, revision_id = await project_with_shot(database)
    take_id = await add_take(database, shot_id, revision_id)
    async with database.session() as session:
        uow = UnitOfWork(session)
        take = await uow.takes.get_take(take_id)
        assert take is not None
        for status in path:
            await uow.takes.transition_take(take, status)
    expected = path[-1] if path else TakeState.QUEUED
    with pytest.raises(IllegalTransition) as raised:
        async with database.session() as session:
            uow = UnitOfWork(session)
            take = await uow.takes.get_take(take_id, for_update=True)
            assert take is not None
            await uow.takes.transition_take(take, illegal, "should not happen")
    assert (raised.value.take_id, raised.value.current, raised.value.to) == (
        take_id,
        expected,
        illegal,
    )
    async with database.session() as session:
        uow = UnitOfWork(session)
        take = await uow.takes.get_take(take_id)
        events = await uow.takes.take_events(take_id)
    assert take is not None and take.status == expected
    assert [e.status for e in events] == [TakeState.QUEUED, *path]


async def test_external_ids_are_unique(database: Database) -> None:
    _, shot_id, revision_id = await project_with_shot(database)
    external = str(uuid.uuid4())
    async with database.session() as session:
        await UnitOfWork(session).takes.add_take(
            shot_id=shot_id,
            revision_id=revision_id,
            provider="kling",
            model="m",
            external_id=external,
        )
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            await UnitOfWork(session).takes.add_take(
                shot_id=shot_id,
                revision_id=revision_id,
                provider="kling",
                model="m",
                external_id=external,
            )


async def test_only_one_runner_holds_a_take(database: Database) -> None:
    _, shot_id, revision_id = await project_with_shot(database)
    ids = [await add_take(database, shot_id, revision_id) for _ in range(3)]
    async with database.session() as session:
        first = await UnitOfWork(session).takes.claim_due_takes(
            "a", limit=10, lease=timedelta(seconds=60)
        )
    async with database.session() as session:
        second = await UnitOfWork(session).takes.claim_due_takes(
            "b", limit=10, lease=timedelta(seconds=60)
        )
    assert sorted(first) == ids and second == []
    # An expired lease is up for grabs: its holder is presumed dead.
    async with database.session() as session:
        later = utcnow() + timedelta(seconds=120)
        third = await UnitOfWork(session).takes.claim_due_takes(
            "b", limit=10, lease=timedelta(seconds=60), now=later
        )
    assert sorted(third) == ids


async def test_finished_and_future_takes_are_not_claimed(database: Database) -> None:
    _, shot_id, revision_id = await project_with_shot(database)
    done = await add_take(database, shot_id, revision_id, status="delivered")
    later = await add_take(
        database, shot_id, revision_id, next_attempt_at=utcnow() + timedelta(minutes=5)
    )
    async with database.session() as session:
        claimed = await UnitOfWork(session).takes.claim_due_takes(
            "a", limit=10, lease=timedelta(seconds=60)
        )
    assert done not in claimed and later not in claimed


async def test_a_per_user_cap_of_zero_or_none_holds_no_take_back(database: Database) -> None:
    """The cap of takes at work per user applies when it is set; 0, like None, is no cap."""
    _, shot_id, revision_id = await project_with_shot(database)
    ids = [await add_take(database, shot_id, revision_id, requested_by=42) for _ in range(3)]
    claimed = {}
    for runner, cap in (("a", 1), ("b", 0), ("c", None)):
        async with database.session() as session:
            claimed[cap] = await UnitOfWork(session).takes.claim_due_takes(
                runner, limit=10, lease=timedelta(seconds=60), per_user=cap, now=utcnow()
            )
            await session.rollback()  # each runner asks of the same queue
    assert claimed[1] == ids[:1]
    assert sorted(claimed[0]) == ids and sorted(claimed[None]) == ids
