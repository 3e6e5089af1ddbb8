"""Vidu's contract points, each against the fake Vidu with the real httpx client.

First + last frame through start-end2video, the task list as the lookup after a crash,
the limits checked before anything is reserved or sent, and `audio` said out loud on q3.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.config import ConfigError
from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.types import Sender, VideoRequest
from bot.media.sample import sample_photo
from bot.providers.registry import build_providers
from bot.providers.vidu import ImageRefused, ViduVideoProvider, frame_uri
from bot.runner import JobRunner, RunnerPolicy
from bot.wiring import Wiring, build_runner, build_services
from tests.conftest import make_settings
from tests.fakes.fake_vidu import FAKE_VIDU_KEY, FakeVidu, FakeViduTask
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


def picture(path: Path, width: int, height: int, fmt: str = "JPEG") -> Path:
    Image.open(io.BytesIO(sample_photo(width=width, height=height))).save(path, fmt)
    return path


def request_for(image: Path, **fields: Any) -> VideoRequest:
    values: dict[str, Any] = {
        "external_id": "ext-1",
        "image_path": image,
        "prompt": "clay boats glide along the river",
    }
    values.update(fields)
    return VideoRequest(**values)


def decoded_size(uri: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2]))) as image:
        return image.size


# --- first and last frame -----------------------------------------------------------------


async def test_an_end_frame_goes_through_start_end2video_cropped_to_the_start(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    start = picture(tmp_path / "start.jpg", 640, 480)
    end = picture(tmp_path / "end.jpg", 480, 640)  # portrait: 0.56 of the start's aspect
    await vidu.submit(request_for(start, image_tail_path=end))
    assert fake.endpoints == ["start-end2video"]
    first, last = fake.creates[0]["images"]
    assert first == f"data:image/jpeg;base64,{base64.b64encode(start.read_bytes()).decode()}"
    width, height = decoded_size(last)
    assert abs(width / height - 640 / 480) < 0.01  # the end frame now has the start's shape


async def test_without_an_end_frame_img2video_is_used(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    await vidu.submit(request_for(picture(tmp_path / "start.jpg", 640, 480)))
    assert fake.endpoints == ["img2video"] and len(fake.creates[0]["images"]) == 1


# --- what the fake refuses, as Vidu does ----------------------------------------------------


def jpeg_uri(width: int, height: int) -> str:
    data = sample_photo(width=width, height=height)
    return f"data:image/jpeg;base64,{base64.b64encode(data).decode()}"


def noise_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        out, "PNG", compress_level=1
    )
    return out.getvalue()


def body(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "model": "viduq2-turbo",
        "images": [jpeg_uri(640, 480)],
        "prompt": "clay boats",
        "duration": 5,
    }
    values.update(fields)
    return values


@pytest.mark.parametrize(
    ("path", "fields", "why"),
    [
        ("img2video", {"model": "vidu-x"}, "model is not supported"),
        ("img2video", {"prompt": "p" * 2001}, "prompt exceeds 2000"),
        ("img2video", {"model": "viduq1", "prompt": "p" * 1501}, "prompt exceeds 1500"),
        ("img2video", {"model": "viduq3-pro", "prompt": "p" * 5001}, "prompt exceeds 5000"),
        ("img2video", {"images": [jpeg_uri(1000, 200)]}, "between 1:4 and 4:1"),
        ("img2video", {"images": [jpeg_uri(100, 100)]}, "smaller than 128"),
        ("img2video", {"images": [jpeg_uri(640, 480)] * 2}, "exactly 1"),
        ("start-end2video", {}, "exactly 2"),
        (
            "start-end2video",
            {"images": [jpeg_uri(640, 480), jpeg_uri(480, 640)]},
            "similar aspect ratios",
        ),
        (
            "start-end2video",
            {"images": [jpeg_uri(640, 480)] * 2, "duration": 10},
            "at most 8 s",
        ),
    ],
)
async def test_the_fake_refuses_what_vidu_refuses(
    fake: FakeVidu, path: str, fields: dict[str, Any], why: str
) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Token {FAKE_VIDU_KEY}"}) as http:
        answer = await http.post(f"{fake.url}/{path}", json=body(**fields))
    assert answer.status_code == 400 and why in answer.json()["message"]
    assert fake.creates == []


async def test_the_fake_refuses_an_image_of_10_mb_and_accepts_the_task_list(
    fake: FakeVidu,
) -> None:
    big = noise_png(1900, 1900)
    assert len(big) >= 10 * 1024 * 1024
    uri = f"data:image/png;base64,{base64.b64encode(big).decode()}"
    async with httpx.AsyncClient(headers={"Authorization": f"Token {FAKE_VIDU_KEY}"}) as http:
        refused = await http.post(f"{fake.url}/img2video", json=body(images=[uri]))
        made = await http.post(f"{fake.url}/img2video", json=body(payload="ours"))
        listed = await http.get(f"{fake.url}/tasks", params={"pager.pagesz": 100})
        too_many = await http.get(f"{fake.url}/tasks", params={"pager.pagesz": 101})
    assert refused.status_code == 400 and "under 10 MB" in refused.json()["message"]
    assert made.status_code == 200
    [task] = listed.json()["tasks"]
    assert task["id"] == made.json()["task_id"] and task["payload"] == "ours"
    assert too_many.status_code == 400


# --- limits, checked before sending ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "length", "refused"),
    [
        ("viduq2-turbo", 2000, False),
        ("viduq2-turbo", 2001, True),
        ("viduq1", 1501, True),
        ("vidu2.0", 1500, False),
        ("viduq3-turbo", 5000, False),
        ("viduq3-pro", 5001, True),
    ],
)
async def test_a_prompt_over_the_models_limit_is_refused_before_sending(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path, model: str, length: int, refused: bool
) -> None:
    request = request_for(
        picture(tmp_path / "p.jpg", 640, 480), model=model, prompt="p" * length, duration=4
    )
    refusal = await vidu.refusal(request)
    if not refused:
        assert refusal is None
        await vidu.submit(request)  # and the fake agrees it is fine
        assert len(fake.creates) == 1
        return
    assert refusal is not None and refusal.key == "vidu.prompt_too_long"
    assert refusal.params["limit"] == {"viduq2-turbo": 2000, "viduq1": 1500}.get(model, 5000)
    with pytest.raises(ProviderError) as error:
        await vidu.submit(request)
    assert error.value.kind is ErrorKind.INVALID
    assert fake.auth_headers == []  # nothing was sent


async def test_an_unknown_model_is_refused_at_start_up_naming_the_setting(
    tmp_path: Path, vidu: ViduVideoProvider
) -> None:
    settings = make_settings(tmp_path, vidu_api_key=FAKE_VIDU_KEY, vidu_model="vidu-q9")
    with pytest.raises(ConfigError, match=r"^VIDU_MODEL: 'vidu-q9' is not a Vidu model"):
        build_providers(settings)
    refusal = await vidu.refusal(request_for(tmp_path / "none.jpg", model="kling-v2-6"))
    assert refusal is not None and refusal.key == "vidu.model_unknown"


async def test_an_image_over_10_mb_is_re_encoded_smaller_and_accepted(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(noise_png(1900, 1900))
    assert big.stat().st_size >= 10 * 1024 * 1024
    assert await vidu.refusal(request_for(big)) is None
    await vidu.submit(request_for(big))
    [uri] = fake.creates[0]["images"]
    assert uri.startswith("data:image/jpeg;base64,")
    assert len(base64.b64decode(uri.partition(",")[2])) < 10 * 1024 * 1024


def test_an_image_that_cannot_be_made_small_enough_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageRefused) as refused:
        frame_uri(picture(tmp_path / "p.jpg", 640, 480), cap=200)
    assert refused.value.key == "vidu.image_too_large"


async def test_a_panorama_is_cropped_to_4_to_1_and_a_tiny_picture_refused(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    wide = picture(tmp_path / "wide.jpg", 1200, 200)  # 6:1
    await vidu.submit(request_for(wide))
    assert decoded_size(fake.creates[0]["images"][0]) == (800, 200)

    tiny = await vidu.refusal(request_for(picture(tmp_path / "tiny.jpg", 120, 90)))
    assert tiny is not None and tiny.key == "vidu.image_too_small"
    assert tiny.params == {"side": 90, "min": 128}
    # Cropping a thin strip to 4:1 would leave it under 128 px: refused, not sent.
    strip = await vidu.refusal(request_for(picture(tmp_path / "strip.jpg", 700, 100)))
    assert strip is not None and strip.key == "vidu.image_too_small"
    assert len(fake.creates) == 1


# --- sound ------------------------------------------------------------------------------------


async def test_q3_is_told_no_sound_unless_the_provider_allows_it(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    photo = picture(tmp_path / "p.jpg", 640, 480)
    await vidu.submit(request_for(photo, model="viduq3-turbo"))
    assert fake.creates[-1]["audio"] is False
    await vidu.submit(request_for(photo))  # q2 has no sound: nothing to say
    assert "audio" not in fake.creates[-1]
    loud = ViduVideoProvider(FAKE_VIDU_KEY, fake.url, "viduq3-pro", sound=True)
    try:
        await loud.submit(request_for(photo))
    finally:
        await loud.aclose()
    assert fake.creates[-1]["audio"] is True


async def test_a_take_with_sound_asks_q3_for_it_and_the_rules_say_which_models_make_it(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    photo = picture(tmp_path / "p.jpg", 640, 480)
    await vidu.submit(request_for(photo, model="viduq3-turbo", sound=True))
    assert fake.creates[-1]["audio"] is True
    # The draft's 🔊 toggle and its price come from these rules.
    assert vidu.takes_sound("viduq3-pro", "std") and not vidu.takes_sound("viduq2-turbo", "pro")
    assert vidu.end_frame_mode("viduq2-turbo", "pro") == "pro"  # start-end2video, any mode
    assert vidu.end_frame_mode("vidu-unknown", "std") is None


# --- the task list as lookup ------------------------------------------------------------------


def old_tasks(fake: FakeVidu, count: int, payload: str | None = "someone-else") -> None:
    for n in range(count):
        body = {"model": "viduq2-turbo", "payload": payload} if payload is not None else {}
        fake.tasks[f"old-{n}"] = FakeViduTask(f"old-{n}", body, created_at=-1.0 - n)


async def test_find_pages_through_the_list_to_our_payload(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    request = request_for(picture(tmp_path / "p.jpg", 640, 480), external_id="ours")
    task_id = await vidu.submit(request)
    old_tasks(fake, 150)
    fake.tasks[task_id].created_at = -1000.0  # the oldest: on the second page
    assert await vidu.find(request) == task_id
    assert len(fake.lists) == 2 and fake.lists[0]["pager.pagesz"] == ["100"]
    assert await vidu.find(request_for(request.image_path, external_id="never")) is None


async def test_a_list_that_cannot_tell_never_lets_a_create_repeat(
    vidu: ViduVideoProvider, fake: FakeVidu, tmp_path: Path
) -> None:
    request = request_for(picture(tmp_path / "p.jpg", 640, 480))
    old_tasks(fake, 3)
    fake.list_shows_payload = False
    with pytest.raises(ProviderError) as error:
        await vidu.find(request)
    assert error.value.kind is ErrorKind.UNKNOWN and error.value.may_have_created

    fake.list_shows_payload = True
    fake.fail_next_lists(503, times=10)
    with pytest.raises(ProviderError) as error:
        await vidu.find(request)
    assert error.value.may_have_created and error.value.kind is ErrorKind.TRANSIENT


# --- through the take machine -----------------------------------------------------------------


async def wiring_for(fake: FakeVidu, tmp_path: Path, database_url: str) -> Wiring:
    settings = make_settings(
        tmp_path, database_url=database_url, vidu_api_key=FAKE_VIDU_KEY, vidu_api_url=fake.url
    )
    wiring = await build_services(settings, migrate=False)
    wiring.providers["vidu"] = ViduVideoProvider(FAKE_VIDU_KEY, fake.url, backoff_base_s=0.01)
    return wiring


async def test_a_refused_prompt_holds_no_budget_and_makes_no_take(
    fake: FakeVidu, tmp_path: Path, database_url: str
) -> None:
    wiring = await wiring_for(fake, tmp_path, database_url)
    try:
        services = wiring.services
        actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
        outcome = await services.drafting.add_photo(
            actor, sample_photo(width=640, height=480), "boats"
        )
        assert outcome.revision is not None
        async with wiring.db.unit_of_work() as uow:
            revision = await uow.shots.get_revision(outcome.revision.id)
            assert revision is not None
            revision.prompt = "clay " * 500  # 2500 characters; q2 takes 2000
        with pytest.raises(StudioError) as refused:
            await services.generation.request_take(actor, outcome.revision.id)
        assert refused.value.key == "vidu.prompt_too_long"
        assert refused.value.params == {"model": "viduq2-turbo", "length": 2500, "limit": 2000}
        async with wiring.db.unit_of_work() as uow:
            assert await uow.takes.active_take_for_revision(outcome.revision.id) is None
        assert fake.auth_headers == []
    finally:
        await wiring.aclose()


class Killed(BaseException):
    """kill -9 at a crash point: nothing after it runs, no handler sees it."""


async def crash_after_create(
    fake: FakeVidu, wiring: Wiring, monkeypatch: pytest.MonkeyPatch, user_id: int
) -> int:
    """Queue a take and kill the runner once Vidu made its task, before the id is saved."""
    import bot.services.generation as generation

    def crash_point(name: str) -> None:
        if name == "created_not_saved":
            raise Killed(name)

    services = wiring.services
    actor = await services.accounts.enter(Sender(user_id=user_id, chat_id=user_id))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=640, height=480), "boats"
    )
    assert outcome.revision is not None
    take = (await services.generation.request_take(actor, outcome.revision.id)).take
    before = runner_for(wiring, RecordingObserver())
    monkeypatch.setattr(generation, "crash_point", crash_point)
    with pytest.raises(Killed):
        await before.run_until_finished(take.id)
    monkeypatch.undo()
    assert len(fake.creates) == 1
    stored = await before.machine.load(take.id)
    assert stored.status == "submitting" and stored.upstream_task_id is None
    # The restart: a new client, the same database.
    await wiring.providers["vidu"].aclose()
    wiring.providers["vidu"] = ViduVideoProvider(FAKE_VIDU_KEY, fake.url, backoff_base_s=0.01)
    return take.id


def runner_for(wiring: Wiring, observer: RecordingObserver) -> JobRunner:
    policy = RunnerPolicy(poll_interval_s=0.05, queue_recheck_s=0.05, tick_s=0.05)
    return build_runner(
        wiring.db,
        wiring.providers,
        observer,
        clips_dir=wiring.folders.clips,
        caps=wiring.caps,
        policy=policy,
    )


async def test_a_crash_after_create_is_recovered_from_the_list_and_delivered_once(
    fake: FakeVidu, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create sent, the bot dies before saving the task id; after the restart the task list
    finds it by our payload, and the clip is delivered without a second create."""
    wiring = await wiring_for(fake, tmp_path, database_url)
    try:
        take_id = await crash_after_create(fake, wiring, monkeypatch, user_id=8)
        observer = RecordingObserver()
        after = runner_for(wiring, observer)
        finished = await asyncio.wait_for(after.run_until_finished(take_id), timeout=30)
        assert finished.status == "delivered", finished.error_detail
        assert observer.delivered == [take_id]
        assert len(fake.creates) == 1 and finished.upstream_task_id in fake.tasks
        assert fake.lists  # found through the task list
    finally:
        await wiring.aclose()


