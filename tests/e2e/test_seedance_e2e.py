"""Seedance through the real bot: a chat switches its engine to Seedance and gets its clip."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, buttons, draft_for_photo
from tests.fakes.fake_seedance import FAKE_SEEDANCE_KEY, FakeSeedance
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import button_press


async def test_a_chat_set_to_seedance_generates_and_delivers_a_seedance_clip(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    with FakeSeedance(task_seconds=0.5) as seedance:
        settings = bot_settings(
            tmp_path,
            stub,
            seedance_api_key=FAKE_SEEDANCE_KEY,
            seedance_api_url=seedance.url,
            video_provider="offline",  # Seedance is configured, but not the default
        )
        bot = await start_bot(stub, settings)
        try:
            _, draft = await draft_for_photo(bot, city_photo, "Boats glide on the river")
            bot.push(button_press(bot.user, draft, button(draft, "s")))
            opened = await bot.wait_for("editMessageReplyMarkup")
            rows = opened.params["reply_markup"]["inline_keyboard"]
            labels = [b["text"] for row in rows for b in row]
            assert "• offline" in labels and "seedance" in labels
            choice = next(
                data
                for data in buttons({"reply_markup": opened.params["reply_markup"]})
                if data.endswith("provider=seedance")
            )
            bot.push(button_press(bot.user, draft, choice))
            switched = await bot.wait_for(
                "editMessageText", lambda c: "Draft 2" in c.params["text"]
            )
            markup = {"reply_markup": switched.params["reply_markup"]}
            assert any(
                b["text"] == "• seedance"
                for row in markup["reply_markup"]["inline_keyboard"]
                for b in row
            )
            bot.push(button_press(bot.user, draft, button(markup, "b")))
            back = await bot.wait_for("editMessageReplyMarkup", lambda c: "g:" in str(c.params))
            bot.push(
                button_press(
                    bot.user, draft, button({"reply_markup": back.params["reply_markup"]}, "g")
                )
            )
            video = await bot.wait_for("sendVideo", timeout=60)
            assert video.params["supports_streaming"] is True
        finally:
            await stop_bot(bot)
        assert len(seedance.creates) == 1  # one take, one paid task
        body = seedance.creates[0]
        assert body["model"] == "seedance-1-5-pro-251215"
        assert body["generate_audio"] is False and body["return_last_frame"] is True
        roles = [item.get("role") for item in body["content"]]
        assert roles == [None, "first_frame"]
