"""The Kling client against a fake Kling server on 127.0.0.1 (real httpx, real HTTP).

Each test is one story the bot lives through: a clip made end to end, a request the API
would reject fixed before upload, money that ran out, a create whose answer got lost,
a moderation refusal, keys that are wrong (and never leak), a result link that expired.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import CAMERA_MOVES, PROMPT_LIMIT, TaskStatus, VideoRequest
from bot.media.probe import probe_mp4
from bot.providers.kling.auth import KlingJwt
from bot.providers.kling.camera import CAMERA_TABLE, camera_control_for
from bot.providers.kling.client import KlingVideoProvider
from bot.providers.kling.wire import KlingEnvelope, KlingTask, parse_callback, task_status_from

try:  # `tests` is importable when the repo root is on sys.path (python -m, pythonpath=.)
    from tests.fakes.fake_kling import (
        FAKE_ACCESS_KEY,
        FAKE_SECRET_KEY,
        RISK_MESSAGE,
        CallbackReceiver,
        FakeKling,
    )
except ModuleNotFoundError:  # plain `pytest`: tests/ itself is on sys.path (rootdir conftest)
    from fakes.fake_kling import (  # type: ignore[no-redef]
        FAKE_ACCESS_KEY,
        FAKE_SECRET_KEY,
        RISK_MESSAGE,
        CallbackReceiver,
        FakeKling,
    )

REPO_ROOT = Path(__file__).resolve().parents[3]


class FakeClock:
    """A clock both the provider and the fake read, so tests can jump 25 minutes ahead."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Any:
    with FakeKling(task_seconds=0.3) as server:
        yield server


def provider_for(fake: FakeKling, **kwargs: Any) -> KlingVideoProvider:
    options: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout": 5.0}
    options.update(kwargs)
    access = options.pop("access_key", FAKE_ACCESS_KEY)
    secret = options.pop("secret_key", FAKE_SECRET_KEY)
    return KlingVideoProvider(access, secret, fake.url, **options)


@pytest.fixture
async def kling(fake: FakeKling) -> Any:
    provider = provider_for(fake)
    yield provider
    await provider.aclose()


def write_photo(
    path: Path, size: tuple[int, int] = (640, 480), fmt: str = "JPEG", noise: bool = False
) -> Path:
    w, h = size
    if noise:
        pixels = np.random.default_rng(7).integers(0, 256, (h, w, 3), dtype=np.uint8)
    else:
        pixels = np.zeros((h, w, 3), dtype=np.uint8)
        pixels[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)
        pixels[:, :, 2] = 180
    Image.fromarray(pixels).save(path, fmt)
    return path


def make_request(tmp_path: Path, **overrides: Any) -> VideoRequest:
    values: dict[str, Any] = {
        "external_id": f"take-{uuid.uuid4()}",
        "image_path": write_photo(tmp_path / f"photo-{uuid.uuid4().hex[:6]}.jpg"),
        "prompt": "A clay fox waves at the camera, stop-motion, soft light",
        "negative_prompt": "blurry, text",
    }
    values.update(overrides)
    return VideoRequest(**values)


