"""Who may spend and how much, under concurrency, on real databases: one press makes one
take, only its author or an admin cancels it, and one user's queue never starves others."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.errors import StudioError
from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.services import Services
from storage.db import Database
from storage.models import ProcessedUpdate, Take, utcnow
from storage.uow import UnitOfWork
from tests.integration.test_budget_quotas import GROUP, USER, ledger, revisions, services_for

ADMIN, MEMBER = USER + 10, USER + 11


async def take_count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count(Take.id))) or 0)


# --- one press, one take ------------------------------------------------------------------


async def test_twenty_parallel_presses_of_one_generate_button_make_one_take(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path)
    [revision] = await revisions(database, USER, 1)
    actor = Actor(USER, USER)
    # Twenty callback updates (twenty query ids) for the same button, all at once.
    results = await asyncio.gather(
        *(
            services.generation.request_take(actor, revision, request_key=f"cb:{i}")
            for i in range(20)
        )
    )
    assert sum(result.created for result in results) == 1
    assert len({result.take.id for result in results}) == 1
    assert await take_count(database) == 1
    assert await ledger(database) == {"reserved": 1.0}


# --- cancel rules -------------------------------------------------------------------------


async def group_take(database: Database, tmp_path: Path, by: int) -> tuple[Services, int]:
    services = services_for(database, tmp_path)
    [revision] = await revisions(database, GROUP, 1, user_id=by)
    take = await services.generation.request_take(Actor(by, GROUP, "supergroup"), revision)
    return services, take.take.id


def status_is(status: str):  # type: ignore[no-untyped-def]
    async def fetch() -> str:
        return status

    return fetch


async def test_a_member_cannot_cancel_an_admins_take(database: Database, tmp_path: Path) -> None:
    services, take_id = await group_take(database, tmp_path, ADMIN)
    member = Actor(MEMBER, GROUP, "supergroup")
    with pytest.raises(StudioError) as refused:
        await services.generation.cancel_take(member, take_id, fetch_status=status_is("member"))
    assert refused.value.key == "take.cancel_not_allowed"
    async with database.session() as session:
        take = await UnitOfWork(session).takes.get_take(take_id)
    assert take is not None and take.status == "queued"
    assert await ledger(database) == {"reserved": 1.0}


async def test_the_author_and_a_group_admin_may_cancel(database: Database, tmp_path: Path) -> None:
    services, mine = await group_take(database, tmp_path, MEMBER)
    member = Actor(MEMBER, GROUP, "supergroup")
    assert await services.generation.cancel_take(member, mine, fetch_status=status_is("member"))
    [revision] = await revisions(database, GROUP, 1, user_id=MEMBER)
    theirs = (await services.generation.request_take(member, revision)).take.id
    admin = Actor(ADMIN, GROUP, "supergroup")
    assert await services.generation.cancel_take(
        admin, theirs, fetch_status=status_is("administrator")
    )
    assert await ledger(database) == {"refunded": 2.0}


# --- fairness -----------------------------------------------------------------------------


async def queue_takes(database: Database, user_id: int, count: int) -> list[int]:
    """`count` queued takes by `user_id`, in one project of their private chat."""
    [revision] = await revisions(database, user_id, 1, user_id=user_id)
    async with database.session() as session:
        uow = UnitOfWork(session)
        stored = await uow.shots.get_revision(revision)
        assert stored is not None
        ids = []
        for i in range(count):
            take = await uow.takes.add_take(
                shot_id=stored.shot_id,
                revision_id=revision,
                requested_by=user_id,
                provider="kling",
                model="m",
                params={},
                external_id=f"{user_id}-{i}",
                status="queued",
                next_attempt_at=utcnow() - timedelta(seconds=1),
            )
            ids.append(take.id)
        return ids


async def in_flight(database: Database, user_id: int) -> int:
    async with database.session() as session:
        return int(
            await session.scalar(
                select(func.count(Take.id)).where(
                    Take.requested_by == user_id,
                    Take.status.not_in(("queued", "delivered", "failed", "cancelled")),
                )
            )
            or 0
        )


async def test_one_users_fifty_takes_do_not_delay_anothers_first(database: Database) -> None:
    heavy, light = USER + 20, USER + 21
    await queue_takes(database, heavy, 50)
    [first_light] = await queue_takes(database, light, 1)
    lease = timedelta(seconds=60)
    async with database.session() as session:
        first = await UnitOfWork(session).takes.claim_due_takes(
            "r1", limit=2, lease=lease, per_user=3
        )
    assert first_light in first

    # Claimed takes move on (past 'queued'); the heavy user never has more than 3 in flight.
    async def advance(ids: list[int]) -> None:
        async with database.session() as session:
            uow = UnitOfWork(session)
            for take_id in ids:
                take = await uow.takes.get_take(take_id)
                assert take is not None
                if take.status == TakeState.QUEUED:
                    await uow.takes.transition_take(take, TakeState.SUBMITTING)
                await uow.takes.release_lease(take_id, "r1")

    await advance(first)
    for _ in range(5):
        async with database.session() as session:
            claimed = await UnitOfWork(session).takes.claim_due_takes(
                "r1", limit=10, lease=lease, per_user=3
            )
        await advance(claimed)
        assert await in_flight(database, heavy) == 3


async def test_queue_position_counts_only_the_takes_served_before(database: Database) -> None:
    heavy, light = USER + 30, USER + 31
    await queue_takes(database, heavy, 20)
    [light_take] = await queue_takes(database, light, 1)
    async with database.session() as session:
        uow = UnitOfWork(session)
        take = await uow.takes.get_take(light_take)
        assert take is not None
        # Round-robin: only the heavy user's first take comes before the light user's.
        assert await uow.takes.queue_position(take) == 1


# --- housekeeping -------------------------------------------------------------------------


async def test_old_processed_update_ids_are_pruned_and_recent_ones_stay(
    database: Database,
) -> None:
    now = utcnow()
    async with database.session() as session:
        for update_id, age in ((1, timedelta(days=3)), (2, timedelta(days=2, hours=1))):
            session.add(ProcessedUpdate(update_id=update_id, received_at=now - age))
        session.add(ProcessedUpdate(update_id=3, received_at=now - timedelta(hours=1)))
        await UnitOfWork(session).chats.mark_update_processed(4)
    async with database.session() as session:
        removed = await UnitOfWork(session).chats.prune_processed_updates(
            older_than=now - timedelta(days=2), limit=1000
        )
    assert removed == 2
    async with database.session() as session:
        left = sorted((await session.execute(select(ProcessedUpdate.update_id))).scalars())
    assert left == [3, 4]


async def test_the_runner_prunes_processed_updates_in_bounded_batches(
    database: Database, tmp_path: Path
) -> None:
    from bot.runner import RunnerPolicy
    from bot.wiring import build_runner

    now = utcnow()
    async with database.session() as session:
        for update_id in range(1, 8):
            session.add(ProcessedUpdate(update_id=update_id, received_at=now - timedelta(days=3)))
        session.add(ProcessedUpdate(update_id=100, received_at=now))
    policy = RunnerPolicy(tick_s=0.05, prune_batch=3)
    runner = build_runner(database, {}, None, clips_dir=tmp_path, policy=policy)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        for _ in range(100):
            async with database.session() as session:
                left = sorted((await session.execute(select(ProcessedUpdate.update_id))).scalars())
            if left == [100]:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert left == [100]


async def test_two_runners_serve_users_in_turn_and_hold_each_to_three_at_work(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    """Two runners (PostgreSQL: two engines, SKIP LOCKED) share one queue: A queues 12, then
    B queues 1; B's take starts among the first, and A never has more than 3 at work."""
    from bot.domain.types import Sender
    from bot.media.sample import sample_photo
    from bot.providers.kling.client import KlingVideoProvider
    from bot.providers.offline.drafter import OfflineDrafter
    from bot.providers.offline.video import OfflineVideoProvider
    from bot.runner import RunnerPolicy
    from bot.wiring import build_runner, build_use_cases
    from storage.models import TakeEvent
    from tests.conftest import make_settings
    from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling
    from tests.integration.test_jobs import RecordingObserver

    heavy, light = USER + 40, USER + 41
    offline = {"offline": OfflineVideoProvider()}
    services = build_use_cases(
        make_settings(tmp_path),
        database,
        OfflineDrafter(),
        offline,
        "offline",  # type: ignore[arg-type]
    )

    async def queue(user_id: int, count: int) -> list[int]:
        actor = await services.accounts.enter(Sender(user_id=user_id, chat_id=user_id))
        outcome = await services.drafting.add_photo(
            actor, sample_photo(width=480, height=360), "boats"
        )
        assert outcome.revision is not None
        async with database.session() as session:
            uow = UnitOfWork(session)
            return [
                (
                    await uow.takes.add_take(
                        shot_id=outcome.shot.id,
                        revision_id=outcome.revision.id,
                        requested_by=user_id,
                        provider="kling",
                        model="kling-v2-5-turbo",
                        params={"mode": "std", "duration": 5},
                        external_id=f"fair-{user_id}-{n}",
                        status="queued",
                    )
                ).id
                for n in range(count)
            ]

    policy = RunnerPolicy(
        poll_interval_s=0.05, queue_recheck_s=0.05, lease_s=10, tick_s=0.05, backoff_base_s=0.05
    )
    heavy_ids = await queue(heavy, 12)
    [light_id] = await queue(light, 1)
    with FakeKling(task_seconds=0.3) as fake:
        databases = (
            [database, Database.from_url(database_url)]
            if database.is_postgres
            else [
                database,
                database,
            ]
        )
        providers = [KlingVideoProvider(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, fake.url) for _ in "ab"]
        runners = [
            build_runner(
                db,
                {"kling": provider},
                RecordingObserver(),
                clips_dir=tmp_path / name,
                caps={"kling": 8},
                policy=policy,
                owner=name,
            )
            for db, provider, name in zip(
                databases, providers, ("runner-a", "runner-b"), strict=True
            )
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(runner.run(stop)) for runner in runners]
        try:
            async with asyncio.timeout(90):
                while True:
                    async with database.session() as session:
                        left = await session.scalar(
                            select(func.count(Take.id)).where(
                                Take.status.not_in(("delivered", "failed", "cancelled"))
                            )
                        )
                    if left == 0:
                        break
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for provider in providers:
                await provider.aclose()
            if databases[1] is not database:
                await databases[1].dispose()

    async with database.session() as session:
        takes = {t.id: t for t in (await session.execute(select(Take))).scalars()}
        events = list((await session.execute(select(TakeEvent).order_by(TakeEvent.at))).scalars())
    assert {t.status for t in takes.values()} == {"delivered"}
    started = {e.take_id: e.at for e in events if e.status == "submitting"}
    # B's take started before A's fourth.
    assert started[light_id] < sorted(started[i] for i in heavy_ids)[3]
    # Replay the events: at no moment were more than 3 of A's takes past 'queued'.
    at_work = peak = 0
    for event in events:
        if takes[event.take_id].requested_by != heavy:
            continue
        if event.status == "submitting":
            at_work += 1
        elif event.status in ("delivered", "failed", "cancelled"):
            at_work -= 1
        peak = max(peak, at_work)
    assert peak == 3


