"""/forget removes a user's files as well as rows, and stops their takes in flight.

File and folder names are random, never row ids, so a later user's shot can never come upon
what a forgotten user left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.domain.ports import VideoProvider
from bot.domain.types import Actor, ClipInfo, Sender, TaskStatus, VideoRequest
from bot.files import DataFolders
from bot.media.intake import llm_copy_path
from bot.media.sample import sample_photo
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.offline.stills import OfflineStills
from bot.providers.vidu import ViduVideoProvider
from bot.runner import RunnerPolicy
from bot.services import Services
from bot.services.stills import Stills
from bot.wiring import Wiring, build_runner, build_services, build_use_cases
from storage.db import Database
from storage.models import Take, UsageEntry
from tests.conftest import make_settings
from tests.fakes.fake_kling import sample_mp4
from tests.fakes.fake_vidu import FAKE_VIDU_KEY, FakeVidu
from tests.integration.test_jobs import RecordingObserver

FAST = RunnerPolicy(tick_s=0.05, poll_interval_s=0.05, lease_s=5.0, backoff_base_s=0.01)


class SlowDownload:
    """A provider whose download waits for the test: /forget arrives in the middle of it."""

    name = "slow"
    model = "slow-1"

    def __init__(self) -> None:
        self.downloading = asyncio.Event()
        self.finish = asyncio.Event()

    async def submit(self, request: VideoRequest) -> str:
        return f"task-{request.external_id}"

    async def find(self, request: VideoRequest) -> str | None:
        return None

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        return TaskStatus(state="succeed", progress=1.0, result_url="http://127.0.0.1/x.mp4")

    async def download(
        self, request: VideoRequest, task_id: str, status: TaskStatus, dest: Path, on_progress=None
    ) -> ClipInfo:  # type: ignore[no-untyped-def]
        partial = dest.with_name(f".{dest.name}.abc123.part")
        partial.write_bytes(b"half a clip")  # noqa: ASYNC240
        self.downloading.set()
        await self.finish.wait()
        partial.unlink(missing_ok=True)  # noqa: ASYNC240 - /forget may have removed it
        dest.write_bytes(sample_mp4())  # noqa: ASYNC240 - a test double
        return ClipInfo(path=dest, size_bytes=1, duration_s=1.0, width=64, height=64)

    async def aclose(self) -> None:
        return None


@dataclass
class World:
    db: Database
    services: Services
    providers: dict[str, VideoProvider]
    vidu: FakeVidu
    slow: SlowDownload
    settings: Settings

    @property
    def stills(self) -> Stills:
        return self.services.stills

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def clips_dir(self) -> Path:
        return DataFolders(self.settings.data_dir).clips


@pytest.fixture
async def world(database: Database, tmp_path: Path) -> AsyncIterator[World]:
    with FakeVidu(task_seconds=30.0) as fake:
        settings = make_settings(tmp_path, vidu_api_key=FAKE_VIDU_KEY, vidu_api_url=fake.url)
        vidu = ViduVideoProvider(FAKE_VIDU_KEY, fake.url, backoff_base_s=0.01)
        slow = SlowDownload()
        providers: dict[str, VideoProvider] = {"vidu": vidu, "slow": slow}  # type: ignore[dict-item]
        services = build_use_cases(
            settings, database, OfflineDrafter(), providers, "vidu", OfflineStills()
        )
        try:
            yield World(database, services, providers, fake, slow, settings)
        finally:
            await vidu.aclose()


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def _shot_with_files(world: World, user_id: int) -> tuple[Actor, int, int]:
    """A shot with two stills and an end frame: (actor, shot id, revision id)."""
    actor = await world.services.accounts.enter(Sender(user_id=user_id, chat_id=user_id))
    outcome = await world.services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats"
    )
    assert outcome.revision is not None
    await world.stills.make(actor, outcome.revision.id)
    await world.stills.make(actor, outcome.revision.id)
    end = sample_photo(width=480, height=360)
    ended = await world.stills.end_frame(actor, outcome.revision.id, end)
    return actor, outcome.shot.id, ended.id


async def test_a_later_users_shot_gets_a_new_id_and_none_of_the_forgotten_files(
    world: World,
) -> None:
    _, old_shot, _ = await _shot_with_files(world, 31)
    await world.services.accounts.forget(31)

    newcomer = await world.services.accounts.enter(Sender(user_id=32, chat_id=32))
    outcome = await world.services.drafting.add_photo(
        newcomer, sample_photo(width=480, height=360), "kites"
    )
    assert outcome.shot.id > old_shot  # an old button's id never reaches the new shot
    assert outcome.revision is not None
    still = await world.stills.make(newcomer, outcome.revision.id)
    assert still.number == 1  # no inherited candidates
    photo = Path(outcome.shot.photo_path)
    assert files_under(world.data_dir) == {photo, llm_copy_path(photo), still.path}


async def test_forget_leaves_no_file_of_the_user_and_keeps_everyone_elses(world: World) -> None:
    await _shot_with_files(world, 42)
    others = files_under(world.data_dir)
    actor, _, revision_id = await _shot_with_files(world, 41)
    # A finished take's clip, and a download cut off half way.
    take = (await world.services.generation.request_take(actor, revision_id, chat_id=41)).take
    await _set_provider(world.db, take.id, "slow")
    runner = build_runner(
        world.db,
        {"slow": world.slow},
        RecordingObserver(),
        clips_dir=world.clips_dir,
        policy=FAST,
    )
    world.slow.finish.set()
    await runner.machine.advance(take.id)
    assert (await _take(world.db, take.id)).status == "delivered"
    (world.clips_dir / f".{take.external_id}.mp4.zz9.part").write_bytes(b"cut off")
    # photo, its LLM copy, two stills, end frame, clip, partial download
    mine = files_under(world.data_dir) - others
    assert len(mine) == 7
    assert {p.name for p in mine if p.name.endswith(".llm.jpg")}  # the copy intake made

    forgotten = await world.services.accounts.forget(41)
    assert files_under(world.data_dir) == others
    assert forgotten.files == 6  # what the user is told: the copy is part of its photo


async def test_an_in_flight_take_is_cancelled_upstream_refunded_and_never_delivered(
    world: World,
) -> None:
    actor, _, revision_id = await _shot_with_files(world, 51)
    take = (await world.services.generation.request_take(actor, revision_id, chat_id=51)).take
    observer = RecordingObserver()
    runner = build_runner(
        world.db, world.providers, observer, clips_dir=world.clips_dir, policy=FAST
    )
    await runner.machine.advance(take.id)  # created upstream; Vidu renders for 30 s
    task_id = (await _take(world.db, take.id)).upstream_task_id
    assert task_id is not None

    await world.services.accounts.forget(51)
    assert world.vidu.cancelled == [task_id]
    await runner.machine.advance(take.id)
    assert observer.delivered == []
    async with world.db.session() as session:
        states = list((await session.execute(select(UsageEntry.state))).scalars())
    assert "reserved" not in states  # settled as refunded (or gone with the user)


async def test_a_take_forgotten_mid_download_leaves_no_clip_and_is_not_delivered(
    world: World,
) -> None:
    actor, _, revision_id = await _shot_with_files(world, 61)
    take = (await world.services.generation.request_take(actor, revision_id, chat_id=61)).take
    await _set_provider(world.db, take.id, "slow")
    observer = RecordingObserver()
    runner = build_runner(
        world.db, {"slow": world.slow}, observer, clips_dir=world.clips_dir, policy=FAST
    )
    advancing = asyncio.create_task(runner.machine.advance(take.id))
    await asyncio.wait_for(world.slow.downloading.wait(), timeout=10)

    await world.services.accounts.forget(61)
    world.slow.finish.set()
    await asyncio.wait_for(advancing, timeout=10)
    assert observer.delivered == []
    assert files_under(world.data_dir) == set()


async def _set_provider(db: Database, take_id: int, provider: str) -> None:
    async with db.session() as session:
        take = await session.get(Take, take_id)
        assert take is not None
        take.provider = provider


async def _take(db: Database, take_id: int) -> Take:
    async with db.session() as session:
        take = await session.get(Take, take_id)
    assert take is not None
    return take


async def test_an_export_waits_its_turn_behind_other_heavy_work(world: World) -> None:
    actor, _, _ = await _shot_with_files(world, 71)
    async with contextlib.AsyncExitStack() as busy:
        for _ in range(world.settings.heavy_work_slots):
            await busy.enter_async_context(world.services.accounts.heavy.turn())
        export = asyncio.create_task(
            world.services.accounts.export_project(actor, limit_bytes=2**25)
        )
        await asyncio.sleep(0.2)
        assert not export.done()  # every heavy-work slot is taken: the zip is not being made
    done = await asyncio.wait_for(export, timeout=10)
    done.path.unlink()


async def test_data_files_are_0600_and_folders_0700_whatever_the_umask(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)
    try:
        wiring = await build_services(make_settings(tmp_path))
        try:
            await _check_modes(wiring)
        finally:
            await wiring.aclose()
    finally:
        os.umask(previous)


async def _check_modes(wiring: Wiring) -> None:
    services, stills = wiring.services, wiring.services.stills
    actor = await services.accounts.enter(Sender(user_id=81, chat_id=81))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats"
    )
    assert outcome.revision is not None
    still = await stills.make(actor, outcome.revision.id)
    take = (await services.generation.request_take(actor, outcome.revision.id, chat_id=81)).take
    runner = build_runner(
        wiring.db,
        wiring.providers,
        RecordingObserver(),
        clips_dir=wiring.folders.clips,
        policy=FAST,
    )
    await runner.machine.advance(take.id)
    finished = await _take(wiring.db, take.id)
    assert finished.clip_path is not None
    data_dir = wiring.settings.data_dir
    files = [Path(outcome.shot.photo_path), still.path, Path(finished.clip_path)]
    files += [data_dir / name for name in ("claymate.db", "claymate.db-wal", "claymate.db-shm")]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    folders = [data_dir, *(p for p in data_dir.rglob("*") if p.is_dir())]
    assert {p.name for p in folders} >= {"photos", "stills", "clips"}
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