async def wait_until_done(
    provider: KlingVideoProvider, request: VideoRequest, task_id: str
) -> tuple[TaskStatus, list[str]]:
    """Poll like the runner does (fast here: the fake's tasks take 0.3 s)."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(10):
            while True:
                status = await provider.status(request, task_id)
                seen.append(status.state)
                if status.state in ("succeed", "failed"):
                    return status, seen
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"task {task_id} did not finish; states {seen}") from None


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# --- the happy path ---------------------------------------------------------------------


async def test_a_photo_becomes_a_checked_clip(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    request = make_request(tmp_path)
    task_id = await kling.submit(request)
    assert fake.stats()["tasks"][task_id]["external_task_id"] == request.external_id

    status, seen = await wait_until_done(kling, request, task_id)
    assert status.state == "succeed" and status.result_url
    assert set(seen) <= {"submitted", "processing", "succeed"}
    assert not status.content_rejected

    progress: list[float] = []
    dest = tmp_path / "clips" / "take.mp4"
    clip = await kling.download(request, task_id, status, dest, on_progress=progress.append)

    facts = probe_mp4(dest)
    assert (clip.path, clip.width, clip.height) == (dest, 320, 240)
    assert clip.size_bytes == dest.stat().st_size == facts.size_bytes
    assert clip.duration_s == pytest.approx(1.0, abs=0.15)
    assert clip.preview is False
    assert progress and progress[-1] == 1.0
    assert leftovers(dest.parent) == []
    assert fake.stats()["downloads"] == 1


async def test_download_without_url_asks_for_status_first(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    """A runner restarted after the poll only has the task id: download still works."""
    request = make_request(tmp_path)
    task_id = await kling.submit(request)
    await wait_until_done(kling, request, task_id)
    clip = await kling.download(
        request, task_id, TaskStatus(state="succeed"), tmp_path / "again.mp4"
    )
    assert (clip.width, clip.height) == (320, 240)


# --- what goes over the wire --------------------------------------------------------------


async def test_v2_request_body_follows_the_contract(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    photo = write_photo(tmp_path / "ok.jpg", (800, 600))
    request = make_request(
        tmp_path,
        image_path=photo,
        prompt="p" * 3000,
        negative_prompt="n" * 3000,
        cfg_scale=0.7,
        camera_move="push_in",
        duration=10,
        mode="pro",
        callback_url="http://127.0.0.1:9/callback",
    )
    await kling.submit(request)
    body = fake.create_bodies[-1]
    assert body["model_name"] == "kling-v2-5-turbo"
    assert body["mode"] == "pro"
    assert body["duration"] == "10"  # a string, not an int
    assert "cfg_scale" not in body  # v2.x models refuse it
    assert "camera_control" not in body  # not in v2-5-turbo's capability map
    assert len(body["prompt"]) == len(body["negative_prompt"]) == PROMPT_LIMIT
    assert body["external_task_id"] == request.external_id
    assert body["callback_url"] == "http://127.0.0.1:9/callback"
    # The photo fitted Kling's limits, so it went byte for byte as raw base64.
    assert body["image"]["data_prefix"] is False
    assert body["image"]["format"] == "JPEG"
    assert body["image"]["length"] == len(base64.b64encode(photo.read_bytes()))
    assert "image_tail" not in body


async def test_no_current_model_is_sent_camera_control_or_cfg_scale(
    fake: FakeKling, tmp_path: Path
) -> None:
    """The capability map names camera control for no live model, and v2.x/v3 refuse
    cfg_scale: the prompt's words carry the move, and the create goes through."""
    for model in ("kling-v2-5-turbo", "kling-v2-6", "kling-v3"):
        provider = provider_for(fake, model=model)
        try:
            request = make_request(tmp_path, mode="pro", camera_move="push_in", cfg_scale=0.7)
            await provider.submit(request)
        finally:
            await provider.aclose()
        body = fake.create_bodies[-1]
        assert body["model_name"] == model
        assert "camera_control" not in body and "cfg_scale" not in body


async def test_end_frame_wins_over_camera_move(fake: FakeKling, tmp_path: Path) -> None:
    provider = provider_for(fake, model="kling-v2-5-turbo")
    try:
        tail = write_photo(tmp_path / "tail.png", (640, 480), fmt="PNG")
        request = make_request(tmp_path, mode="pro", camera_move="pan_left", image_tail_path=tail)
        await provider.submit(request)
    finally:
        await provider.aclose()
    body = fake.create_bodies[-1]
    assert body["image_tail"]["format"] == "PNG" and body["image_tail"]["data_prefix"] is False
    assert "camera_control" not in body


