"""The job runner against the fake Kling (real httpx) and a real database, SQLite and PostgreSQL.

What a user paid for must arrive once: every transition is stamped, the upstream task id
is kept, a create whose answer was lost is found instead of repeated, failures end with the
right reason, and the account's concurrency cap holds across the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.states import ACTIVE_UPSTREAM_STATES, TERMINAL_TAKE_STATES
from bot.domain.types import Actor, Delivery, ProgressUpdate, Sender
from bot.media.sample import sample_photo
from bot.providers.kling.client import KlingVideoProvider
from bot.providers.offline.drafter import OfflineDrafter
from bot.runner import JobRunner, RunnerPolicy
from bot.services import Services
from bot.wiring import build_runner, build_use_cases
from storage.db import Database
from storage.models import Take, TakeEvent
from storage.uow import UnitOfWork
from tests.conftest import make_settings
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling

FAST = RunnerPolicy(
    poll_interval_s=0.1,
    queue_recheck_s=0.1,
    lease_s=10,
    backoff_base_s=0.05,
    backoff_cap_s=0.2,
    tick_s=0.05,
    max_attempts=4,
)


@dataclass
class RecordingObserver:
    """Records what a user would have seen; `deliver` can be told to fail for some takes."""

    progress: list[tuple[int, ProgressUpdate]] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    finished: dict[int, str] = field(default_factory=dict)
    failing: set[int] = field(default_factory=set)

    async def on_progress(self, take: Take, update: ProgressUpdate) -> None:
        self.progress.append((take.id, update))

    async def deliver(self, take: Take) -> Delivery:
        if take.id in self.failing:
            raise RuntimeError("observer exploded")
        assert take.clip_path and Path(take.clip_path).stat().st_size > 0  # noqa: ASYNC240
        self.delivered.append(take.id)
        return Delivery(message_id=1000 + take.id, file_id=f"file-{take.id}")

    async def on_finished(self, take: Take) -> None:
        self.finished[take.id] = take.status


@dataclass
class Harness:
    db: Database
    services: Services
    fake: FakeKling
    provider: KlingVideoProvider
    observer: RecordingObserver
    tmp_path: Path
    actor: Actor | None = None

    def runner(self, *, cap: int = 5, policy: RunnerPolicy = FAST) -> JobRunner:
        return build_runner(
            self.db,
            {"kling": self.provider},
            self.observer,
            clips_dir=self.tmp_path / "clips",
            caps={"kling": cap},
            policy=policy,
        )

    async def queue_takes(self, count: int) -> list[int]:
        if self.actor is None:
            self.actor = await self.services.accounts.enter(
                Sender(user_id=501, chat_id=501, first_name="Lin")
            )
        ids = []
        photo = sample_photo(width=640, height=480)
        for n in range(count):
            outcome = await self.services.drafting.add_photo(
                self.actor, photo, f"boats glide, scene {n}"
            )
            assert outcome.revision is not None
            request = await self.services.generation.request_take(
                self.actor, outcome.revision.id, chat_id=501
            )
            ids.append(request.take.id)
        return ids

    async def take(self, take_id: int) -> Take:
        async with self.db.session() as session:
            take = await UnitOfWork(session).takes.get_take(take_id)
        assert take is not None
        return take

    async def events(self, take_id: int) -> list[TakeEvent]:
        async with self.db.session() as session:
            return await UnitOfWork(session).takes.take_events(take_id)

    async def wait_finished(self, ids: list[int], timeout: float = 30.0) -> list[Take]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                takes = [await self.take(i) for i in ids]
                if all(t.status in TERMINAL_TAKE_STATES for t in takes):
                    return takes
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(runner: JobRunner) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def kling_provider(fake: FakeKling, **options: object) -> KlingVideoProvider:
    defaults: dict[str, object] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}
    defaults.update(options)
    return KlingVideoProvider(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, fake.url, **defaults)  # type: ignore[arg-type]


@pytest.fixture
async def harness(database: Database, tmp_path: Path) -> AsyncIterator[Harness]:
    with FakeKling(task_seconds=0.4) as fake:
        settings = make_settings(
            tmp_path,
            kling_access_key=FAKE_ACCESS_KEY,
            kling_secret_key=FAKE_SECRET_KEY,
            kling_api_url=fake.url,
        )
        provider = kling_provider(fake, max_attempts=1, timeout=1.0)
        services = build_use_cases(
            settings, database, OfflineDrafter(), {"kling": provider}, "kling"
        )
        try:
            yield Harness(database, services, fake, provider, RecordingObserver(), tmp_path)
        finally:
            await provider.aclose()


async def test_take_walks_every_state_and_stamps_each(harness: Harness) -> None:
    [take_id] = await harness.queue_takes(1)
    async with running(harness.runner()):
        [take] = await harness.wait_finished([take_id])
    assert take.status == "delivered"
    assert take.delivered_message_id == 1000 + take_id and take.telegram_file_id
    assert take.submitted_at and take.delivered_at and take.finished_at
    statuses = [e.status for e in await harness.events(take_id)]
    assert statuses == [
        "queued",
        "submitting",
        "submitted",
        "rendering",
        "downloading",
        "delivering",
        "delivered",
    ]
    stats = harness.fake.stats()
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    assert take.upstream_task_id in stats["tasks"]
    assert harness.observer.delivered == [take_id]
    assert harness.observer.finished == {take_id: "delivered"}
    phases = [u.phase for i, u in harness.observer.progress if i == take_id]
    assert phases[0] == "submitted" and "rendering" in phases and phases[-1] == "delivering"


async def test_upstream_task_id_is_committed_right_after_create(harness: Harness) -> None:
    [take_id] = await harness.queue_takes(1)
    harness.fake.configure({"task_seconds": 30})  # it will not finish during this test
    runner = harness.runner()
    await runner.claim_and_start()
    async with asyncio.timeout(10):
        while (take := await harness.take(take_id)).status != "rendering":  # noqa: ASYNC110 - polls state in other threads/processes
            await asyncio.sleep(0.02)
    await runner.drain()
    [task_id] = harness.fake.stats()["tasks"]
    assert take.upstream_task_id == task_id
    events = await harness.events(take_id)
    assert [e.status for e in events][:3] == ["queued", "submitting", "submitted"]


async def test_create_that_timed_out_but_happened_is_found_not_repeated(harness: Harness) -> None:
    [take_id] = await harness.queue_takes(1)
    harness.fake.hang_create("delay", seconds=2.5)  # the provider gives up after 1 s
    async with running(harness.runner()):
        [take] = await harness.wait_finished([take_id])
    assert take.status == "delivered"
    stats = harness.fake.stats()
    assert stats["create_requests"] == 1
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    assert take.upstream_task_id in stats["tasks"]


async def test_transient_errors_are_retried_with_backoff_then_succeed(harness: Harness) -> None:
    [take_id] = await harness.queue_takes(1)
    harness.fake.configure({"task_seconds": 1.5})
    harness.fake.inject_create(5001, times=2)  # unavailable: nothing was created
    async with running(harness.runner()):
        async with asyncio.timeout(10):
            while (await harness.take(take_id)).status != "rendering":  # noqa: ASYNC110 - polls state in other threads/processes
                await asyncio.sleep(0.01)
        harness.fake.inject_query(5001, times=2)  # and two polls fail too
        [take] = await harness.wait_finished([take_id])
    assert take.status == "delivered"
    stats = harness.fake.stats()
    assert stats["create_requests"] == 3
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    assert take.attempts >= 4  # two creates and two polls were counted as retries
    events = await harness.events(take_id)
    retries = [e for e in events if e.detail and e.detail.startswith("retry")]
    assert len(retries) == 2 and all(e.status == "queued" for e in retries)
    # Backoff: the retries are spaced, not immediate.
    submitting = [e.at for e in events if e.status == "submitting"]
    assert len(submitting) == 3
    assert all(
        b - a >= timedelta(seconds=0.02) for a, b in zip(submitting, submitting[1:], strict=False)
    )


@pytest.mark.parametrize(
    ("configure", "kind"),
    [
        ({"inject_create": {"code": 1102}}, "balance"),
        ({"fail_next_tasks": {"times": 1}}, "content"),
    ],
)
async def test_balance_and_content_errors_fail_with_their_kind(
    harness: Harness, configure: dict[str, object], kind: str
) -> None:
    [take_id] = await harness.queue_takes(1)
    harness.fake.configure(configure)
    async with running(harness.runner()):
        [take] = await harness.wait_finished([take_id])
    assert take.status == "failed" and take.error_kind == kind
    assert harness.observer.finished == {take_id: "failed"}
    assert harness.observer.delivered == []
    assert harness.fake.stats()["create_requests"] == 1  # never retried
    assert [e.status for e in await harness.events(take_id)][-1] == "failed"


async def test_concurrency_cap_holds_and_queue_positions_are_reported(harness: Harness) -> None:
    harness.fake.configure({"task_seconds": 0.6})
    ids = await harness.queue_takes(6)
    peak_db = peak_fake = 0
    # One user's six takes: lift the per-user limit so only the provider's cap holds them.
    policy = dataclasses.replace(FAST, max_in_flight_per_user=6)
    async with running(harness.runner(cap=2, policy=policy)):
        async with asyncio.timeout(60):
            while True:
                async with harness.db.session() as session:
                    counts = await UnitOfWork(session).takes.takes_by_status()
                active = sum(counts.get(s, 0) for s in ACTIVE_UPSTREAM_STATES)
                unfinished_upstream = sum(
                    1
                    for t in harness.fake.stats()["tasks"].values()
                    if t["state"] in ("submitted", "processing")
                )
                peak_db, peak_fake = max(peak_db, active), max(peak_fake, unfinished_upstream)
                if counts.get("delivered", 0) == 6:
                    break
                await asyncio.sleep(0.02)
    assert peak_db == 2
    assert peak_fake <= 2
    assert sorted(harness.observer.delivered) == ids
    positions = {u.queue_position for _, u in harness.observer.progress if u.phase == "queued"}
    assert {1, 2, 3, 4} <= positions  # takes 3..6 were told where they stand


async def test_cancelled_queued_take_is_never_sent(harness: Harness) -> None:
    harness.fake.configure({"task_seconds": 1.0})
    first, second = await harness.queue_takes(2)
    assert harness.actor is not None
    async with running(harness.runner(cap=1)):
        async with asyncio.timeout(10):
            while (await harness.take(first)).status not in ACTIVE_UPSTREAM_STATES:  # noqa: ASYNC110 - polls state in other threads/processes
                await asyncio.sleep(0.02)
        assert (await harness.take(second)).status == "queued"
        assert await harness.services.generation.cancel_take(harness.actor, second)
        taken = await harness.wait_finished([first, second])
    assert [t.status for t in taken] == ["delivered", "cancelled"]
    assert harness.fake.stats()["create_requests"] == 1
    assert harness.observer.delivered == [first]
    statuses = [e.status for e in await harness.events(second)]
    assert statuses[-1] == "cancelled" and "submitting" not in statuses


async def test_one_bad_take_never_stops_the_runner(harness: Harness) -> None:
    bad, good = await harness.queue_takes(2)
    harness.observer.failing.add(bad)
    async with running(harness.runner()):
        bad_take, good_take = await harness.wait_finished([bad, good])
        # The runner still works after the bad take failed.
        [later] = await harness.queue_takes(1)
        [later_take] = await harness.wait_finished([later])
    assert good_take.status == "delivered" and later_take.status == "delivered"
    assert bad_take.status == "failed" and bad_take.error_kind == "unknown"
    assert harness.observer.finished[bad] == "failed"
    assert sorted(harness.observer.delivered) == [good, later]


async def test_deadline_exceeded_fails_with_timeout(harness: Harness) -> None:
    harness.fake.configure({"task_seconds": 30})
    [take_id] = await harness.queue_takes(1)
    async with harness.db.session() as session:
        stored = await UnitOfWork(session).takes.get_take(take_id, for_update=True)
        assert stored is not None
        stored.deadline_at = stored.created_at + timedelta(seconds=1)
    async with running(harness.runner()):
        [take] = await harness.wait_finished([take_id])
    assert take.status == "failed" and take.error_kind == "timeout"
    assert take.upstream_task_id is not None  # it did reach Kling, and was polled
    assert harness.observer.finished == {take_id: "failed"}
    assert harness.fake.stats()["create_requests"] == 1
