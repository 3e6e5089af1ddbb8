"""Storage round trips, on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.domain.states import IllegalTransition, TakeState
from storage.db import Database
from storage.models import PromptRevision, Shot, Take, TakeEvent, utcnow
from storage.uow import UnitOfWork


async def _project_with_shot(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(42, first_name="Lin", language_code="zh-hans")
        await uow.chats.upsert_chat(42, type="private")
        project = await uow.projects.create_project(42, "Shanghai in clay", 42)
        shot = await uow.projects.add_shot(
            project.id,
            created_by=42,
            description="The Bund at dusk",
            photo_path="/tmp/x.jpg",
            photo_width=1280,
            photo_height=960,
            source_format="JPEG",
            facts={"orientation": "landscape"},
        )
        revision = await uow.projects.add_revision(
            shot,
            prompt="Clay boats glide",
            negative_prompt="blurry",
            params={"duration": 5, "camera_move": "push_in"},
            drafter="offline",
            created_by=42,
        )
        return project.id, shot.id, revision.id


async def _add_take(db: Database, shot_id: int, revision_id: int, **fields: object) -> int:
    async with db.session() as session:
        take = await UnitOfWork(session).takes.add_take(
            shot_id=shot_id,
            revision_id=revision_id,
            provider=fields.pop("provider", "kling"),
            model="kling-v2-5-turbo",
            external_id=str(uuid.uuid4()),
            **fields,
        )
        return take.id


async def test_a_project_with_a_shot_revision_and_take_round_trips(database: Database) -> None:
    project_id, shot_id, revision_id = await _project_with_shot(database)
    take_id = await _add_take(
        database, shot_id, revision_id, params={"mode": "std"}, chat_id=42, cost_units=1.5
    )
    async with database.session() as session:
        uow = UnitOfWork(session)
        shot = await uow.projects.get_shot(shot_id)
        assert shot is not None and shot.position == 1
        assert shot.current_revision_id == revision_id
        chat = await uow.chats.get_chat(42)
        assert chat is not None and chat.current_project_id == project_id
        take = await uow.takes.get_take(take_id)
        assert take is not None
        assert take.status == "queued" and take.params == {"mode": "std"}
        assert take.created_at.tzinfo is not None  # UTC-aware on both backends
        assert take.cost_units == 1.5
        user = await uow.chats.get_user(42)
        assert user is not None and user.language_code == "zh-hans"


async def test_take_transitions_are_stamped(database: Database) -> None:
    _, shot_id, revision_id = await _project_with_shot(database)
    take_id = await _add_take(database, shot_id, revision_id)
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
    _, shot_id, revision_id = await _project_with_shot(database)
    take_id = await _add_take(database, shot_id, revision_id)
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
    _, shot_id, revision_id = await _project_with_shot(database)
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
    _, shot_id, revision_id = await _project_with_shot(database)
    ids = [await _add_take(database, shot_id, revision_id) for _ in range(3)]
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
    _, shot_id, revision_id = await _project_with_shot(database)
    done = await _add_take(database, shot_id, revision_id, status="delivered")
    later = await _add_take(
        database, shot_id, revision_id, next_attempt_at=utcnow() + timedelta(minutes=5)
    )
    async with database.session() as session:
        claimed = await UnitOfWork(session).takes.claim_due_takes(
            "a", limit=10, lease=timedelta(seconds=60)
        )
    assert done not in claimed and later not in claimed


async def test_a_redelivered_update_is_recognised(database: Database) -> None:
    async with database.session() as session:
        assert await UnitOfWork(session).chats.mark_update_processed(1001) is True
    async with database.session() as session:
        assert await UnitOfWork(session).chats.mark_update_processed(1001) is False
        assert await UnitOfWork(session).chats.mark_update_processed(1002) is True


async def test_an_album_is_answered_once(database: Database) -> None:
    async with database.session() as session:
        await UnitOfWork(session).chats.touch_media_group(7, "album-1")
    quiet = utcnow() + timedelta(seconds=1)
    async with database.session() as session:
        first = await UnitOfWork(session).chats.claim_media_group_answer(7, "album-1", quiet)
    async with database.session() as session:
        second = await UnitOfWork(session).chats.claim_media_group_answer(7, "album-1", quiet)
    assert (first, second) == (True, False)


async def test_projects_list_counts_shots_and_clips(database: Database) -> None:
    project_id, shot_id, revision_id = await _project_with_shot(database)
    await _add_take(database, shot_id, revision_id, status="delivered")
    await _add_take(database, shot_id, revision_id, status="failed")
    async with database.session() as session:
        uow = UnitOfWork(session)
        await uow.projects.create_project(42, "Second", 42)
        summaries = await uow.projects.list_projects(42)
    by_title = {s.project.title: s for s in summaries}
    assert by_title["Shanghai in clay"].shots == 1
    assert by_title["Shanghai in clay"].clips == 1
    assert by_title["Second"].shots == 0
    assert summaries[0].project.title == "Second"  # newest first


async def test_deleting_a_project_removes_its_rows(database: Database) -> None:
    project_id, shot_id, revision_id = await _project_with_shot(database)
    await _add_take(database, shot_id, revision_id)
    async with database.session() as session:
        project = await UnitOfWork(session).projects.get_project(project_id)
        await session.delete(project)
    async with database.session() as session:
        for model in (Shot, PromptRevision, Take, TakeEvent):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_revision_chain_is_oldest_first(database: Database) -> None:
    _, shot_id, first_id = await _project_with_shot(database)
    async with database.session() as session:
        uow = UnitOfWork(session)
        shot = await uow.projects.get_shot(shot_id)
        assert shot is not None
        second = await uow.projects.add_revision(
            shot, parent_id=first_id, prompt="slower", drafter="offline", instruction="slower"
        )
        chain = await uow.projects.revision_chain(second)
    assert [r.number for r in chain] == [1, 2]
    assert chain[-1].instruction == "slower"


async def test_migrations_are_idempotent(database_url: str) -> None:
    db = Database.from_url(database_url)
    try:
        await db.upgrade()  # already at head: a no-op, not an error
    finally:
        await db.dispose()


async def test_concurrent_first_contact_creates_one_user(database: Database) -> None:
    import asyncio

    async def contact() -> None:
        async with database.session() as session:
            await UnitOfWork(session).chats.upsert_user(99, first_name="Ann")

    await asyncio.gather(*(contact() for _ in range(4)))
    async with database.session() as session:
        assert (await UnitOfWork(session).chats.get_user(99)) is not None
