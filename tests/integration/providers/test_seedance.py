"""Seedance, the third video provider: the real httpx client against a fake Ark on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import ConfigError
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import Sender, TaskStatus, VideoRequest
from bot.media.probe import probe_mp4
from bot.media.sample import sample_photo
from bot.providers.registry import build_providers
from bot.providers.seedance import SeedanceVideoProvider, duration_for, seed_for
from bot.runner import RunnerPolicy
from bot.wiring import build_runner, build_services
from tests.conftest import make_settings
from tests.fakes.fake_seedance import FAKE_SEEDANCE_KEY, TASKS, FakeSeedance
from tests.integration.test_jobs import RecordingObserver


@pytest.fixture
def fake() -> Iterator[FakeSeedance]:
    with FakeSeedance(task_seconds=0.3) as running:
        yield running


def provider_for(fake: FakeSeedance, **options: Any) -> SeedanceVideoProvider:
    values: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}
    values.update(options)
    return SeedanceVideoProvider(FAKE_SEEDANCE_KEY, fake.url, **values)


@pytest.fixture
async def seedance(fake: FakeSeedance) -> AsyncIterator[SeedanceVideoProvider]:
    provider = provider_for(fake)
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


async def until_done(
    provider: SeedanceVideoProvider, request: VideoRequest, task_id: str
) -> TaskStatus:
    for _ in range(100):
        status = await provider.status(request, task_id)
        if status.state in ("succeed", "failed"):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("the fake task never finished")


async def post_raw(fake: FakeSeedance, body: dict[str, Any]) -> httpx.Response:
    """A create the client would never send, to prove the fake refuses it as Ark does."""
    async with httpx.AsyncClient() as client:
        return await client.post(
            fake.root + TASKS,
            json=body,
            headers={"Authorization": f"Bearer {FAKE_SEEDANCE_KEY}"},
        )


async def test_a_clip_is_made_polled_and_downloaded_with_its_last_frame(
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path, tmp_path: Path
) -> None:
    request = request_for(photo)
    task_id = await seedance.submit(request)
    assert task_id.startswith("cgt-")
    first = await seedance.status(request, task_id)
    assert first.state == "submitted" and first.last_frame_url is None  # queued
    status = await until_done(seedance, request, task_id)
    assert status.state == "succeed" and status.result_url
    # The last frame is kept on the status, so a later shot can start where this one ends.
    assert status.last_frame_url and status.last_frame_url.endswith(".png")
    async with httpx.AsyncClient() as client:
        frame = await client.get(status.last_frame_url)
    assert frame.status_code == 200 and frame.content.startswith(b"\x89PNG")

    clip = await seedance.download(request, task_id, status, tmp_path / "clip.mp4")
    assert clip.size_bytes > 0 and not clip.preview
    assert probe_mp4(clip.path).width == 320
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob("*.part")))

    # What went over the wire follows the contract.
    assert set(fake.auth_headers) == {f"Bearer {FAKE_SEEDANCE_KEY}"}
    body = fake.creates[0]
    assert body["model"] == "seedance-1-5-pro-251215"
    assert body["duration"] == 5 and body["ratio"] == "adaptive" and body["resolution"] == "720p"
    assert body["return_last_frame"] is True and body["watermark"] is False
    assert body["generate_audio"] is False  # explicit: sound only when the operator wants it
    assert body["seed"] == seed_for("ext-1")
    text, image = body["content"]
    assert text == {"type": "text", "text": "clay boats glide along the river"}
    assert image["role"] == "first_frame"
    head, _, data = image["image_url"]["url"].partition(",")
    assert head == "data:image/jpeg;base64"
    assert base64.b64decode(data) == await asyncio.to_thread(photo.read_bytes)


async def test_an_end_frame_goes_as_last_frame_where_the_model_takes_one(
    fake: FakeSeedance, photo: Path, tmp_path: Path
) -> None:
    from PIL import Image

    end = tmp_path / "end.png"
    await asyncio.to_thread(Image.open(photo).save, end)
    provider = provider_for(fake, model="seedance-1-0-lite-i2v-250428")
    try:
        await provider.submit(request_for(photo, image_tail_path=end))
        roles = [item.get("role") for item in fake.creates[-1]["content"]]
        assert roles == [None, "first_frame", "last_frame"]
        assert fake.creates[-1]["content"][2]["image_url"]["url"].startswith("data:image/png;")
    finally:
        await provider.aclose()

    fast = provider_for(fake, model="seedance-1-0-pro-fast-251015")
    try:
        with pytest.raises(ProviderError) as error:
            await fast.submit(request_for(photo, image_tail_path=end))
        assert error.value.kind is ErrorKind.INVALID and "end frame" in error.value.detail
        assert len(fake.creates) == 1  # refused here, before anything was sent or paid
    finally:
        await fast.aclose()

    # The fake refuses what Ark refuses, had the client sent it anyway.
    body = await fast.build_body(request_for(photo))
    body["content"].append({**body["content"][1], "role": "last_frame"})
    answer = await post_raw(fake, body)
    assert answer.status_code == 400 and "last_frame" in answer.json()["error"]["message"]


async def test_sound_only_on_models_that_make_it(fake: FakeSeedance, photo: Path) -> None:
    with_sound = provider_for(fake, audio=True)
    silent_model = provider_for(fake, model="seedance-1-0-pro-250528", audio=True)
    try:
        await with_sound.submit(request_for(photo))
        assert fake.creates[-1]["generate_audio"] is True
        await silent_model.submit(request_for(photo))
        assert fake.creates[-1]["generate_audio"] is False  # explicit false, never left out
        body = await silent_model.build_body(request_for(photo))
        body["generate_audio"] = True
        answer = await post_raw(fake, body)
        assert answer.status_code == 400
        assert "does not generate audio" in answer.json()["error"]["message"]
    finally:
        await with_sound.aclose()
        await silent_model.aclose()


async def test_a_take_with_sound_asks_for_it_where_the_model_makes_it(
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path
) -> None:
    await seedance.submit(request_for(photo, sound=True))
    assert fake.creates[-1]["generate_audio"] is True
    await seedance.submit(request_for(photo, external_id="ext-2"))
    assert fake.creates[-1]["generate_audio"] is False
    # The draft's 🔊 toggle and end-frame button come from these rules.
    assert seedance.takes_sound("seedance-1-5-pro-251215", "std")
    assert not seedance.takes_sound("seedance-1-0-pro-250528", "std")
    assert seedance.end_frame_mode("seedance-1-0-pro-fast-251015", "std") is None
    assert seedance.end_frame_mode("dreamina-seedance-2-0-260128", "pro") == "pro"


async def test_durations_and_resolutions_follow_each_model(
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path
) -> None:
    assert duration_for("seedance-1-5-pro-251215", 2) == 4
    assert duration_for("seedance-1-5-pro-251215", 15) == 12
    assert duration_for("dreamina-seedance-2-0-260128", 15) == 15
    await seedance.submit(request_for(photo, duration=15, mode="pro"))
    assert fake.creates[-1]["duration"] == 12 and fake.creates[-1]["resolution"] == "1080p"
    await seedance.submit(
        request_for(photo, model="dreamina-seedance-2-0-fast-260128", mode="pro")
    )
    assert fake.creates[-1]["resolution"] == "720p"  # 2.0 fast renders at most 720p

    body = await seedance.build_body(request_for(photo))
    for bad, reason in (
        ({"duration": 13}, "duration"),
        ({"ratio": "5:4"}, "ratio"),
        ({"model": "seedance-9-ultra"}, "does not exist"),
    ):
        answer = await post_raw(fake, {**body, **bad})
        assert answer.status_code in (400, 404) and reason in answer.json()["error"]["message"]


async def test_a_wrong_key_is_an_auth_error_not_retried_and_never_logged(
    fake: FakeSeedance, photo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "ark-wrong-key-SECRET-987654321"
    provider = SeedanceVideoProvider(wrong, fake.url, backoff_base_s=0.01)
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
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path
) -> None:
    fake.fail_next_creates(429, "RateLimitExceeded.EndpointRPMExceeded", times=2)
    task_id = await seedance.submit(request_for(photo))
    assert task_id and len(fake.creates) == 1 and len(fake.auth_headers) == 3


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        # the user's fault: tell them, never retry
        (400, "InputImageSensitiveContentDetected", ErrorKind.CONTENT),
        (400, "InvalidParameter", ErrorKind.INVALID),
        # the operator's fault: alert, never retry
        (403, "AccountOverdueError", ErrorKind.BALANCE),
        (404, "ModelNotOpen", ErrorKind.PERMISSION),
    ],
)
async def test_failed_creates_say_what_they_mean_and_are_not_retried(
    seedance: SeedanceVideoProvider,
    fake: FakeSeedance,
    photo: Path,
    status: int,
    code: str,
    kind: ErrorKind,
) -> None:
    fake.fail_next_creates(status, code, times=5)
    with pytest.raises(ProviderError) as error:
        await seedance.submit(request_for(photo))
    assert error.value.kind is kind and not error.value.retryable
    assert code in error.value.detail
    assert len(fake.auth_headers) == 1


async def test_a_lost_create_answer_is_found_by_seed_and_never_made_twice(
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path
) -> None:
    fake.lose_next_create_answers()  # the task is made, the answer says 500
    task_id = await seedance.submit(request_for(photo))
    assert len(fake.creates) == 1 and fake.lists == 1
    assert task_id in fake.tasks
    # The lookup tells this take's task from another take's.
    assert await seedance.find(request_for(photo)) == task_id
    assert await seedance.find(request_for(photo, external_id="ext-2")) is None


async def test_a_listing_without_seeds_fails_safe(fake: FakeSeedance, photo: Path) -> None:
    fake.list_reports_seed = False
    provider = provider_for(fake, max_attempts=2)
    try:
        assert await provider.find(request_for(photo)) is None  # nothing listed: nothing made
        fake.lose_next_create_answers()
        with pytest.raises(ProviderError) as error:
            await provider.submit(request_for(photo))
    finally:
        await provider.aclose()
    assert error.value.kind is ErrorKind.UNKNOWN and error.value.may_have_created
    assert len(fake.creates) == 1  # unsure: not created again


async def test_a_moderated_task_fails_as_content(
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path
) -> None:
    fake.fail_next_tasks("OutputVideoSensitiveContentDetected")
    request = request_for(photo)
    status = await until_done(seedance, request, await seedance.submit(request))
    assert status.state == "failed" and status.content_rejected
    assert status.result_url is None and status.last_frame_url is None


def test_an_unknown_or_mismatched_model_is_refused_at_start_up(tmp_path: Path) -> None:
    key = {"seedance_api_key": FAKE_SEEDANCE_KEY}
    with pytest.raises(ConfigError, match="SEEDANCE_MODEL: 'seedance-9-ultra' is not"):
        build_providers(make_settings(tmp_path, seedance_model="seedance-9-ultra", **key))
    with pytest.raises(ConfigError, match="not served by BytePlus ModelArk"):
        build_providers(
            make_settings(tmp_path, seedance_model="doubao-seedance-1-5-pro-251215", **key)
        )
    providers, default = build_providers(
        make_settings(
            tmp_path,
            seedance_api_url="https://ark.cn-beijing.volces.com/api/v3",
            seedance_model="doubao-seedance-1-5-pro-251215",
            **key,
        )
    )
    assert default == "seedance" and providers["seedance"].model.startswith("doubao-")
    providers, default = build_providers(
        make_settings(tmp_path, kling_access_key="a", kling_secret_key="b", **key)
    )
    assert default == "kling" and {"kling", "seedance"} <= set(providers)
    providers, _ = build_providers(make_settings(tmp_path, seedance_api_key=""))
    assert "seedance" not in providers


async def run_take(wiring: Any, user_id: int) -> tuple[Any, RecordingObserver]:
    services = wiring.services
    actor = await services.accounts.enter(Sender(user_id=user_id, chat_id=user_id))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=640, height=480), "boats"
    )
    assert outcome.revision is not None
    assert outcome.revision.params["provider"] == "seedance"
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
    return finished, observer


async def test_seedance_is_wired_in_by_settings_alone(
    fake: FakeSeedance, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        seedance_api_key=FAKE_SEEDANCE_KEY,
        seedance_api_url=fake.url,
    )
    wiring = await build_services(settings, migrate=False)
    try:
        assert wiring.default_provider == "seedance" and wiring.caps["seedance"] == 5
        finished, observer = await run_take(wiring, 7)
        assert finished.status == "delivered", finished.error_detail
        assert finished.provider == "seedance" and finished.model == "seedance-1-5-pro-251215"
        assert observer.delivered == [finished.id] and len(fake.creates) == 1
    finally:
        await wiring.aclose()


async def test_the_runner_finds_a_task_whose_create_answer_was_lost(
    fake: FakeSeedance, tmp_path: Path, database_url: str
) -> None:
    """A create that went through but whose answer was lost is found, not paid twice."""
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        seedance_api_key=FAKE_SEEDANCE_KEY,
        seedance_api_url=fake.url,
    )
    wiring = await build_services(settings, migrate=False)
    # One attempt per step: the runner itself must look the task up on its next step.
    wiring.providers["seedance"] = provider_for(fake, max_attempts=1)
    fake.lose_next_create_answers()
    try:
        finished, observer = await run_take(wiring, 8)
        assert finished.status == "delivered", finished.error_detail
        assert len(fake.creates) == 1 and fake.lists >= 1
        assert finished.upstream_task_id in fake.tasks
    finally:
        await wiring.aclose()


async def test_a_server_blip_on_a_poll_is_retried(
    seedance: SeedanceVideoProvider, fake: FakeSeedance, photo: Path
) -> None:
    request = request_for(photo)
    task_id = await seedance.submit(request)
    fake.fail_next_gets(503, "ServiceUnavailable", times=2)
    status = await seedance.status(request, task_id)
    assert status.state in ("submitted", "processing", "succeed") and fake.polls == 3
    fake.fail_next_gets(500, "InternalServiceError", times=9)
    with pytest.raises(ProviderError) as error:
        await seedance.status(request, task_id)
    assert error.value.kind is ErrorKind.TRANSIENT and error.value.retryable


@pytest.mark.parametrize(
    ("status", "words", "kind"),
    [
        (401, "AuthenticationError: the API key is missing or invalid", ErrorKind.AUTH),
        (429, "RateLimitExceeded.EndpointTPMExceeded: slow down", ErrorKind.RATE_LIMITED),
        (429, "QuotaExceeded: too many requests today", ErrorKind.RATE_LIMITED),
        (403, "AccountOverdueError: the account is overdue", ErrorKind.BALANCE),
        (400, "OutputVideoSensitiveContentDetected: refused", ErrorKind.CONTENT),
        (404, "InvalidEndpointOrModel.NotFound: no such model", ErrorKind.PERMISSION),
        (403, "AccessDenied: not allowed", ErrorKind.PERMISSION),
        (500, "InternalServiceError: oops", ErrorKind.TRANSIENT),
        (400, "InvalidParameter: duration", ErrorKind.INVALID),
        (418, "Teapot: ?", ErrorKind.UNKNOWN),
    ],
)
def test_the_error_table_says_whose_fault_and_whether_to_retry(
    status: int, words: str, kind: ErrorKind
) -> None:
    from bot.providers.seedance import SEEDANCE_ERRORS

    rule = SEEDANCE_ERRORS.rule_for(None, status, words)
    assert rule.kind is kind
    assert rule.retry == (kind in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT))
    assert rule.may_have_created == (status >= 500)


def test_the_seedance_url_must_be_http_and_a_blank_key_is_unset(tmp_path: Path) -> None:
    from bot.config import load_settings

    with pytest.raises(ConfigError, match="SEEDANCE_API_URL"):
        load_settings(_env_file=None, seedance_api_url="ark.example.com")
    settings = make_settings(tmp_path, seedance_api_key=" ", seedance_api_url=FAKE_URL + "/")
    assert not settings.seedance_enabled and settings.seedance_api_url == FAKE_URL


FAKE_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"
