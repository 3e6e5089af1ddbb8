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
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, still_first_off, stop_bot
from tests.e2e.test_private_chat import button, buttons, draft_for_photo, generate, is_draft
from tests.fakes.fake_seedance import FAKE_SEEDANCE_KEY, FakeSeedance
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_chat,
    private_user,
    text_update,
)
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


async def test_a_kept_clip_re_sent_from_its_project_card_offers_continue(
    seedance_bot: RunningBot,
) -> None:
    bot = seedance_bot
    await kept_clip(bot, "a blue tram pulls into the stop")
    bot.push(command_update(bot.chat, bot.user, "/projects"))
    listed = bot.sent_message(
        await bot.wait_for("sendMessage", lambda c: "p:" in str(c.params.get("reply_markup")))
    )
    bot.push(button_press(bot.user, listed, button(listed, "p")))
    card = await bot.wait_for("editMessageText", lambda c: "v:" in str(c.params))
    bot.push(
        button_press(bot.user, listed, button({"reply_markup": card.params["reply_markup"]}, "v"))
    )
    resent = await bot.wait_for("sendVideo", count=2, timeout=60)
    assert any(
        d.startswith("ct:") for d in buttons({"reply_markup": resent.params["reply_markup"]})
    )


@pytest.fixture
async def group_bot(stub: TelegramStub, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """Offline provider; few status edits (Telegram allows a group about 20 a minute)."""
    running = await start_bot(stub, bot_settings(tmp_path, stub, status_edit_interval_s=60))
    try:
        yield running
    finally:
        await stop_bot(running)


async def test_in_a_group_a_member_continues_and_an_outsider_is_refused(
    group_bot: RunningBot,
) -> None:
    bot = group_bot
    group = group_chat(title="Clay club")
    await still_first_off(bot, group)
    alice, bob = private_user(first_name="Alice"), private_user(first_name="Bob")
    bot.push(
        photo_update(
            bot.stub, group, alice, solid_photo(COLOURS[0]), caption="/clay a red tram rolls in"
        )
    )
    draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))
    bot.push(button_press(alice, draft, button(draft, "g")))
    clip = bot.sent_message(await bot.wait_for("sendVideo", timeout=120))
    bot.push(button_press(alice, clip, button(clip, "k")))  # the only vote: kept
    voted = await bot.wait_for("editMessageReplyMarkup")
    clip = {**clip, "reply_markup": voted.params["reply_markup"]}

    # Someone in another group presses the same button data: refused, nothing made.
    elsewhere = group_chat(title="Other club")
    mallory = private_user(first_name="Mallory")
    bot.push(button_press(mallory, {**clip, "chat": elsewhere}, button(clip, "ct")))
    refused = await bot.wait_for(
        "answerCallbackQuery", lambda c: c.params.get("show_alert") is True
    )
    assert "no longer available" in refused.params["text"]
    assert bot.stub.calls("sendPhoto") == []

    # Bob, a member, continues Alice's kept take: the forced reply is his.
    bot.push(button_press(bob, clip, button(clip, "ct")))
    asked_call = await bot.wait_for("sendPhoto")
    assert f"tg://user?id={bob['id']}" in asked_call.params["caption"]
    asked = bot.sent_message(asked_call)
    bot.push(text_update(group, bob, "the tram stops by a noodle stall", reply_to=asked))
    next_draft = await bot.wait_for("sendMessage", is_draft, count=2, timeout=30)
    assert "shot 2" in next_draft.params["text"]
    assert bot.stub.unanswered_callback_queries() == []


async def test_the_next_message_is_the_line_even_without_replying(
    seedance_bot: RunningBot, seedance: FakeSeedance
) -> None:
    bot = seedance_bot
    _, clip_message = await kept_clip(bot, "a blue tram pulls into the stop")
    bot.push(button_press(bot.user, clip_message, button(clip_message, "ct")))
    await bot.wait_for("sendPhoto")
    bot.push(text_update(bot.chat, bot.user, "rain starts to fall on the tram"))  # no reply
    draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft, count=2, timeout=30))
    assert "shot 2" in draft["text"] and "rain" in draft["text"].lower()
    # Once described, plain text is a plain message again: the usual hint.
    bot.push(text_update(bot.chat, bot.user, "hello"))
    await bot.wait_for("sendMessage", lambda c: "Send me a photo" in c.params["text"])
    assert len([c for c in bot.stub.calls("sendMessage") if is_draft(c)]) == 2
