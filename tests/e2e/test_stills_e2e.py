"""A user asks for a clay still before animating, picks one, and gets the clip (real bot, stub)."""

from __future__ import annotations

import io

from PIL import Image

from tests.e2e.conftest import RunningBot
from tests.e2e.test_private_chat import button, buttons, draft_for_photo, generate
from tests.fakes.telegram_stub import Call
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_user,
)


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


def first_buttons(call: Call) -> list[str]:
    """The callback actions of a message's first keyboard row."""
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"].split(":")[0] for b in rows[0]] if rows else []


async def test_in_a_group_a_draft_shows_the_clay_still_first_until_turned_off(
    bot: RunningBot, city_photo: bytes
) -> None:
    group, alice = group_chat(), private_user(first_name="Alice")
    bot.push(photo_update(bot.stub, group, alice, city_photo, caption="/clay boats glide"))
    draft_call = await bot.wait_for("sendMessage", lambda c: "cs" in first_buttons(c))
    draft = bot.sent_message(draft_call)
    assert first_buttons(draft_call)[0] == "cs"
    assert "g" not in {d.split(":")[0] for d in buttons(draft)}
    assert [d for d in buttons(draft) if d.startswith("cs:")] == [button(draft, "cs")]

    # Approval is the still's own flow: 🎬 Animate this queues the paid take.
    bot.push(button_press(alice, draft, button(draft, "cs")))
    still = bot.sent_message(await bot.wait_for("sendPhoto"))
    bot.push(button_press(alice, still, button(still, "sa")))
    await bot.wait_for("sendMessage", lambda c: "Queued" in c.params["text"])
    await bot.wait_for("sendVideo", timeout=60)

    # ⚙️ → 🎨 Still first: off; back on the draft's buttons, 🎬 Generate is there again.
    bot.push(button_press(alice, draft, button(draft, "s")))
    opened = await bot.wait_for("editMessageReplyMarkup")
    toggle = [d for d in buttons(bot.sent_message(opened)) if d.endswith("still_first=0")]
    assert len(toggle) == 1
    bot.push(button_press(alice, draft, toggle[0]))
    toggled = await bot.wait_for("editMessageText", lambda c: "still_first=1" in str(c.params))
    assert "Still first: off" in str(toggled.params["reply_markup"])
    settings = bot.sent_message(toggled)
    bot.push(button_press(alice, settings, button(settings, "b")))
    back = await bot.wait_for("editMessageReplyMarkup", count=2)
    assert first_buttons(back)[0] == "g"
    assert "cs" in {d.split(":")[0] for d in buttons(bot.sent_message(back))}
    await bot.wait_for("answerCallbackQuery", count=5)  # five presses, each answered
    assert bot.stub.unanswered_callback_queries() == []