async def test_a_still_reservation_left_by_a_crash_is_refunded_by_housekeeping(
    database: Database, tmp_path: Path
) -> None:
    """A process that dies while a clay still is being made never settles its reservation:
    the runner's housekeeping refunds it once it is older than any still can take, and
    leaves a fresh one (a still being made right now) alone."""
    from bot.wiring import build_runner
    from storage.models import UsageEntry

    services = services_for(database, tmp_path)
    stale, _ = await services.accounts.budget.reserve_units(1.0, USER, None, kind="still")
    assert stale.enough
    async with database.session() as session:
        old = await session.scalar(select(UsageEntry).where(UsageEntry.kind == "still"))
        assert old is not None
        old.created_at = utcnow() - timedelta(minutes=16)
    _, fresh_entry = await services.accounts.budget.reserve_units(1.0, USER, None, kind="still")
    runner = build_runner(database, {}, None, clips_dir=tmp_path)  # type: ignore[arg-type]
    await runner.housekeeping()
    async with database.session() as session:
        rows = await session.execute(select(UsageEntry.id, UsageEntry.state))
        states = {entry_id: state for entry_id, state in rows.all()}
    assert states[fresh_entry] == "reserved"
    assert sorted(states.values()) == ["refunded", "reserved"]
    assert await ledger(database) == {"refunded": 1.0, "reserved": 1.0}


