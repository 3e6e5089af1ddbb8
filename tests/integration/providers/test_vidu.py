"""Vidu, the second video provider: the real httpx client against a fake Vidu on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import Sender, TaskStatus, VideoRequest
from bot.media.probe import probe_mp4
from bot.media.sample import sample_photo
from bot.providers.registry import build_providers
from bot.providers.vidu import ViduVideoProvider, duration_for
from bot.runner import RunnerPolicy
from bot.wiring import build_runner, build_services
from tests.conftest import make_settings
from tests.fakes.fake_vidu import FAKE_VIDU_KEY, FakeVidu
from tests.integration.test_jobs import RecordingObserver


@pytest.fixture
def fake() -> Iterator[FakeVidu]:
    with FakeVidu(task_seconds=0.3) as running:
        yield running


@pytest.fixture
async def vidu(fake: FakeVidu) -> AsyncIterator[ViduVideoProvider]:
    provider = ViduVideoProvider(FAKE_VIDU_KEY, fake.url, backoff_base_s=0.01, backoff_max_s=0.05)
    try:
        yield provider
    finally:
        await provider.aclose()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(sample_photo(width=640, height=480))
    return path


def request_for(photo: Path, **fields: object) -> VideoRequest:
    values: dict[str, object] = {
        "external_id": "ext-1",
        "image_path": photo,
        "prompt": "clay boats glide along the river",
        "duration": 5,
        "camera_move": "push_in",
    }
    values.update(fields)
    return VideoRequest(**values)  # type: ignore[arg-type]


async def until_done(vidu: ViduVideoProvider, request: VideoRequest, task_id: str) -> TaskStatus:
    for _ in range(100):
        status = await vidu.status(request, task_id)
        if status.state in ("succeed", "failed"):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("the fake task never finished")


async def test_a_clip_is_made_polled_and_downloaded(
    vidu: ViduVideoProvider, fake: FakeVidu, photo: Path, tmp_path: Path
) -> None:
    request = request_for(photo)
    task_id = await vidu.submit(request)
    first = await vidu.status(request, task_id)
    assert first.state == "submitted"  # created / queueing
    status = await until_done(vidu, request, task_id)
    assert status.state == "succeed" and status.result_url

    clip = await vidu.download(request, task_id, status, tmp_path / "clip.mp4")
    assert clip.size_bytes > 0 and not clip.preview
    assert probe_mp4(clip.path).width == 320

    # What went over the wire follows the contract.
    assert fake.auth_headers == [f"Token {FAKE_VIDU_KEY}"]
    body = fake.creates[0]
    assert body["model"] == "viduq2-turbo" and body["duration"] == 5
    assert body["movement_amplitude"] == "medium" and body["resolution"] == "720p"
    head, _, data = body["images"][0].partition(",")
    assert head == "data:image/jpeg;base64"
    assert base64.b64decode(data) == await asyncio.to_thread(photo.read_bytes)
    assert body["payload"] == "ext-1"
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob("*.part")))


async def test_durations_follow_what_each_model_accepts(
    vidu: ViduVideoProvider, fake: FakeVidu, photo: Path
) -> None:
    assert duration_for("viduq1", 10) == 5
    assert duration_for("vidu2.0", 10) == 8 and duration_for("vidu2.0", 5) == 4
    assert duration_for("viduq3-pro", 10) == 10
    await vidu.submit(request_for(photo, duration=10))  # q2 takes at most 8 s
    assert fake.creates[-1]["duration"] == 8
    await vidu.submit(request_for(photo, model="viduq1", camera_move="static"))
    assert fake.creates[-1]["resolution"] == "1080p"
    assert fake.creates[-1]["movement_amplitude"] == "small"


async def test_a_png_photo_is_sent_as_png(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path, photo: Path
) -> None:
    from PIL import Image

    png = tmp_path / "photo.png"
    Image.open(photo).save(png)
    await vidu.submit(request_for(png))
    assert fake.creates[-1]["images"][0].startswith("data:image/png;base64,")
    assert len(fake.creates[-1]["images"]) == 1 and fake.endpoints == ["img2video"]


async def test_a_wrong_key_is_an_auth_error_not_retried_and_never_logged(
    fake: FakeVidu, photo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "vda_wrong-key-SECRET-987654321"
    provider = ViduVideoProvider(wrong, fake.url, backoff_base_s=0.01)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(ProviderError) as error:
            await provider.submit(request_for(photo))
    finally:
        await provider.aclose()
    assert error.value.kind is ErrorKind.AUTH
    assert len(fake.auth_headers) == 1
    assert wrong not in caplog.text and wrong not in str(error.value)
    assert wrong not in repr(provider)


async def test_throttling_is_retried_and_the_task_made_once(
    vidu: ViduVideoProvider, fake: FakeVidu, photo: Path
) -> None:
    fake.fail_next_creates(429, "TooManyRequests", times=2)
    task_id = await vidu.submit(request_for(photo))
    assert task_id and len(fake.creates) == 1 and len(fake.auth_headers) == 3


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (400, "CreditInsufficient", ErrorKind.BALANCE),
        (400, "AuditSubmitIllegal", ErrorKind.CONTENT),
        (400, "BadRequest", ErrorKind.INVALID),
    ],
)
async def test_failed_creates_say_what_they_mean(
    vidu: ViduVideoProvider,
    fake: FakeVidu,
    photo: Path,
    status: int,
    reason: str,
    kind: ErrorKind,
) -> None:
    fake.fail_next_creates(status, reason, times=5)
    with pytest.raises(ProviderError) as error:
        await vidu.submit(request_for(photo))
    assert error.value.kind is kind
    assert len(fake.auth_headers) == 1  # none of these is retried
    assert await vidu.find(request_for(photo)) is None


async def test_a_server_error_on_create_is_looked_up_before_each_retry(
    vidu: ViduVideoProvider, fake: FakeVidu, photo: Path
) -> None:
    """A 5xx may have made the task: the list is asked first, and only its "no" allows a retry."""
    fake.fail_next_creates(500, "InternalError", times=5)
    with pytest.raises(ProviderError) as error:
        await vidu.submit(request_for(photo))
    assert error.value.kind is ErrorKind.TRANSIENT and error.value.may_have_created
    assert len(fake.auth_headers) == 4 and len(fake.lists) == 3  # a lookup before each retry
    assert fake.creates == []


async def test_a_moderated_task_fails_as_content_and_an_expired_url_as_expired(
    vidu: ViduVideoProvider, fake: FakeVidu, photo: Path, tmp_path: Path
) -> None:
    fake.fail_next_tasks("AuditSubmitIllegal")
    request = request_for(photo)
    status = await until_done(vidu, request, await vidu.submit(request))
    assert status.state == "failed" and status.content_rejected

    fake.expire_results()
    task_id = await vidu.submit(request)
    status = await until_done(vidu, request, task_id)
    with pytest.raises(ProviderError) as error:
        await vidu.download(request, task_id, status, tmp_path / "clip.mp4")
    assert error.value.kind is ErrorKind.EXPIRED
    assert not (tmp_path / "clip.mp4").exists()


async def test_vidu_is_wired_in_by_settings_alone(
    fake: FakeVidu, tmp_path: Path, database_url: str
) -> None:
    """Setting VIDU_API_KEY is all it takes: a take goes through the job runner to Vidu."""
    settings = make_settings(
        tmp_path, database_url=database_url, vidu_api_key=FAKE_VIDU_KEY, vidu_api_url=fake.url
    )
    wiring = await build_services(settings, migrate=False)
    try:
        assert wiring.default_provider == "vidu" and set(wiring.providers) >= {"vidu"}
        services = wiring.services
        actor = await services.accounts.enter(Sender(user_id=5, chat_id=5))
        outcome = await services.drafting.add_photo(
            actor, sample_photo(width=640, height=480), "boats"
        )
        assert outcome.revision is not None
        assert outcome.revision.params["provider"] == "vidu"
        assert outcome.revision.params["model"] == "viduq2-turbo"
        take = (await services.generation.request_take(actor, outcome.revision.id)).take
        observer = RecordingObserver()
        runner = build_runner(
            wiring.db,
            wiring.providers,
            observer,
            clips_dir=wiring.folders.clips,
            caps=wiring.caps,
            policy=RunnerPolicy(poll_interval_s=0.05, queue_recheck_s=0.05, tick_s=0.05),
        )
        finished = await asyncio.wait_for(runner.run_until_finished(take.id), timeout=30)
        assert finished.status == "delivered", finished.error_detail
        assert finished.provider == "vidu" and not finished.preview
        assert observer.delivered == [take.id]
        assert len(fake.creates) == 1

        # A user switches this draft back to the offline preview in ⚙️ Settings.
        switched = await services.drafting.change_setting(
            actor, outcome.revision.id, "provider", "offline"
        )
        assert switched.params["provider"] == "offline"
    finally:
        await wiring.aclose()


def test_the_environment_picks_the_default_provider(tmp_path: Path) -> None:
    both = {"vidu_api_key": FAKE_VIDU_KEY}
    _, default = build_providers(make_settings(tmp_path, **both))
    assert default == "vidu"
    providers, default = build_providers(make_settings(tmp_path, video_provider="offline", **both))
    assert default == "offline" and set(providers) == {"offline", "vidu"}
    with pytest.raises(ConfigError, match="CLAYMATE_VIDEO_PROVIDER"):
        build_providers(make_settings(tmp_path, video_provider="runway"))
    # An empty key means "not configured".
    providers, _ = build_providers(make_settings(tmp_path, vidu_api_key=""))
    assert "vidu" not in providers


def test_settings_offer_a_provider_choice_only_when_there_is_one() -> None:
    from types import SimpleNamespace

    from handlers import render

    revision = SimpleNamespace(id=42, params={"provider": "vidu", "duration": 5, "mode": "std"})
    data = [
        [b.callback_data for b in row]
        for row in render.settings_keyboard(revision, "en", ("offline", "vidu")).inline_keyboard  # type: ignore[arg-type]
    ]
    assert ["set:42:provider=offline", "set:42:provider=vidu"] in data
    labels = [
        b.text
        for row in render.settings_keyboard(revision, "en", ("offline", "vidu")).inline_keyboard
        for b in row
    ]  # type: ignore[arg-type]
    assert "• vidu" in labels
    alone = render.settings_keyboard(revision, "en", ("offline",))  # type: ignore[arg-type]
    assert not any(
        "provider=" in (b.callback_data or "") for r in alone.inline_keyboard for b in r
    )


async def test_a_create_whose_answer_was_lost_is_found_in_the_task_list(
    fake: FakeVidu, tmp_path: Path, database_url: str
) -> None:
    """The answer to a create times out; the task list shows our payload: delivered, made once."""
    settings = make_settings(
        tmp_path, database_url=database_url, vidu_api_key=FAKE_VIDU_KEY, vidu_api_url=fake.url
    )
    wiring = await build_services(settings, migrate=False)
    wiring.providers["vidu"] = ViduVideoProvider(
        FAKE_VIDU_KEY, fake.url, timeout=0.5, backoff_base_s=0.01
    )
    fake.create_answer_delay_s = 1.5
    try:
        services = wiring.services
        actor = await services.accounts.enter(Sender(user_id=6, chat_id=6))
        outcome = await services.drafting.add_photo(
            actor, sample_photo(width=640, height=480), "boats"
        )
        assert outcome.revision is not None
        take = (await services.generation.request_take(actor, outcome.revision.id)).take
        observer = RecordingObserver()
        runner = build_runner(
            wiring.db,
            wiring.providers,
            observer,
            clips_dir=wiring.folders.clips,
            caps=wiring.caps,
            policy=RunnerPolicy(
                poll_interval_s=0.05, queue_recheck_s=0.05, tick_s=0.05, backoff_base_s=0.01
            ),
        )
        finished = await asyncio.wait_for(runner.run_until_finished(take.id), timeout=30)
        assert finished.status == "delivered", finished.error_detail
        assert finished.upstream_task_id in fake.tasks and fake.lists
        await asyncio.sleep(1.2)  # let the late answer land before counting
        assert len(fake.creates) == 1
    finally:
        await wiring.aclose()