async def test_after_a_crash_a_list_that_cannot_tell_fails_the_take_unpaid_twice(
    fake: FakeVidu, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same crash, but the list shows no payloads: the take fails, no second create."""
    wiring = await wiring_for(fake, tmp_path, database_url)
    try:
        take_id = await crash_after_create(fake, wiring, monkeypatch, user_id=9)
        fake.list_shows_payload = False
        after = runner_for(wiring, RecordingObserver())
        finished = await asyncio.wait_for(after.run_until_finished(take_id), timeout=30)
        assert finished.status == "failed" and finished.error_kind == "unknown"
        assert "cannot tell" in (finished.error_detail or "")
        assert len(fake.creates) == 1 and fake.lists
    finally:
        await wiring.aclose()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_refusal_fits_a_button_alert(lang: str) -> None:
    """Refusals reach the user as a callback alert, which Telegram cuts at 200 characters."""
    from bot.i18n import t

    params: dict[str, dict[str, Any]] = {
        "vidu.model_unknown": {"model": "viduq3-pro-fast"},
        "vidu.prompt_too_long": {"model": "viduq3-pro-fast", "length": 12345, "limit": 5000},
        "vidu.image_too_small": {"side": 127, "min": 128},
        "vidu.image_too_large": {"mb": 9},
        "vidu.image_unreadable": {},
    }
    for key, values in params.items():
        text = t(key, lang, **values)
        assert key not in text and "{" not in text and len(text) <= 200, key
