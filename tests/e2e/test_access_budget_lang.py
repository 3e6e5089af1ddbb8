"""The allowlist, the price on a draft, /usage with a refund, and /lang, against the stub."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, draft_for_photo, is_draft
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    photo_update,
    private_chat,
    private_user,
    text_update,
)


async def test_strangers_are_refused_once_and_admins_let_them_in_at_run_time(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    friend, stranger, operator = (private_user(first_name=n) for n in ("Lin", "Zed", "Op"))
    settings = bot_settings(
        tmp_path, stub, allowed_ids=(friend["id"],), admin_ids=(operator["id"],)
    )
    bot = await start_bot(stub, settings)
    try:
        here = private_chat(stranger)
        bot.push(photo_update(stub, here, stranger, city_photo, caption="boats glide"))
        refusal = await bot.wait_for("sendMessage")
        assert "private" in refusal.params["text"] and refusal.params["chat_id"] == stranger["id"]
        bot.push(text_update(here, stranger, "hello?"))
        bot.push(photo_update(stub, here, stranger, city_photo, caption="boats glide"))
        # The operator's command is answered; by then the stranger's updates were handled.
        bot.push(command_update(private_chat(operator), operator, "/allow", str(stranger["id"])))
        await bot.wait_for("sendMessage", lambda c: "may use the bot now" in c.params["text"])
        assert len(stub.calls("sendMessage")) == 2  # one refusal only
        assert stub.calls("getFile") == []  # a refused photo is never downloaded

        bot.push(photo_update(stub, here, stranger, city_photo, caption="boats glide"))
        await bot.wait_for("sendMessage", is_draft)
        bot.push(command_update(private_chat(operator), operator, "/deny", str(stranger["id"])))
        await bot.wait_for("sendMessage", lambda c: "no longer" in c.params["text"])
        bot.push(text_update(here, stranger, "still there?"))
        await bot.wait_for("sendMessage", lambda c: "private" in c.params["text"], count=2)

        # Only operators may change the list.
        bot.push(command_update(private_chat(friend), friend, "/allow", "12345"))
        await bot.wait_for("sendMessage", lambda c: "Only the bot's operators" in c.params["text"])
    finally:
        await stop_bot(bot)


async def test_the_draft_shows_the_price_and_a_cancelled_take_is_refunded(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    settings = bot_settings(
        tmp_path, stub, costs="offline=1", quota_user_day=2, offline_max_concurrent=0
    )
    bot = await start_bot(stub, settings)
    try:
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")
        assert "costs 1 units; 2 left" in stub.calls("sendMessage")[-1].params["text"]
        bot.push(button_press(bot.user, draft, button(draft, "g")))
        status_call = await bot.wait_for(
            "sendMessage", lambda c: "c:" in str(c.params.get("reply_markup"))
        )
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        await bot.wait_for("sendMessage", lambda c: "Spent today: 1 of 2" in c.params["text"])
        status = bot.sent_message(status_call)
        bot.push(button_press(bot.user, status, button(status, "c")))
        await bot.wait_for("editMessageText", lambda c: "Cancelled" in c.params["text"])
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        usage = await bot.wait_for(
            "sendMessage", lambda c: "Spent today: 0 of 2" in c.params["text"]
        )
        assert "1 refunded" in usage.params["text"]
    finally:
        await stop_bot(bot)


async def test_lang_switches_between_chinese_and_english(
    stub: TelegramStub, tmp_path: Path
) -> None:
    bot = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        user = private_user(first_name="Mei", language_code="zh-hans")
        chat = private_chat(user)
        bot.push(command_update(chat, user, "/lang"))
        choose = bot.sent_message(await bot.wait_for("sendMessage"))
        assert "语言" in choose["text"]
        bot.push(button_press(user, choose, "l:0:en"))
        await bot.wait_for("editMessageText", lambda c: "speak English" in c.params["text"])
        bot.push(command_update(chat, user, "/start"))
        start = await bot.wait_for(
            "sendMessage", lambda c: "Claymate" in c.params["text"], count=1
        )
        assert "照片" not in start.params["text"]
        bot.push(command_update(chat, user, "/lang", "zh"))
        await bot.wait_for("sendMessage", lambda c: "简体中文" in c.params["text"])
        menus = {
            c.params.get("language_code"): c.params["commands"]
            for c in stub.calls("setMyCommands")
        }
        assert "lang" in [c["command"] for c in menus[None]]
        assert "lang" in [c["command"] for c in menus["zh"]]
    finally:
        await stop_bot(bot)
