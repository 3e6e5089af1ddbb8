"""Kling's per-model request rules against the fake Kling (real httpx, real HTTP): end
frames go out only where the model takes them, durations and sound per model, retired
models, and the API key. The fake refuses what Kling refuses, so a rule the client got
wrong shows up here as a 1201/1203 instead of a quietly wasted take."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import TaskStatus, VideoRequest
from bot.providers.kling.auth import KlingJwt
from bot.providers.kling.client import KlingVideoProvider

try:
    from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_API_KEY, FAKE_SECRET_KEY, FakeKling
except ModuleNotFoundError:  # plain `pytest`: tests/ itself is on sys.path
    from fakes.fake_kling import (  # type: ignore[no-redef]
        FAKE_ACCESS_KEY,
        FAKE_API_KEY,
        FAKE_SECRET_KEY,
        FakeKling,
    )


@pytest.fixture
def fake() -> Any:
    with FakeKling(task_seconds=0.2) as server:
        yield server


def provider_for(fake: FakeKling, model: str, **kwargs: Any) -> KlingVideoProvider:
    options: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout": 5.0}
    options.update(kwargs)
    if "api_key" in options:
        return KlingVideoProvider(None, None, fake.url, model, **options)
    return KlingVideoProvider(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, fake.url, model, **options)


def photo(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    w, h = size
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[:, :, 1] = np.linspace(0, 255, w, dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG")
    return path


def request_for(tmp_path: Path, **values: Any) -> VideoRequest:
    base: dict[str, Any] = {
        "external_id": f"take-{uuid.uuid4()}",
        "image_path": photo(tmp_path / f"start-{uuid.uuid4().hex[:6]}.jpg"),
        "prompt": "A clay owl turns its head, stop-motion",
    }
    base.update(values)
    return VideoRequest(**base)


async def finished(
    provider: KlingVideoProvider, request: VideoRequest, task_id: str
) -> TaskStatus:
    async with asyncio.timeout(10):
        while True:
            status = await provider.status(request, task_id)
            if status.state in ("succeed", "failed"):
                return status
            await asyncio.sleep(0.05)


def raw_create(fake: FakeKling, **fields: Any) -> httpx.Response:
    """A create the bot would never send, straight to the fake: does it refuse it?"""
    import base64
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 80, 40)).save(buffer, "JPEG")
    image = base64.b64encode(buffer.getvalue()).decode()
    body = {
        "model_name": "kling-v2-5-turbo",
        "mode": "std",
        "duration": "5",
        "image": image,
        "prompt": "clay",
        "external_task_id": f"raw-{uuid.uuid4()}",
    }
    body.update({k: (image if v == "IMAGE" else v) for k, v in fields.items()})
    body = {k: v for k, v in body.items() if v is not None}
    headers = KlingJwt(FAKE_ACCESS_KEY, FAKE_SECRET_KEY).headers()
    return httpx.post(f"{fake.url}/v1/videos/image2video", json=body, headers=headers)


# --- end frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "duration"), [("kling-v2-5-turbo", 5), ("kling-v2-6", 10)])
async def test_end_frame_take_goes_out_as_pro_and_makes_a_clip(
    fake: FakeKling, tmp_path: Path, model: str, duration: int
) -> None:
    provider = provider_for(fake, model)
    tail = photo(tmp_path / "end.jpg", (600, 450))
    request = request_for(tmp_path, mode="pro", duration=duration, image_tail_path=tail)
    try:
        task_id = await provider.submit(request)
        status = await finished(provider, request, task_id)
        clip = await provider.download(request, task_id, status, tmp_path / "clip.mp4")
    finally:
        await provider.aclose()
    body = fake.create_bodies[-1]
    assert (body["mode"], body["duration"]) == ("pro", str(duration))
    assert body["image_tail"]["format"] == "JPEG" and body["image_tail"]["data_prefix"] is False
    assert status.state == "succeed" and clip.size_bytes > 0


@pytest.mark.parametrize("model", ["kling-v2-5-turbo", "kling-v2-6"])
async def test_std_take_with_end_frame_is_refused_and_never_sent(
    fake: FakeKling, tmp_path: Path, model: str
) -> None:
    provider = provider_for(fake, model)
    tail = photo(tmp_path / "end.jpg")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(request_for(tmp_path, mode="std", image_tail_path=tail))
    finally:
        await provider.aclose()
    assert caught.value.kind == ErrorKind.INVALID and "pro" in caught.value.detail
    assert fake.stats()["create_requests"] == 0
    # ...and had it been sent, the fake (like Kling) would have refused it.
    answer = raw_create(fake, model_name=model, mode="std", image_tail="IMAGE")
    assert (answer.status_code, answer.json()["code"]) == (400, 1201)
    assert raw_create(fake, model_name=model, mode="pro", image_tail="IMAGE").status_code == 200


async def test_kling_v3_takes_an_end_frame_in_std(fake: FakeKling, tmp_path: Path) -> None:
    provider = provider_for(fake, "kling-v3")
    tail = photo(tmp_path / "end.jpg")
    try:
        await provider.submit(request_for(tmp_path, mode="std", image_tail_path=tail))
    finally:
        await provider.aclose()
    assert fake.create_bodies[-1]["mode"] == "std" and "image_tail" in fake.create_bodies[-1]


async def test_end_frame_with_sound_on_v2_6_is_refused(fake: FakeKling, tmp_path: Path) -> None:
    provider = provider_for(fake, "kling-v2-6")
    tail = photo(tmp_path / "end.jpg")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(
                request_for(tmp_path, mode="pro", sound=True, image_tail_path=tail)
            )
    finally:
        await provider.aclose()
    assert caught.value.kind == ErrorKind.INVALID and "sound" in caught.value.detail
    assert fake.stats()["create_requests"] == 0
    answer = raw_create(fake, model_name="kling-v2-6", mode="pro", sound="on", image_tail="IMAGE")
    assert answer.json()["code"] == 1201


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [3, 15])
async def test_kling_v3_takes_its_duration_range(
    fake: FakeKling, tmp_path: Path, duration: int
) -> None:
    provider = provider_for(fake, "kling-v3")
    try:
        await provider.submit(request_for(tmp_path, duration=duration))
    finally:
        await provider.aclose()
    assert fake.create_bodies[-1]["duration"] == str(duration)  # a string on the wire


@pytest.mark.parametrize(("model", "duration"), [("kling-v3", 16), ("kling-v2-6", 3)])
async def test_a_duration_the_model_lacks_is_refused_locally_and_by_the_fake(
    fake: FakeKling, tmp_path: Path, model: str, duration: int
) -> None:
    provider = provider_for(fake, model)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(request_for(tmp_path, duration=duration))
    finally:
        await provider.aclose()
    assert caught.value.kind == ErrorKind.INVALID and f"{duration} s" in caught.value.detail
    assert fake.stats()["create_requests"] == 0
    assert raw_create(fake, model_name=model, duration=str(duration)).json()["code"] == 1201


# --- sound --------------------------------------------------------------------------------


async def test_sound_is_sent_only_to_models_that_make_it(fake: FakeKling, tmp_path: Path) -> None:
    for model, mode, sound, wire in [
        ("kling-v2-6", "pro", True, "on"),
        ("kling-v2-6", "std", False, "off"),
        ("kling-v3", "std", True, "on"),
        ("kling-v2-5-turbo", "pro", False, None),
    ]:
        provider = provider_for(fake, model)
        try:
            await provider.submit(request_for(tmp_path, mode=mode, sound=sound))
        finally:
            await provider.aclose()
        assert fake.create_bodies[-1].get("sound") == wire, model


@pytest.mark.parametrize(("model", "mode"), [("kling-v2-5-turbo", "pro"), ("kling-v2-6", "std")])
async def test_sound_where_the_model_makes_none_is_refused(
    fake: FakeKling, tmp_path: Path, model: str, mode: str
) -> None:
    provider = provider_for(fake, model)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(request_for(tmp_path, mode=mode, sound=True))
    finally:
        await provider.aclose()
    assert caught.value.kind == ErrorKind.INVALID and "sound" in caught.value.detail
    assert fake.stats()["create_requests"] == 0
    assert raw_create(fake, model_name=model, mode=mode, sound="on").json()["code"] == 1201


# --- models -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["kling-v1-6", "kling-v2-1", "kling-v9"])
def test_the_fake_answers_retired_and_unknown_models_like_kling(
    fake: FakeKling, model: str
) -> None:
    answer = raw_create(fake, model_name=model)
    assert (answer.status_code, answer.json()["code"]) == (404, 1203)
    # Kling's documented default is kling-v1, retired: a body without model_name fails too.
    assert raw_create(fake, model_name=None).json()["code"] == 1203


@pytest.mark.parametrize("model", ["kling-v2-1", "kling-v1-6", "kling-v2-master"])
def test_a_retired_model_stops_start_up_naming_the_setting(model: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, KLING_API_KEY=FAKE_API_KEY, KLING_MODEL=model
    )
    with pytest.raises(ConfigError) as caught:
        KlingVideoProvider.from_settings(settings)
    line = str(caught.value)
    assert line.startswith("KLING_MODEL:") and "retired" in line and "kling-v3" in line
    assert "\n" not in line and FAKE_API_KEY not in line


def test_default_mode_and_duration_must_fit_the_model() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, KLING_API_KEY=FAKE_API_KEY, KLING_MODEL="kling-v3", KLING_DURATION=10
    )
    provider = KlingVideoProvider.from_settings(settings)
    assert provider.model == "kling-v3"
    asyncio.run(provider.aclose())


# --- the API key ----------------------------------------------------------------------------


async def test_one_api_key_works_for_every_model(fake: FakeKling, tmp_path: Path) -> None:
    for model in ("kling-v2-5-turbo", "kling-v2-6", "kling-v3"):
        provider = provider_for(fake, model, api_key=FAKE_API_KEY)
        try:
            request = request_for(tmp_path, mode="pro")
            task_id = await provider.submit(request)
            assert (await finished(provider, request, task_id)).state == "succeed"
        finally:
            await provider.aclose()
    assert fake.api_key_calls >= 3 and not fake.auth_failures


async def test_a_wrong_api_key_is_an_auth_error_that_never_leaks(
    fake: FakeKling, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "api-key-kling-wrong-SHOULD-NEVER-BE-LOGGED"
    provider = provider_for(fake, "kling-v2-6", api_key=wrong)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(request_for(tmp_path))
        shown = repr(provider)
    finally:
        await provider.aclose()
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, 1002)
    for text in (str(caught.value), caught.value.detail, caplog.text, shown):
        assert wrong not in text


def test_settings_with_only_an_api_key_enable_kling() -> None:
    settings = Settings(_env_file=None, KLING_API_KEY=FAKE_API_KEY)  # type: ignore[call-arg]
    assert settings.kling_enabled
    provider = KlingVideoProvider.from_settings(settings)
    assert FAKE_API_KEY not in repr(provider)
    asyncio.run(provider.aclose())
    with pytest.raises(ConfigError):
        KlingVideoProvider.from_settings(
            Settings(_env_file=None, KLING_ACCESS_KEY=FAKE_ACCESS_KEY)  # type: ignore[call-arg]
        )


async def test_a_draft_made_with_a_retired_model_goes_to_the_configured_one(
    fake: FakeKling, tmp_path: Path
) -> None:
    """Drafts keep their model; after KLING_MODEL moved on from a retired one they must not
    fail with 1203 for ever."""
    provider = provider_for(fake, "kling-v2-6")
    tail = photo(tmp_path / "end.jpg")
    try:
        assert provider.end_frame_mode("kling-v2-1", "std") == "pro"
        await provider.submit(
            request_for(tmp_path, model="kling-v2-1", mode="pro", image_tail_path=tail)
        )
        with pytest.raises(ProviderError) as caught:  # an unknown name is not guessed at
            await provider.submit(request_for(tmp_path, model="kling-v7"))
    finally:
        await provider.aclose()
    assert fake.create_bodies[-1]["model_name"] == "kling-v2-6"
    assert caught.value.kind == ErrorKind.INVALID and fake.stats()["create_requests"] == 1