def test_camera_table_covers_every_move_and_respects_capabilities() -> None:
    assert set(CAMERA_TABLE) == set(CAMERA_MOVES)
    for move in CAMERA_MOVES:
        assert camera_control_for(move, "kling-v2-5-turbo", "pro", 5) is None
        assert camera_control_for(move, "kling-v1-5", "std", 5) is None
        assert camera_control_for(move, "kling-v1-5", "pro", 10) is None
        control = camera_control_for(move, "kling-v1-5", "pro", 5)
        if move in ("static", "orbit"):  # static: nothing; orbit needs a non-simple type
            assert control is None
            continue
        assert control is not None and control["type"] == "simple"
        assert sum(1 for v in control["config"].values() if v != 0) == 1
    assert camera_control_for("pan_right", "kling-v1-5", "pro", 5) == {
        "type": "simple",
        "config": {"horizontal": 0.0, "vertical": 0.0, "pan": 5.0, "tilt": 0.0,
                   "roll": 0.0, "zoom": 0.0},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("size", "fmt", "noise"),
    [
        ((200, 150), "PNG", False),  # too small: upscaled to >= 300 px
        ((1600, 400), "JPEG", False),  # 4:1 panorama: cropped to 2.5:1
        ((2000, 1800), "PNG", True),  # noise PNG over 10 MB: re-encoded as JPEG
        ((640, 480), "WEBP", False),  # WebP is not accepted by Kling: converted
    ],
)
async def test_unacceptable_photos_are_fixed_before_upload(
    fake: FakeKling,
    kling: KlingVideoProvider,
    tmp_path: Path,
    size: tuple[int, int],
    fmt: str,
    noise: bool,
) -> None:
    photo = write_photo(tmp_path / f"in.{fmt.lower()}", size, fmt=fmt, noise=noise)
    if noise:
        assert photo.stat().st_size > 10 * 1024 * 1024
    await kling.submit(make_request(tmp_path, image_path=photo))
    image = fake.create_bodies[-1]["image"]  # the fake decoded and accepted it
    assert image["format"] == "JPEG" and image["data_prefix"] is False
    assert min(image["width"], image["height"]) >= 300
    assert max(image["width"], image["height"]) <= 2.5 * min(image["width"], image["height"])
    assert image["bytes"] <= 10 * 1024 * 1024
    assert fake.stats()["creates"] == 1


