"""Kling's image endpoint classifies errors by the one Kling table, like video does.

Against the fake's `/v1/images/generations` (strict per providers.md 1.11): moderation is
the user's photo, not invalid input; throttling and server errors are retried; a create
whose answer was lost is looked up by our external id, never paid for twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.media.sample import sample_photo
from bot.providers.kling.errors import rule_for
from bot.providers.kling.stills import KlingStills
from bot.providers.registry import build_still_maker
from tests.conftest import make_settings
from tests.fakes.fake_kling import (
    FAKE_ACCESS_KEY,
    FAKE_API_KEY,
    FAKE_SECRET_KEY,
    HTTP_FOR_CODE,
    FakeKling,
)


@pytest.fixture
def fake() -> Iterator[FakeKling]:
    with FakeKling(task_seconds=0.05) as server:
        yield server


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(sample_photo(width=480, height=360))
    return path


def stills_for(fake: FakeKling, **kwargs: Any) -> KlingStills:
    options: dict[str, Any] = {"poll_s": 0.02, "backoff_base_s": 0.01}
    options.update(kwargs)
    return KlingStills(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, fake.url, **options)


async def make(fake: FakeKling, photo: Path) -> bytes:
    maker = stills_for(fake)
    try:
        return await maker.make(photo, seed=1)
    finally:
        await maker.aclose()


async def test_a_still_is_made_through_the_fake(fake: FakeKling, photo: Path) -> None:
    # The fake refuses retired image models (kling-v2) and v2-1-only fields elsewhere.
    jpeg = await make(fake, photo)
    assert jpeg[:2] == b"\xff\xd8"
    assert fake.stats()["image_creates"] == 1


async def test_the_console_api_key_alone_makes_stills(
    fake: FakeKling, photo: Path, tmp_path: Path
) -> None:
    # The image route is an old-standard /v1 route: it takes the API key like video does.
    settings = make_settings(tmp_path, KLING_API_KEY=FAKE_API_KEY, KLING_API_URL=fake.url)
    maker = build_still_maker(settings)
    assert isinstance(maker, KlingStills)
    try:
        assert (await maker.make(photo, seed=1))[:2] == b"\xff\xd8"
    finally:
        await maker.aclose()
    assert fake.stats()["image_creates"] == 1
    assert FAKE_API_KEY not in repr(maker)
    # A wrong key is the operator's to fix, and never shown.
    wrong = KlingStills(None, None, fake.url, api_key="api-key-kling-wrong", poll_s=0.02)
    try:
        with pytest.raises(ProviderError) as error:
            await wrong.make(photo, seed=1)
    finally:
        await wrong.aclose()
    assert error.value.kind is ErrorKind.AUTH and "api-key-kling-wrong" not in str(error.value)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1301, ErrorKind.CONTENT),  # moderation: the user's photo, not "invalid input"
        (1300, ErrorKind.CONTENT),
        (1102, ErrorKind.BALANCE),  # out of money: the operator's, never retried
        (1100, ErrorKind.BALANCE),  # account exception (HTTP 429, yet not throttling)
        (1304, ErrorKind.PERMISSION),  # IP whitelist (HTTP 429, yet not throttling)
        (1103, ErrorKind.PERMISSION),
        (1201, ErrorKind.INVALID),
    ],
)
async def test_image_errors_that_are_not_retried_follow_the_kling_table(
    fake: FakeKling, photo: Path, code: int, kind: ErrorKind
) -> None:
    fake.inject_image_create(code, times=5)
    with pytest.raises(ProviderError) as error:
        await make(fake, photo)
    assert error.value.kind is kind is rule_for(code, HTTP_FOR_CODE[code]).kind
    assert error.value.code == code
    assert fake.stats()["image_create_requests"] == 1  # not retried
    assert fake.stats()["image_creates"] == 0


@pytest.mark.parametrize("code", [1302, 1303, 5001])
async def test_throttling_and_outages_on_image_create_are_retried(
    fake: FakeKling, photo: Path, code: int
) -> None:
    fake.inject_image_create(code, times=2)
    assert (await make(fake, photo))[:2] == b"\xff\xd8"
    assert rule_for(code, HTTP_FOR_CODE[code]).retry
    assert fake.stats()["image_create_requests"] == 3
    assert fake.stats()["image_creates"] == 1


@pytest.mark.parametrize("code", [5000, 5002])
async def test_a_server_error_that_made_the_image_task_is_found_not_repeated(
    fake: FakeKling, photo: Path, code: int
) -> None:
    fake.inject_image_create(code, times=1, created=True)
    assert (await make(fake, photo))[:2] == b"\xff\xd8"
    stats = fake.stats()
    assert stats["image_creates"] == 1 and stats["image_create_requests"] == 1
    assert list(stats["image_creates_by_external_id"].values()) == [1]


@pytest.mark.parametrize("code", [5000, 5002])
async def test_a_server_error_without_a_task_is_retried_once_looked_up(
    fake: FakeKling, photo: Path, code: int
) -> None:
    fake.inject_image_create(code, times=1)
    assert (await make(fake, photo))[:2] == b"\xff\xd8"
    assert fake.stats()["image_creates"] == 1
    assert fake.stats()["lookups"].get("list", 0) >= 1  # proved missing before creating


async def test_a_still_failed_by_risk_control_is_content(fake: FakeKling, photo: Path) -> None:
    fake.fail_next_tasks()
    with pytest.raises(ProviderError) as error:
        await make(fake, photo)
    assert error.value.kind is ErrorKind.CONTENT
