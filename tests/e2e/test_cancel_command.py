"""/cancel: the user's queued clip (refunded) or waiting draft, and never anyone else's."""

from __future__ import annotations

from pathlib import Path

from storage.models import Shot, Take
from tests.e2e.conftest import bot_settings, start_bot, still_first_off, stop_bot
from tests.e2e.test_groups_studio import rows
from tests.e2e.test_private_chat import button, draft_for_photo, is_draft
from tests.fakes.telegram_stub import BOT_USERNAME, TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_user,
)


async def test_cancel_drops_a_draft_then_stops_a_queued_clip_with_its_money_back(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    # No offline renders at once: a take stays queued until cancelled.
    settings = bot_settings(
        tmp_path, stub, costs="offline=1", quota_user_day=2, offline_max_concurrent=0
    )
    bot = await start_bot(stub, settings)
    try:
        await still_first_off(bot, bot.chat)

        def answered(text: str):  # type: ignore[no-untyped-def]
            return lambda c: text in c.params["text"]

        bot.push(command_update(bot.chat, bot.user, "/cancel"))
        await bot.wait_for("sendMessage", answered("Nothing to cancel"))

        await draft_for_photo(bot, city_photo, "boats glide")
        bot.push(command_update(bot.chat, bot.user, "/cancel"))
        await bot.wait_for("sendMessage", answered("Dropped your draft of shot 1"))
        [shot] = await rows(bot, Shot)
        assert shot.status == "cancelled"

        bot.push(photo_update(stub, bot.chat, bot.user, city_photo, caption="a tram rolls"))
        draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft, count=2))
        bot.push(button_press(bot.user, draft, button(draft, "g")))
        status = await bot.wait_for(
            "sendMessage", lambda c: "c:" in str(c.params.get("reply_markup"))
        )
        bot.push(command_update(bot.chat, bot.user, "/cancel"))
        done = await bot.wait_for("sendMessage", answered("Cancelled your queued clip of shot 2"))
        assert "Nothing was charged" in done.params["text"]
        edited = await bot.wait_for("editMessageText", answered("Cancelled"))
        assert edited.params["message_id"] == bot.sent_message(status)["message_id"]
        [take] = await rows(bot, Take)
        assert take.status == "cancelled" and take.shot_id == max(
            s.id for s in await rows(bot, Shot)
        )
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        usage = await bot.wait_for("sendMessage", answered("Spent today: 0 of 2"))
        assert "1 refunded" in usage.params["text"]
        # The shot has a take now: it is no longer a waiting draft.
        bot.push(command_update(bot.chat, bot.user, "/cancel"))
        await bot.wait_for("sendMessage", answered("Nothing to cancel"), count=2)
    finally:
        await stop_bot(bot)


async def test_cancel_in_a_group_touches_only_the_senders_own_work(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    bot = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        group = group_chat()
        alice, bob = private_user(first_name="Alice"), private_user(first_name="Bob")
        bot.push(photo_update(bot.stub, group, alice, city_photo, caption="/clay boats glide"))
        await bot.wait_for("sendMessage", lambda c: is_draft(c) or "cs:" in str(c.params))
        bot.push(command_update(group, bob, "/cancel", bot_username=BOT_USERNAME))
        nothing = await bot.wait_for("sendMessage", lambda c: "Nothing" in c.params["text"])
        assert nothing.params["chat_id"] == group["id"]
        [shot] = await rows(bot, Shot)
        assert shot.status == "drafted"
        bot.push(command_update(group, alice, "/cancel", bot_username=BOT_USERNAME))
        await bot.wait_for("sendMessage", lambda c: "Dropped your draft" in c.params["text"])
    finally:
        await stop_bot(bot)
