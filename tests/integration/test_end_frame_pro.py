"""An end frame on Kling: the draft switches to a mode that takes one and shows that
mode's price before Generate; the take goes out as shown and the fake Kling makes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.errors import StudioError
from bot.domain.types import Sender
from bot.media.sample import sample_photo
from bot.runner import RunnerPolicy
from bot.wiring import Wiring, build_runner, build_services
from storage.models import Take
from tests.conftest import make_settings
from tests.fakes.fake_kling import FAKE_API_KEY, FakeKling
from tests.integration.test_jobs import RecordingObserver


@pytest.fixture
def fake() -> Any:
    with FakeKling(task_seconds=0.2) as server:
        yield server


async def wiring_for(tmp_path: Path, database_url: str, fake: FakeKling, model: str) -> Wiring:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        KLING_API_KEY=FAKE_API_KEY,
        KLING_API_URL=fake.url,
        KLING_MODEL=model,
    )
    return await build_services(settings, migrate=False)


@pytest.fixture
async def turbo(tmp_path: Path, database_url: str, fake: FakeKling) -> AsyncIterator[Wiring]:
    built = await wiring_for(tmp_path, database_url, fake, "kling-v2-5-turbo")
    try:
        yield built
    finally:
        await built.aclose()


async def drafted(wired: Wiring, user: int) -> Any:
    actor = await wired.services.accounts.enter(Sender(user_id=user, chat_id=user))
    outcome = await wired.services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "a clay boat on a pond"
    )
    assert outcome.revision is not None
    return actor, outcome.revision


async def test_end_frame_on_std_switches_to_pro_shows_its_price_and_is_delivered(
    turbo: Wiring, fake: FakeKling, tmp_path: Path
) -> None:
    services = turbo.services
    assert services.stills is not None
    actor, revision = await drafted(turbo, 21)
    assert revision.params["provider"] == "kling" and revision.params["mode"] == "std"
    revision = await services.drafting.change_setting(actor, revision.id, "duration", 10)
    before = await services.drafting.draft_view(actor, revision)
    assert before.allowance.cost == 3.0  # std, 10 s

    ended = await services.stills.end_frame(
        actor, revision.id, sample_photo(width=480, height=360)
    )
    assert ended.params["mode"] == "pro" and ended.params["duration"] == 10  # 10 s kept
    shown = await services.drafting.draft_view(actor, ended)
    assert shown.allowance.cost == 5.0  # pro, 10 s: the price shown before Generate

    # The user cannot take std back while the end frame is there; Undo is the way.
    with pytest.raises(StudioError) as refused:
        await services.drafting.change_setting(actor, ended.id, "mode", "std")
    assert refused.value.key == "end_frame.needs_mode"
    assert refused.value.params == {"model": "kling-v2-5-turbo", "mode": "pro"}

    take = (await services.generation.request_take(actor, ended.id)).take
    assert take.params["mode"] == "pro" and take.params["duration"] == 10
    assert take.cost_units == 5.0  # reserved what was shown

    observer = RecordingObserver()
    policy = RunnerPolicy(poll_interval_s=0.05, queue_recheck_s=0.05, tick_s=0.05)
    runner = build_runner(
        turbo.db, turbo.providers, observer, clips_dir=tmp_path / "clips", policy=policy
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(30):
            while True:
                async with turbo.db.session() as session:
                    status = await session.scalar(select(Take.status).where(Take.id == take.id))
                if status in ("delivered", "failed", "cancelled"):
                    break
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert status == "delivered"
    [body] = fake.create_bodies
    assert (body["model_name"], body["mode"], body["duration"]) == (
        "kling-v2-5-turbo",
        "pro",
        "10",
    )
    assert body["image_tail"]["format"] == "JPEG" and "camera_control" not in body


async def test_a_model_that_takes_an_end_frame_in_std_keeps_std_and_its_price(
    tmp_path: Path, database_url: str, fake: FakeKling
) -> None:
    wired = await wiring_for(tmp_path, database_url, fake, "kling-v3")
    try:
        assert wired.services.stills is not None
        actor, revision = await drafted(wired, 22)
        ended = await wired.services.stills.end_frame(
            actor, revision.id, sample_photo(width=480, height=360)
        )
        assert ended.params["mode"] == "std"
        view = await wired.services.drafting.draft_view(actor, ended)
        # std, 5 s at 3.0's 0.6 units a second: nothing was switched to pro (0.8 a second).
        assert view.allowance.cost == 3.0
    finally:
        await wired.aclose()


async def test_an_old_std_draft_with_an_end_frame_is_never_charged_as_std(
    turbo: Wiring,
) -> None:
    """A draft stored before the rule (std + end frame) is refused at Generate with the
    reason, rather than sent as a take Kling would ignore the end frame of."""
    services = turbo.services
    assert services.stills is not None
    actor, revision = await drafted(turbo, 23)
    ended = await services.stills.end_frame(
        actor, revision.id, sample_photo(width=480, height=360)
    )
    async with turbo.db.unit_of_work() as uow:
        shot = await uow.shots.get_shot(ended.shot_id)
        assert shot is not None
        stale = await uow.shots.revise_params(
            shot, ended, {**ended.params, "mode": "std"}, actor.user_id
        )
    with pytest.raises(StudioError) as refused:
        await services.generation.request_take(actor, stale.id)
    assert refused.value.key == "end_frame.needs_mode"


# --- native sound, per project ------------------------------------------------------------


@pytest.fixture
async def v26(tmp_path: Path, database_url: str, fake: FakeKling) -> AsyncIterator[Wiring]:
    built = await wiring_for(tmp_path, database_url, fake, "kling-v2-6")
    try:
        yield built
    finally:
        await built.aclose()


async def test_project_sound_is_off_by_default_and_priced_when_on(v26: Wiring) -> None:
    services = v26.services
    actor, revision = await drafted(v26, 31)
    view = await services.drafting.draft_view(actor, revision)
    assert view.sound is False and not view.project.sound  # a toggle, off
    revision = await services.drafting.change_setting(actor, revision.id, "mode", "pro")
    assert (await services.drafting.draft_view(actor, revision)).allowance.cost == 2.5

    same = await services.drafting.change_setting(actor, revision.id, "sound", True)
    assert same.id == revision.id  # the project's choice: no new revision to undo
    view = await services.drafting.draft_view(actor, revision)
    assert view.sound is True and view.allowance.cost == 5.0  # 2.6 with audio, pro, 5 s

    take = (await services.generation.request_take(actor, revision.id)).take
    assert take.params["sound"] is True and take.cost_units == 5.0
    runner = build_runner(v26.db, v26.providers, RecordingObserver(), clips_dir=Path("."))
    assert (await runner.machine.video_request(take)).sound is True

    with pytest.raises(StudioError) as refused:
        await services.drafting.change_setting(actor, revision.id, "sound", 1)
    assert refused.value.key == "settings.invalid"  # on/off only


async def test_sound_on_stays_silent_where_the_mode_or_end_frame_forbids_it(
    v26: Wiring, fake: FakeKling
) -> None:
    services = v26.services
    assert services.stills is not None
    actor, revision = await drafted(v26, 32)
    await services.drafting.change_setting(actor, revision.id, "sound", True)
    # 720p on 2.6 is silent only: priced and sent silent.
    view = await services.drafting.draft_view(actor, revision)
    assert view.allowance.cost == 1.5
    take = (await services.generation.request_take(actor, revision.id)).take
    assert "sound" not in take.params

    # An end frame on 2.6 is silent only: it wins, the take is pro and silent.
    ended = await services.stills.end_frame(
        actor, revision.id, sample_photo(width=480, height=360)
    )
    view = await services.drafting.draft_view(actor, ended)
    assert ended.params["mode"] == "pro" and view.allowance.cost == 2.5
    take = (await services.generation.request_take(actor, ended.id)).take
    assert "sound" not in take.params and take.params["mode"] == "pro"


async def test_a_model_without_sound_shows_no_sound_toggle(turbo: Wiring) -> None:
    actor, revision = await drafted(turbo, 33)
    await turbo.services.drafting.change_setting(actor, revision.id, "sound", True)
    view = await turbo.services.drafting.draft_view(actor, revision)
    assert view.sound is None and view.allowance.cost == 1.5
    take = (await turbo.services.generation.request_take(actor, revision.id)).take
    assert "sound" not in take.params


async def test_a_model_that_takes_no_end_frame_refuses_it_clearly(
    turbo: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No live Kling model lacks end frames today; a provider whose model did would refuse
    the photo with the model named, and store nothing."""
    services = turbo.services
    assert services.stills is not None
    actor, revision = await drafted(turbo, 24)
    monkeypatch.setattr(turbo.providers["kling"], "end_frame_mode", lambda *a, **k: None)
    with pytest.raises(StudioError) as refused:
        await services.stills.end_frame(actor, revision.id, sample_photo(width=480, height=360))
    assert refused.value.key == "end_frame.unsupported"
    assert refused.value.params == {"model": "kling-v2-5-turbo"}
    async with turbo.db.unit_of_work() as uow:
        shot = await uow.shots.get_shot(revision.shot_id)
    assert shot is not None and shot.current_revision_id == revision.id
