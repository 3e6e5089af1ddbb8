"""A user asks for a clay still before animating, picks one, and gets the clip (real bot, stub)."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.conftest import RunningBot
from tests.e2e.test_private_chat import button, buttons, draft_for_photo, generate
from tests.fakes.updates import button_press, command_update, photo_update


async def test_clay_still_another_then_animate_it(bot: RunningBot, city_photo: bytes) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "boats glide along the river")
    bot.push(button_press(bot.user, draft, button(draft, "cs")))
    first_call = await bot.wait_for("sendPhoto")
    first = bot.sent_message(first_call)
    assert first_call.params["reply_parameters"]["message_id"] == draft["message_id"]
    assert "free" in first_call.params["caption"]  # offline stills cost nothing
    still = Image.open(io.BytesIO(first_call.uploads["photo"].data))
    assert still.format == "JPEG" and still.size == (800, 600)
    assert {d.split(":")[0] for d in buttons(first)} == {"sa", "sn", "so"}

    # 🔄 Another: a second still, numbered 2.
    bot.push(button_press(bot.user, first, button(first, "sn")))
    second_call = await bot.wait_for("sendPhoto", count=2)
    second = bot.sent_message(second_call)
    assert "2" in second_call.params["caption"]
    assert button(second, "sa").endswith(":2")

    # 🎬 Animate this: a take is queued and the clip arrives.
    bot.push(button_press(bot.user, second, button(second, "sa")))
    video = await bot.wait_for("sendVideo", timeout=60)
    assert int(video.params["duration"]) == 5
    assert bot.stub.unanswered_callback_queries() == []


async def test_use_the_original_photo(bot: RunningBot, city_photo: bytes) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "a tram rolls by")
    bot.push(button_press(bot.user, draft, button(draft, "cs")))
    still = bot.sent_message(await bot.wait_for("sendPhoto"))
    bot.push(button_press(bot.user, still, button(still, "so")))
    await bot.wait_for("sendVideo", timeout=60)


async def test_a_second_photo_replying_to_a_draft_becomes_its_end_frame(
    bot: RunningBot, city_photo: bytes
) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "the tide rises along the Bund")
    bot.push(photo_update(bot.stub, bot.chat, bot.user, city_photo, reply_to=draft))
    ended = await bot.wait_for("sendMessage", lambda c: "End frame" in c.params["text"])
    assert "Draft 2" in ended.params["text"]
    assert "5 s" in ended.params["text"]
    # No new shot was started: the project still has one.
    bot.push(command_update(bot.chat, bot.user, "/board"))
    board = await bot.wait_for("sendPhoto")
    assert "shots: 1" in board.params["caption"]
    video = await generate(bot, bot.sent_message(ended))
    assert int(video.params["duration"]) == 5
