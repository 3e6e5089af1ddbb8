"""The photo a vision LLM sees is made once, at intake, and sent as it is afterwards.

Drafting, 🔄 New draft and every refinement send the small JPEG intake stored beside the
photo: no photo is decoded on the event loop per draft. A shot from before intake made that
copy still drafts with its photo: the copy is made once, off the loop, and kept.
"""

from __future__ import annotations

import base64
import io
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.domain.types import Actor, Sender
from bot.media import intake
from bot.media.intake import LLM_MAX_SIDE, llm_copy_path
from bot.media.sample import sample_photo
from bot.providers.offline.video import OfflineVideoProvider
from bot.providers.openai import llm as llm_module
from bot.providers.openai.llm import LLMDrafter
from bot.services import Services
from bot.services import drafting as drafting_module
from bot.wiring import build_use_cases
from storage.db import Database
from tests.conftest import make_settings
from tests.fakes.fake_openai import FakeOpenAI


@dataclass
class World:
    services: Services
    fake: FakeOpenAI
    actor: Actor


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def world(database: Database, tmp_path: Path, fake: FakeOpenAI) -> AsyncIterator[World]:
    settings = make_settings(tmp_path)
    drafter = LLMDrafter(fake.api_key, "gpt-4o-mini", fake.base_url, timeout=3, max_retries=0)
    services = build_use_cases(
        settings, database, drafter, {"offline": OfflineVideoProvider()}, "offline"
    )
    try:
        actor = await services.accounts.enter(Sender(user_id=501, chat_id=501))
        yield World(services, fake, actor)
    finally:
        await drafter.aclose()


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every photo decode the drafter or the shot's copy could do, by name, as it happens."""
    calls: list[str] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return counted

    real_data_url = llm_module.image_data_url
    monkeypatch.setattr(llm_module, "image_data_url", spy("image_data_url", real_data_url))
    monkeypatch.setattr(drafting_module, "llm_jpeg_of", spy("llm_jpeg_of", intake.llm_jpeg_of))
    monkeypatch.setattr(Image, "open", spy("Image.open", Image.open))
    return calls


def sent_image(body: dict[str, Any]) -> bytes:
    """The JPEG bytes of the one image in a chat request."""
    (url,) = [
        part["image_url"]["url"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url.removeprefix(prefix))


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


async def test_drafts_and_refinements_send_intakes_copy_without_decoding_the_photo(
    world: World, decodes: list[str]
) -> None:
    outcome = await world.services.drafting.add_photo(
        world.actor, sample_photo(width=1280, height=960), "Boats glide along the river"
    )
    assert outcome.revision is not None
    copy = llm_copy_path(Path(outcome.shot.photo_path))
    stored = copy.read_bytes()
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    assert max(jpeg_size(stored)) <= LLM_MAX_SIDE
    decodes.clear()  # intake decodes the photo once, on its worker thread; from here, none

    refined = (
        await world.services.drafting.refine(world.actor, outcome.revision.id, "slower boats")
    ).revision
    await world.services.drafting.redraft(world.actor, refined.shot_id)

    assert decodes == []
    sent = [sent_image(body) for body in world.fake.requests]
    assert sent == [stored, stored, stored]  # the first draft, the refinement, the new draft


async def test_a_shot_without_a_copy_still_drafts_with_its_photo_and_keeps_the_copy_made(
    world: World, decodes: list[str]
) -> None:
    outcome = await world.services.drafting.add_photo(
        world.actor, sample_photo(width=1280, height=960), "Boats glide along the river"
    )
    assert outcome.revision is not None
    copy = llm_copy_path(Path(outcome.shot.photo_path))
    copy.unlink()  # a shot stored before intake made the copy
    decodes.clear()

    refined = (
        await world.services.drafting.refine(world.actor, outcome.revision.id, "slower boats")
    ).revision
    assert refined.drafter.startswith("llm:")
    made = copy.read_bytes()
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    assert sent_image(world.fake.requests[-1]) == made
    assert max(jpeg_size(made)) <= LLM_MAX_SIDE
    assert decodes.count("llm_jpeg_of") == 1 and "image_data_url" not in decodes

    decodes.clear()
    await world.services.drafting.refine(world.actor, refined.id, "and a red boat")
    assert decodes == []  # made once, then reused
    assert sent_image(world.fake.requests[-1]) == made


async def test_a_shot_whose_photo_is_gone_drafts_from_the_text(world: World) -> None:
    outcome = await world.services.drafting.add_photo(
        world.actor, sample_photo(width=1280, height=960), "Boats glide along the river"
    )
    assert outcome.revision is not None
    llm_copy_path(Path(outcome.shot.photo_path)).unlink()
    Path(outcome.shot.photo_path).unlink()  # noqa: ASYNC240 - a test's setup

    refined = (
        await world.services.drafting.refine(world.actor, outcome.revision.id, "slower boats")
    ).revision

    assert refined.prompt
    last = world.fake.requests[-1]
    assert not any(isinstance(message["content"], list) for message in last["messages"])