# --- who may change what in a group -------------------------------------------------------


async def test_a_member_cannot_cancel_or_drop_someone_elses_shot(
    database: Database, tmp_path: Path
) -> None:
    """✖ Cancel on a draft and /drop follow the take's cancel rule: the shot's author, a
    group admin or an operator; any other member is refused and the shot stays."""

    services = services_for(database, tmp_path)
    [revision] = await revisions(database, GROUP, 1, user_id=ADMIN)
    shot_id = (
        await services.drafting.revision_by_id(Actor(ADMIN, GROUP, "supergroup"), revision)
    ).shot_id
    member = Actor(MEMBER, GROUP, "supergroup")
    with pytest.raises(StudioError) as refused:
        await services.drafting.cancel_shot(member, shot_id, fetch_status=status_is("member"))
    assert refused.value.key == "shot.cancel_not_allowed"
    with pytest.raises(StudioError) as dropped:
        await services.projects.drop(member, 1, fetch_status=status_is("member"))
    assert dropped.value.key == "shot.cancel_not_allowed"
    assert (await services.drafting.shot_by_id(member, shot_id)).status != "cancelled"
    board = await services.projects.board(member)
    assert [item.shot.id for item in board.shots] == [shot_id]

    admin = Actor(ADMIN + 5, GROUP, "supergroup")  # another admin, not the author
    await services.drafting.cancel_shot(admin, shot_id, fetch_status=status_is("administrator"))
    assert (await services.drafting.shot_by_id(member, shot_id)).status == "cancelled"


