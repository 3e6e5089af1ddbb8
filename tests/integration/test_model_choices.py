"""⚙️ offers what the draft's model takes: Kling 3.0 runs to 15 s and has 4K, priced per
second before Generate, and the take goes out as shown; another engine gets the nearest
length it takes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.errors import StudioError
from bot.runner import RunnerPolicy
from bot.wiring import build_runner
from handlers.render import settings_keyboard
from storage.models import Take
from tests.fakes.fake_kling import FakeKling
from tests.integration.test_end_frame_pro import drafted, wiring_for
from tests.integration.test_jobs import RecordingObserver


@pytest.fixture
def fake() -> Any:
    with FakeKling(task_seconds=0.2) as server:
        yield server


def labels(keyboard: Any) -> list[list[str]]:
    return [[button.text for button in row] for row in keyboard.inline_keyboard]


async def test_kling_3_offers_15_seconds_and_4k_priced_per_second_and_sends_them(
    tmp_path: Path, database_url: str, fake: FakeKling
) -> None:
    wired = await wiring_for(tmp_path, database_url, fake, "kling-v3")
    try:
        drafting = wired.services.drafting
        actor, revision = await drafted(wired, 31)
        view = await drafting.draft_view(actor, revision)
        assert view.durations == (5, 10, 15) and view.modes == ("std", "pro", "4k")
        rows = labels(
            settings_keyboard(view.revision, "en", durations=view.durations, modes=view.modes)
        )
        assert rows[0] == [f"{'• ' if d == 5 else ''}{d} s" for d in (5, 10, 15)]
        assert rows[1][-1] == "4K"

        longer = await drafting.change_setting(actor, revision.id, "duration", 15)
        pro = await drafting.change_setting(actor, longer.id, "mode", "pro")
        shown = await drafting.draft_view(actor, pro)
        assert shown.allowance.cost == 12.0  # 15 s at 0.8 units a second
        assert "15s" in pro.summary  # the caption says what Generate will do

        take = (await wired.services.generation.request_take(actor, pro.id)).take
        assert take.cost_units == 12.0
        observer = RecordingObserver()
        policy = RunnerPolicy(poll_interval_s=0.05, queue_recheck_s=0.05, tick_s=0.05)
        runner = build_runner(
            wired.db, wired.providers, observer, clips_dir=tmp_path / "clips", policy=policy
        )
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            async with asyncio.timeout(30):
                while True:
                    async with wired.db.session() as session:
                        status = await session.scalar(
                            select(Take.status).where(Take.id == take.id)
                        )
                    if status in ("delivered", "failed", "cancelled"):
                        break
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        assert status == "delivered"
        [body] = fake.create_bodies
        assert (body["model_name"], body["mode"], body["duration"]) == ("kling-v3", "pro", "15")
    finally:
        await wired.aclose()


async def test_a_length_the_model_does_not_take_is_refused_not_sent(
    tmp_path: Path, database_url: str, fake: FakeKling
) -> None:
    wired = await wiring_for(tmp_path, database_url, fake, "kling-v2-6")
    try:
        drafting = wired.services.drafting
        actor, revision = await drafted(wired, 32)
        view = await drafting.draft_view(actor, revision)
        assert view.durations == (5, 10) and view.modes == ("std", "pro")
        for key, value in (("duration", 15), ("mode", "4k")):
            with pytest.raises(StudioError) as refused:
                await drafting.change_setting(actor, revision.id, key, value)
            assert refused.value.key == "settings.invalid"
    finally:
        await wired.aclose()


async def test_switching_engine_keeps_the_nearest_length_the_new_one_takes(
    tmp_path: Path, database_url: str, fake: FakeKling
) -> None:
    wired = await wiring_for(tmp_path, database_url, fake, "kling-v3")
    try:
        drafting = wired.services.drafting
        assert "offline" in drafting.provider_names
        actor, revision = await drafted(wired, 33)
        longer = await drafting.change_setting(actor, revision.id, "duration", 15)
        four_k = await drafting.change_setting(actor, longer.id, "mode", "4k")
        offline = await drafting.change_setting(actor, four_k.id, "provider", "offline")
        assert offline.params["duration"] == 10 and offline.params["mode"] == "std"
    finally:
        await wired.aclose()
