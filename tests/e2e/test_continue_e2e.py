"""A user keeps a take and presses ➡️ Continue: the bot shows the frame the next shot starts
from, asks what happens next, drafts the reply, and the provider is sent exactly that frame
(real bot, Bot API stub, fake Seedance)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.media.lastframe import last_frame
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, buttons, draft_for_photo, generate, is_draft
from tests.fakes.fake_seedance import FAKE_SEEDANCE_KEY, FakeSeedance
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import button_press, private_chat, private_user, text_update
from tests.integration.test_storyboard import COLOURS, solid_photo


@pytest.fixture
def seedance() -> FakeSeedance:
    return FakeSeedance(task_seconds=0.3)


@pytest.fixture
async def seedance_bot(
    stub: TelegramStub, tmp_path: Path, seedance: FakeSeedance
) -> AsyncIterator[RunningBot]:
    with seedance:
        settings = bot_settings(
            tmp_path, stub, seedance_api_key=FAKE_SEEDANCE_KEY, seedance_api_url=seedance.url
        )
        running = await start_bot(stub, settings)
        try:
            yield running
        finally:
            await stop_bot(running)


def first_frame(body: dict[str, Any]) -> bytes:
    url = next(i["image_url"]["url"] for i in body["content"] if i.get("role") == "first_frame")
    return base64.b64decode(url.partition(",")[2])


async def kept_clip(bot: RunningBot, description: str) -> tuple[bytes, dict[str, Any]]:
    """Send a photo, generate, ⭐ Keep: the delivered clip and its message, now kept."""
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[2]), description)
    video = await generate(bot, draft)
    clip_message = bot.sent_message(video)
    assert not any(d.startswith("ct:") for d in buttons(clip_message))  # not kept yet
    bot.push(button_press(bot.user, clip_message, button(clip_message, "k")))
    kept = await bot.wait_for("editMessageReplyMarkup")
    clip_message = {**clip_message, "reply_markup": kept.params["reply_markup"]}
    return video.uploads["video"].data, clip_message


async def continue_from(bot: RunningBot, clip_message: dict[str, Any], line: str) -> dict:
    """➡️ Continue, then reply to the frame with what happens next: the new draft."""
    bot.push(button_press(bot.user, clip_message, button(clip_message, "ct")))
    asked_call = await bot.wait_for("sendPhoto")
    assert "What happens next?" in asked_call.params["caption"]
    assert asked_call.params["reply_markup"]["force_reply"] is True
    asked = bot.sent_message(asked_call)
    bot.push(text_update(bot.chat, bot.user, line, reply_to=asked))
    return bot.sent_message(await bot.wait_for("sendMessage", is_draft, count=2, timeout=30))


async def test_continue_sends_the_clips_own_last_frame_to_the_provider(
    seedance_bot: RunningBot, seedance: FakeSeedance, tmp_path: Path
) -> None:
    seedance.returns_last_frame = False  # the frame comes from the clip itself
    bot = seedance_bot
    clip, clip_message = await kept_clip(bot, "a blue tram pulls into the stop")
    draft = await continue_from(bot, clip_message, "the doors open and a cat steps out")
    assert "shot 2" in draft["text"] and "cat" in draft["text"].lower()

    bot.push(button_press(bot.user, draft, button(draft, "g")))
    await bot.wait_for("sendVideo", count=2, timeout=120)
    (tmp_path / "first.mp4").write_bytes(clip)
    expected = last_frame(tmp_path / "first.mp4").jpeg
    assert len(seedance.creates) == 2
    assert first_frame(seedance.creates[1]) == expected  # that very frame, byte for byte
    assert first_frame(seedance.creates[0]) != expected
    assert bot.stub.unanswered_callback_queries() == []


async def test_continue_uses_the_providers_returned_last_frame(
    seedance_bot: RunningBot, seedance: FakeSeedance
) -> None:
    bot = seedance_bot
    _, clip_message = await kept_clip(bot, "a blue tram pulls into the stop")
    asked_png = seedance.result(next(iter(seedance.tasks)) + ".png")[1]
    draft = await continue_from(bot, clip_message, "the tram rolls on into the rain")
    bot.push(button_press(bot.user, draft, button(draft, "g")))
    await bot.wait_for("sendVideo", count=2, timeout=120)
    assert first_frame(seedance.creates[1]) == asked_png
    photo = bot.stub.calls("sendPhoto")[0].uploads["photo"].data
    assert photo == asked_png  # the user sees the frame the shot starts from


async def test_someone_from_another_chat_cannot_continue(seedance_bot: RunningBot) -> None:
    bot = seedance_bot
    _, clip_message = await kept_clip(bot, "a blue tram pulls into the stop")
    outsider = private_user(first_name="Wu")
    forged = {**clip_message, "chat": private_chat(outsider)}  # the same button, elsewhere
    bot.push(button_press(outsider, forged, button(clip_message, "ct")))
    refused = await bot.wait_for(
        "answerCallbackQuery", lambda c: c.params.get("show_alert") is True
    )
    assert "no longer available" in refused.params["text"]  # as if it never existed
    assert bot.stub.calls("sendPhoto") == []