async def test_in_an_admins_only_group_a_member_cannot_change_what_generate_costs(
    database: Database, tmp_path: Path
) -> None:
    """⚙️ Settings decide what a take costs and become the group's defaults: where only
    admins Generate, only admins change them."""
    services = services_for(database, tmp_path)
    [revision] = await revisions(database, GROUP, 1, user_id=ADMIN)
    await services.groups.set_policy(GROUP, "admins")
    async with database.session() as session:
        await UnitOfWork(session).chats.upsert_user(MEMBER, first_name="Mo")
    member = Actor(MEMBER, GROUP, "supergroup")
    with pytest.raises(StudioError) as refused:
        await services.drafting.change_setting(
            member, revision, "mode", "pro", fetch_status=status_is("member")
        )
    assert refused.value.key == "group.generate_admins_only"
    async with database.session() as session:
        chat = await UnitOfWork(session).chats.get_chat(GROUP)
    assert chat is not None and "mode" not in (chat.settings or {})
    admin = Actor(ADMIN, GROUP, "supergroup")
    changed = await services.drafting.change_setting(
        admin, revision, "mode", "pro", fetch_status=status_is("administrator")
    )
    assert changed.params["mode"] == "pro"
    # Where everyone may Generate, everyone may change the settings too.
    await services.groups.set_policy(GROUP, "everyone")
    again = await services.drafting.change_setting(
        member, changed.id, "mode", "std", fetch_status=status_is("member")
    )
    assert again.params["mode"] == "std"
