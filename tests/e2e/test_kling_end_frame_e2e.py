"""A user of a Kling bot replies to a draft with an end frame: the draft comes back as a
pro take with pro's price on it, and Generate delivers the clip (real bot, stub, fake Kling)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, buttons, draft_for_photo, generate
from tests.fakes.fake_kling import FAKE_API_KEY, FakeKling
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import button_press, photo_update


@pytest.fixture
def kling() -> Iterator[FakeKling]:
    with FakeKling(task_seconds=0.3) as fake:
        yield fake


@pytest.fixture
async def kling_bot(
    stub: TelegramStub, tmp_path: Path, kling: FakeKling
) -> AsyncIterator[RunningBot]:
    settings = bot_settings(
        tmp_path,
        stub,
        KLING_API_KEY=FAKE_API_KEY,
        KLING_API_URL=kling.url,
        KLING_MODEL="kling-v2-6",
        KLING_POLL_INTERVAL=0.2,
    )
    running = await start_bot(stub, settings)
    try:
        yield running
    finally:
        await stop_bot(running)


async def test_an_end_frame_makes_the_take_pro_shows_the_price_then_delivers(
    kling_bot: RunningBot, kling: FakeKling, city_photo: bytes
) -> None:
    bot = kling_bot
    _, draft = await draft_for_photo(bot, city_photo, "boats glide along the river")
    assert "1.5 units" in draft["text"]  # std, 5 s on kling-v2-6

    bot.push(photo_update(bot.stub, bot.chat, bot.user, city_photo, reply_to=draft))
    ended_call = await bot.wait_for("sendMessage", lambda c: "End frame" in c.params["text"])
    text = ended_call.params["text"]
    assert "kling-v2-6 takes an end frame only in pro mode" in text
    assert "2.5 units" in text and "1.5 units" not in text  # pro's price, before Generate

    video = await generate(bot, bot.sent_message(ended_call))
    assert video.uploads["video"].data  # the fake's clip, delivered
    [body] = kling.create_bodies
    assert (body["model_name"], body["mode"], body["sound"]) == ("kling-v2-6", "pro", "off")
    assert body["image_tail"]["format"] == "JPEG"


async def test_the_projects_sound_toggle_prices_and_sends_sound(
    kling_bot: RunningBot, kling: FakeKling, city_photo: bytes
) -> None:
    bot = kling_bot
    _, draft = await draft_for_photo(bot, city_photo, "rain on a clay roof")
    bot.push(button_press(bot.user, draft, button(draft, "s")))
    opened = await bot.wait_for("editMessageReplyMarkup")
    settings = bot.sent_message(opened)
    assert any(d.endswith(":sound=1") for d in buttons(settings))  # 🔇 off by default

    bot.push(button_press(bot.user, settings, setting(settings, "mode=pro")))
    pro = bot.sent_message(
        await bot.wait_for("editMessageText", lambda c: "costs 2.5 units" in c.params["text"])
    )
    bot.push(button_press(bot.user, pro, setting(pro, "sound=1")))
    loud = bot.sent_message(
        await bot.wait_for("editMessageText", lambda c: "costs 5 units" in c.params["text"])
    )
    assert any(d.endswith(":sound=0") for d in buttons(loud))  # 🔊 on now

    bot.push(button_press(bot.user, loud, button(loud, "b")))
    back = bot.sent_message(await bot.wait_for("editMessageReplyMarkup", count=2))
    await generate(bot, back)
    [body] = kling.create_bodies
    assert (body["model_name"], body["mode"], body["sound"]) == ("kling-v2-6", "pro", "on")


def setting(message: dict, choice: str) -> str:
    return next(d for d in buttons(message) if d.endswith(f":{choice}"))