async def test_unreadable_photo_is_invalid_without_calling_kling(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture at all")
    with pytest.raises(ProviderError) as caught:
        await kling.submit(make_request(tmp_path, image_path=bad))
    assert caught.value.kind is ErrorKind.INVALID
    assert fake.stats()["create_requests"] == 0


# --- errors and retries -----------------------------------------------------------------


async def test_balance_exhausted_is_not_retried(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    fake.inject_create(1102)
    with pytest.raises(ProviderError) as caught:
        await kling.submit(make_request(tmp_path))
    err = caught.value
    assert (err.kind, err.code, err.retryable) == (ErrorKind.BALANCE, 1102, False)
    assert "resource pack" in err.detail and "request_id=fake-" in err.detail
    assert err.may_have_created is False
    stats = fake.stats()
    assert (stats["create_requests"], stats["creates"]) == (1, 0)


@pytest.mark.parametrize(("code", "kind"), [(1302, "rate_limited"), (1303, "busy")])
async def test_throttling_is_retried_with_backoff(
    fake: FakeKling,
    kling: KlingVideoProvider,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    code: int,
    kind: str,
) -> None:
    fake.inject_create(code, times=2)
    caplog.set_level(logging.WARNING, logger="bot.providers.kling")
    task_id = await kling.submit(make_request(tmp_path))
    stats = fake.stats()
    assert (stats["create_requests"], stats["creates"]) == (3, 1)
    assert list(stats["tasks"]) == [task_id]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all(f"code={code}" in w and f"kind={kind}" in w and "request_id=fake-" in w
               for w in warnings)  # fmt: skip


async def test_server_errors_are_retried_then_given_up(fake: FakeKling, tmp_path: Path) -> None:
    provider = provider_for(fake, max_attempts=3)
    try:
        fake.inject_create(5001)  # maintenance blip: retried, then the create goes through
        request = make_request(tmp_path)
        task_id = await provider.submit(request)
        assert fake.stats()["create_requests"] == 2

        fake.inject_query(5000, times=2)  # polls are retried too
        status = await provider.status(request, task_id)
        assert status.state in ("submitted", "processing", "succeed")

        fake.inject_query(5001, times=10)  # a long outage: bounded attempts, then TRANSIENT
        queries_before = fake.stats()["queries"]
        with pytest.raises(ProviderError) as caught:
            await provider.status(request, task_id)
        assert (caught.value.kind, caught.value.code) == (ErrorKind.TRANSIENT, 5001)
        assert fake.stats()["queries"] - queries_before == 3
    finally:
        await provider.aclose()


@pytest.mark.parametrize("mode", ["delay", "drop"])
async def test_create_whose_answer_was_lost_is_found_not_repeated(
    fake: FakeKling, tmp_path: Path, mode: str
) -> None:
    """The create reached Kling (and will be billed) but we never saw the answer."""
    fake.hang_create(mode, seconds=3.0)
    provider = provider_for(fake, timeout=0.5)
    try:
        request = make_request(tmp_path)
        task_id = await provider.submit(request)
    finally:
        await provider.aclose()
    stats = fake.stats()
    assert stats["creates"] == 1 and stats["create_requests"] == 1
    assert stats["creates_by_external_id"] == {request.external_id: 1}
    assert stats["tasks"][task_id]["external_task_id"] == request.external_id


async def test_5002_that_created_the_task_is_found_not_repeated(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    fake.inject_create(5002, created=True)
    request = make_request(tmp_path)
    task_id = await kling.submit(request)
    stats = fake.stats()
    assert (stats["creates"], stats["create_requests"]) == (1, 1)
    assert list(stats["tasks"]) == [task_id]


async def test_5000_without_a_task_is_created_once_after_lookup(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    fake.inject_create(5000, created=False)
    request = make_request(tmp_path)
    await kling.submit(request)
    stats = fake.stats()
    assert stats["create_requests"] == 2 and stats["creates"] == 1
    assert stats["queries"] >= 1  # looked up by external id before creating again


async def test_resubmitting_the_same_take_returns_the_existing_task(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    """A worker restarted mid-create submits again: Kling's unique external id saves us."""
    request = make_request(tmp_path)
    first = await kling.submit(request)
    second = await kling.submit(request)
    assert first == second
    assert await kling.find(request) == first
    stats = fake.stats()
    assert (stats["creates"], stats["create_requests"]) == (1, 2)


async def test_creates_are_capped_per_process(fake: FakeKling, tmp_path: Path) -> None:
    """Slots are per account: we queue our own creates instead of provoking 1303."""
    fake.hang_create("delay", seconds=0.2, times=3)  # each create takes a while to answer
    provider = provider_for(fake, max_concurrent=1)
    try:
        requests = [make_request(tmp_path) for _ in range(3)]
        task_ids = await asyncio.gather(*(provider.submit(r) for r in requests))
    finally:
        await provider.aclose()
    stats = fake.stats()
    assert len(set(task_ids)) == 3 and stats["creates"] == 3
    assert stats["max_creates_in_flight"] == 1


async def test_find_unknown_external_id_is_none(kling: KlingVideoProvider, tmp_path: Path) -> None:
    assert await kling.find(make_request(tmp_path)) is None


async def test_invalid_parameters_are_reported_not_retried(
    fake: FakeKling, tmp_path: Path
) -> None:
    provider = provider_for(fake, model="kling-v9-imaginary")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(make_request(tmp_path))
    finally:
        await provider.aclose()
    # Kling would answer 1203; the client knows the live models and never sends it.
    assert caught.value.kind == ErrorKind.INVALID
    assert "kling-v9-imaginary" in caught.value.detail and "kling-v3" in caught.value.detail
    assert fake.stats()["create_requests"] == 0


# --- moderation ---------------------------------------------------------------------------


async def test_moderation_failure_after_submit_is_content_rejected(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    fake.fail_next_tasks(RISK_MESSAGE)
    request = make_request(tmp_path)
    task_id = await kling.submit(request)
    status, _ = await wait_until_done(kling, request, task_id)
    assert status.state == "failed"
    assert status.content_rejected is True
    assert status.message == RISK_MESSAGE
    assert status.result_url is None


async def test_other_task_failures_are_not_blamed_on_content(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    fake.fail_next_tasks("Internal generation error, please retry")
    request = make_request(tmp_path)
    status, _ = await wait_until_done(kling, request, await kling.submit(request))
    assert (status.state, status.content_rejected) == ("failed", False)


async def test_moderation_refusal_on_create_is_content(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    fake.inject_create(1301)
    with pytest.raises(ProviderError) as caught:
        await kling.submit(make_request(tmp_path))
    assert (caught.value.kind, caught.value.code) == (ErrorKind.CONTENT, 1301)
    assert fake.stats()["create_requests"] == 1


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access_key", "secret_key", "code"),
    [
        (FAKE_ACCESS_KEY, "wrong-secret-key-SHOULD-NEVER-BE-LOGGED-42", 1002),
        ("wrong-access-key-0000000000000000", FAKE_SECRET_KEY, 1000),
    ],
)
async def test_bad_keys_are_auth_errors_that_never_leak(
    fake: FakeKling,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    access_key: str,
    secret_key: str,
    code: int,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx included
    clock = FakeClock()
    provider = provider_for(fake, access_key=access_key, secret_key=secret_key, clock=clock)
    request = make_request(tmp_path)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.submit(request)
        with pytest.raises(ProviderError) as caught_status:
            await provider.status(request, "123")
        provider_repr = repr(provider)
    finally:
        await provider.aclose()
    token = KlingJwt(access_key, secret_key, clock).token()  # what the provider sent
    for err in (caught.value, caught_status.value):
        assert (err.kind, err.code, err.retryable) == (ErrorKind.AUTH, code, False)
    assert fake.stats()["create_requests"] == 1  # not retried
    assert caplog.records  # the failures were logged...
    texts = [
        str(caught.value),
        repr(caught.value),
        caught.value.detail,
        json.dumps(caught.value.extra),
        str(caught_status.value),
        caplog.text,
        provider_repr,
    ]
    for text in texts:  # ...but neither the secret key nor the JWT appears anywhere
        assert secret_key not in text and FAKE_SECRET_KEY not in text
        assert token not in text


async def test_jwt_is_verified_and_renewed_before_it_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    start = int(clock.now)
    with FakeKling(task_seconds=0.3, clock=clock) as fake:
        provider = KlingVideoProvider(
            FAKE_ACCESS_KEY, FAKE_SECRET_KEY, fake.url, clock=clock, backoff_base_s=0.01
        )
        try:
            request = make_request(tmp_path)
            task_id = await provider.submit(request)
            clock.advance(1000)  # 800 s left: the cached token is still used
            await provider.status(request, task_id)
            assert fake.stats()["tokens_seen"] == [{"exp": start + 1800, "nbf": start - 5}]

            clock.advance(650)  # 150 s left: renewed before Kling could say 1004
            status = await provider.status(request, task_id)
            assert status.state == "succeed"
            renewed = start + 1650
            assert fake.stats()["tokens_seen"] == [
                {"exp": start + 1800, "nbf": start - 5},
                {"exp": renewed + 1800, "nbf": renewed - 5},
            ]
            assert fake.stats()["auth_failures"] == {}
        finally:
            await provider.aclose()


async def test_expired_token_is_resigned_once_never_looped(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    request = make_request(tmp_path)
    task_id = await kling.submit(request)

    fake.inject_auth(1004)  # Kling says expired once: re-sign, repeat, fine
    await kling.status(request, task_id)
    assert fake.stats()["auth_failures"] == {"1004": 1}

    fake.inject_auth(1004, times=5)  # keeps saying it: one re-sign, then AUTH
    with pytest.raises(ProviderError) as caught:
        await kling.status(request, task_id)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, 1004)
    assert fake.stats()["auth_failures"] == {"1004": 3}


async def test_clock_far_behind_gives_auth_error_not_a_loop(tmp_path: Path) -> None:
    """Our host clock 40 min slow: every token is already expired for Kling."""
    server_clock = FakeClock()
    our_clock = FakeClock(server_clock.now - 2400)
    with FakeKling(clock=server_clock) as fake:
        provider = provider_for(fake, clock=our_clock)
        try:
            with pytest.raises(ProviderError) as caught:
                await provider.find(make_request(tmp_path))
        finally:
            await provider.aclose()
        assert (caught.value.kind, caught.value.code) == (ErrorKind.AUTH, 1004)
        assert fake.stats()["auth_failures"] == {"1004": 2}


# --- downloads --------------------------------------------------------------------------


@pytest.mark.parametrize("http_status", [403, 404, 410])
async def test_expired_result_url_is_expired(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path, http_status: int
) -> None:
    request = make_request(tmp_path)
    task_id = await kling.submit(request)
    status, _ = await wait_until_done(kling, request, task_id)
    fake.configure({"result_status": http_status})
    dest = tmp_path / "out" / "clip.mp4"
    with pytest.raises(ProviderError) as caught:
        await kling.download(request, task_id, status, dest)
    assert caught.value.kind is ErrorKind.EXPIRED
    assert not dest.exists() and leftovers(dest.parent) == []
    assert fake.stats()["downloads"] == 1  # not retried


async def test_corrupt_download_is_refetched_then_refused(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    request = make_request(tmp_path)
    task_id = await kling.submit(request)
    status, _ = await wait_until_done(kling, request, task_id)
    fake.configure({"corrupt_results": True})
    dest = tmp_path / "out" / "clip.mp4"
    with pytest.raises(ProviderError) as caught:
        await kling.download(request, task_id, status, dest)
    assert caught.value.kind is ErrorKind.INVALID
    assert "not a playable" in caught.value.detail
    assert not dest.exists() and leftovers(dest.parent) == []
    assert fake.stats()["downloads"] == 4  # max_attempts: a cut-off transfer gets retries

    fake.configure({"corrupt_results": False})  # the next fetch is fine again
    clip = await kling.download(request, task_id, status, dest)
    assert clip.width == 320 and dest.exists()


# --- callbacks --------------------------------------------------------------------------


def test_parse_callback_accepts_both_shapes() -> None:
    flat = {
        "task_id": "8661",
        "task_status": "succeed",
        "task_info": {"external_task_id": "take-1"},
        "task_result": {"videos": [{"id": "v", "url": "https://x/y.mp4", "duration": "5"}]},
    }
    assert parse_callback(flat) == ("8661", "take-1")
    assert parse_callback({"code": 0, "message": "", "request_id": "r", "data": flat}) == (
        "8661",
        "take-1",
    )
    assert parse_callback({"task_id": 8661, "task_status": "processing"}) == ("8661", None)
    assert parse_callback({"hello": "world"}) is None
    assert parse_callback({"code": 0, "data": None}) is None


async def test_callback_is_posted_when_the_task_changes(
    fake: FakeKling, kling: KlingVideoProvider, tmp_path: Path
) -> None:
    with CallbackReceiver() as receiver:
        request = make_request(tmp_path, callback_url=receiver.url)
        task_id = await kling.submit(request)
        arrived = await asyncio.to_thread(
            receiver.wait_for,
            lambda bodies: any(b.get("task_status") == "succeed" for b in bodies),
            10.0,
        )
        assert arrived, receiver.bodies
        hints = {parse_callback(body) for body in receiver.bodies}
        assert hints == {(task_id, request.external_id)}
        assert [b["task_status"] for b in receiver.bodies][-1] == "succeed"
    # A callback is only a hint: the runner re-queries before trusting it.
    assert (await kling.status(request, task_id)).state == "succeed"


# --- small contract facts ------------------------------------------------------------------


def test_string_code_and_unknown_state_are_tolerated() -> None:
    assert KlingEnvelope.model_validate({"code": "0", "data": {}}).code == 0
    status = task_status_from(KlingTask(task_id="1", task_status="queueing"))
    assert status.state == "processing"


def test_from_settings_needs_both_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        KlingVideoProvider.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        KLING_ACCESS_KEY=FAKE_ACCESS_KEY,
        KLING_SECRET_KEY=FAKE_SECRET_KEY,
        KLING_API_URL="http://127.0.0.1:1",
        KLING_MODEL="kling-v2-6",
    )
    provider = KlingVideoProvider.from_settings(settings)
    assert provider.model == "kling-v2-6" and provider.name == "kling"
    assert FAKE_SECRET_KEY not in repr(provider)
    asyncio.run(provider.aclose())


def test_fake_runs_as_a_separate_process(tmp_path: Path) -> None:
    """Crash-safety tests drive the fake as a subprocess and read its counters over HTTP."""
    state_file = tmp_path / "fake-state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_kling", "--port", "0",
         "--task-seconds", "0.3", "--state-file", str(state_file)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        request = make_request(tmp_path)
        task_id, stats = asyncio.run(_submit_through_subprocess_fake(port, request))
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0  # SIGTERM is a clean shutdown
    assert stats["creates"] == 1 and stats["create_requests"] == 2  # one 1303, one retry
    assert stats["creates_by_external_id"] == {request.external_id: 1}
    assert stats["tasks"][task_id]["external_task_id"] == request.external_id
    saved = json.loads(state_file.read_text())
    assert [t["task_id"] for t in saved["tasks"]] == [task_id]


async def _submit_through_subprocess_fake(
    port: int, request: VideoRequest
) -> tuple[str, dict[str, Any]]:
    url = f"http://127.0.0.1:{port}"
    provider = KlingVideoProvider(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, url, backoff_base_s=0.01)
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            await client.post("/_fake/config", json={"inject_create": {"code": 1303}})
            task_id = await provider.submit(request)
            return task_id, (await client.get("/_fake/stats")).json()
    finally:
        await provider.aclose()
