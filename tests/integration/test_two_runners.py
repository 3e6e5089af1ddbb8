"""Two runner processes, one database, 50 takes: none is done twice and none is left behind."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.states import TERMINAL_TAKE_STATES
from bot.domain.types import Delivery, ProgressUpdate, Sender
from bot.media.sample import sample_photo
from bot.providers.kling.client import KlingVideoProvider
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.offline.video import OfflineVideoProvider
from bot.runner import RunnerPolicy
from bot.wiring import build_runner, build_use_cases
from storage.db import Database
from storage.models import Take
from storage.uow import UnitOfWork
from tests.conftest import make_settings
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling

TAKES = 50
POLICY = RunnerPolicy(
    poll_interval_s=0.1, queue_recheck_s=0.1, lease_s=10, tick_s=0.05, backoff_base_s=0.05
)


class FileObserver:
    """Appends each delivered take id to this process's file: the proof of who sent what."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def on_progress(self, take: Take, update: ProgressUpdate) -> None:
        return None

    async def deliver(self, take: Take) -> Delivery:
        with self.path.open("a") as out:
            out.write(f"{take.id}\n")
        return Delivery(message_id=take.id, file_id=None)

    async def on_finished(self, take: Take) -> None:
        return None


def runner_process(url: str, kling_url: str, workdir: str, name: str) -> None:
    """One instance: its own engine, provider and runner, until every take is finished."""
    asyncio.run(_run(url, kling_url, Path(workdir), name))


async def _run(url: str, kling_url: str, workdir: Path, name: str) -> None:
    db = Database.from_url(url)
    provider = KlingVideoProvider(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, kling_url)
    runner = build_runner(
        db,
        {"kling": provider},
        FileObserver(workdir / f"{name}.delivered"),
        clips_dir=workdir / name,
        caps={"kling": 8},
        policy=POLICY,
        owner=name,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    (workdir / f"{name}.ready").touch()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with db.session() as session:
            left = await session.scalar(
                select(func.count(Take.id)).where(Take.status.not_in(TERMINAL_TAKE_STATES))
            )
            total = await session.scalar(select(func.count(Take.id)))
        if total == TAKES and left == 0:
            break
        await asyncio.sleep(0.2)
    stop.set()
    await task
    await provider.aclose()
    await db.dispose()


async def test_two_runner_processes_share_fifty_takes(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    if not database.is_postgres:
        pytest.skip("several instances share a database on PostgreSQL; SQLite is one instance")
    context = multiprocessing.get_context("spawn")
    with FakeKling(task_seconds=0.3) as fake:
        settings = make_settings(tmp_path)
        offline = {"offline": OfflineVideoProvider()}
        services = build_use_cases(settings, database, OfflineDrafter(), offline, "offline")  # type: ignore[arg-type]
        actor = await services.accounts.enter(Sender(user_id=777, chat_id=777))
        outcome = await services.drafting.add_photo(
            actor, sample_photo(width=640, height=480), "boats"
        )
        assert outcome.revision is not None

        workers = [
            context.Process(
                target=runner_process, args=(database_url, fake.url, str(tmp_path), name)
            )
            for name in ("runner-a", "runner-b")
        ]
        for worker in workers:
            worker.start()
        try:
            async with asyncio.timeout(60):
                while not all(  # noqa: ASYNC110 - polls state in other threads/processes
                    (tmp_path / f"{n}.ready").exists() for n in ("runner-a", "runner-b")
                ):
                    await asyncio.sleep(0.05)
            async with database.session() as session:
                uow = UnitOfWork(session)
                for n in range(TAKES):
                    await uow.takes.add_take(
                        shot_id=outcome.shot.id,
                        revision_id=outcome.revision.id,
                        provider="kling",
                        model="kling-v2-5-turbo",
                        params={"mode": "std", "duration": 5},
                        external_id=f"two-runners-{n:03d}",
                        status="queued",
                    )
            for worker in workers:
                await asyncio.to_thread(worker.join, 150)
                assert worker.exitcode == 0
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.kill()
        stats = fake.stats()

    async with database.session() as session:
        takes = list((await session.execute(select(Take).order_by(Take.id))).scalars())
    assert len(takes) == TAKES
    assert {t.status for t in takes} == {"delivered"}  # none left behind
    by_runner = {
        name: [int(line) for line in (tmp_path / f"{name}.delivered").read_text().split()]
        for name in ("runner-a", "runner-b")
        if (tmp_path / f"{name}.delivered").exists()
    }
    delivered = sorted(i for ids in by_runner.values() for i in ids)
    assert delivered == [t.id for t in takes]  # each delivered exactly once
    assert stats["creates"] == TAKES and stats["create_requests"] == TAKES  # none made twice
    assert set(stats["creates_by_external_id"].values()) == {1}
    assert len(by_runner) == 2 and all(by_runner.values())  # both instances did work
