"""Money and access from an attacker's side, through the real bot and the Bot API stub:
the allowlist never fails open, and a member cannot cancel an admin's take."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import bot_settings, start_bot, still_first_off, stop_bot
from tests.e2e.test_groups_studio import rows
from tests.e2e.test_private_chat import button, is_draft
from tests.fakes.telegram_stub import BOT_USERNAME, TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_chat,
    private_user,
    text_update,
)


def said(text: str):  # type: ignore[no-untyped-def]
    return lambda call: text in str(call.params.get("text"))


async def test_denying_the_last_allowed_user_keeps_strangers_out_until_access_open(
    stub: TelegramStub, tmp_path: Path
) -> None:
    friend, stranger, operator = (private_user(first_name=n) for n in ("Lin", "Zed", "Op"))
    bot = await start_bot(stub, bot_settings(tmp_path, stub, admin_ids=(operator["id"],)))
    try:
        desk = private_chat(operator)
        bot.push(command_update(desk, operator, "/allow", str(friend["id"])))
        await bot.wait_for("sendMessage", said("may use the bot now"))
        # An allowed user who is not an operator cannot open the bot.
        bot.push(command_update(private_chat(friend), friend, "/access", "open"))
        await bot.wait_for("sendMessage", said("Only the bot's operators"))
        bot.push(command_update(desk, operator, "/deny", str(friend["id"])))
        await bot.wait_for("sendMessage", said("can no longer"))

        # The list is empty now; a stranger is still refused.
        bot.push(text_update(private_chat(stranger), stranger, "hello?"))
        refusal = await bot.wait_for("sendMessage", said("private"))
        assert refusal.params["chat_id"] == stranger["id"]

        # Nor can the stranger; the mode is still the allowlist.
        bot.push(command_update(private_chat(stranger), stranger, "/access", "open"))
        bot.push(command_update(desk, operator, "/access"))
        shown = await bot.wait_for("sendMessage", said("Allowlist mode"))
        assert shown.params["chat_id"] == operator["id"]
        assert not [c for c in stub.calls("sendMessage") if "Open mode" in c.params["text"]]

        # The operator opens the bot explicitly: the stranger is admitted.
        bot.push(command_update(desk, operator, "/access", "open"))
        await bot.wait_for("sendMessage", said("Open mode"))
        bot.push(command_update(private_chat(stranger), stranger, "/start"))
        welcome = await bot.wait_for("sendMessage", said("Claymate"))
        assert welcome.params["chat_id"] == stranger["id"]
    finally:
        await stop_bot(bot)


async def test_a_member_cannot_cancel_an_admins_take(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    from storage.models import Take

    settings = bot_settings(tmp_path, stub, offline_max_concurrent=0, status_edit_interval_s=60)
    bot = await start_bot(stub, settings)
    try:
        group = group_chat(title="Clay club")
        await still_first_off(bot, group)  # the draft is found by its 🎬 Generate button
        carol, bob = private_user(first_name="Carol"), private_user(first_name="Bob")
        stub.set_member_status(group["id"], carol["id"], "administrator")
        caption = f"/clay@{BOT_USERNAME} boats glide"
        bot.push(photo_update(stub, group, carol, city_photo, caption=caption))
        draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))
        bot.push(button_press(carol, draft, button(draft, "g")))
        status = bot.sent_message(
            await bot.wait_for("sendMessage", lambda c: "c:" in str(c.params.get("reply_markup")))
        )

        bot.push(button_press(bob, status, button(status, "c")))
        refusal = await bot.wait_for("answerCallbackQuery", said("Only whoever asked"))
        assert refusal.params["show_alert"] is True
        [take] = await rows(bot, Take)
        assert take.status == "queued"
        assert not [c for c in stub.calls("editMessageText") if "Cancelled" in c.params["text"]]

        bot.push(button_press(carol, status, button(status, "c")))
        await bot.wait_for("editMessageText", said("Cancelled"))
        [take] = await rows(bot, Take)
        assert take.status == "cancelled"
    finally:
        await stop_bot(bot)


async def test_in_an_admins_only_group_members_cannot_make_or_animate_stills(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    from storage.models import Shot, Take

    bot = await start_bot(stub, bot_settings(tmp_path, stub, status_edit_interval_s=60))
    try:
        group = group_chat(title="Clay club")
        await still_first_off(bot, group)  # the draft is found by its 🎬 Generate button
        carol, bob = private_user(first_name="Carol"), private_user(first_name="Bob")
        stub.set_member_status(group["id"], carol["id"], "administrator")
        bot.push(command_update(group, carol, "/generate", "admins", bot_username=BOT_USERNAME))
        await bot.wait_for("sendMessage", said("admins only"))
        caption = f"/clay@{BOT_USERNAME} boats glide"
        bot.push(photo_update(stub, group, carol, city_photo, caption=caption))
        draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))

        # Bob's 🎨 Clay still is refused: nothing is made.
        bot.push(button_press(bob, draft, button(draft, "cs")))
        refusal = await bot.wait_for("answerCallbackQuery", said("admin"))
        assert refusal.params["show_alert"] is True
        assert stub.calls("sendPhoto") == []

        # Carol makes one; Bob's 🎬 Animate this and 📷 original change nothing.
        bot.push(button_press(carol, draft, button(draft, "cs")))
        still = bot.sent_message(await bot.wait_for("sendPhoto"))
        bot.push(button_press(bob, still, button(still, "sa")))
        bot.push(button_press(bob, still, button(still, "so")))
        await bot.wait_for("answerCallbackQuery", said("admin"), count=3)
        [shot] = await rows(bot, Shot)
        assert shot.still_path is None
        assert await rows(bot, Take) == []
        assert len(stub.calls("sendPhoto")) == 1
    finally:
        await stop_bot(bot)


async def test_an_animate_refused_for_quota_keeps_the_picture(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    from storage.models import Shot, Take
    from tests.e2e.test_private_chat import draft_for_photo

    settings = bot_settings(tmp_path, stub, costs="offline=1", quota_user_day=0.5)
    bot = await start_bot(stub, settings)
    try:
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")
        bot.push(button_press(bot.user, draft, button(draft, "cs")))
        still = bot.sent_message(await bot.wait_for("sendPhoto"))
        bot.push(button_press(bot.user, still, button(still, "sa")))
        refusal = await bot.wait_for("answerCallbackQuery", said("left"))
        assert refusal.params["show_alert"] is True
        [shot] = await rows(bot, Shot)
        assert shot.still_path is None
        assert await rows(bot, Take) == []
    finally:
        await stop_bot(bot)


async def test_forget_then_come_back_the_same_day_leaves_the_quota_spent(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    from tests.e2e.test_private_chat import draft_for_photo, generate

    settings = bot_settings(tmp_path, stub, costs="offline=1", quota_user_day=2)
    bot = await start_bot(stub, settings)
    try:
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")
        assert "costs 1 units; 2 left" in stub.calls("sendMessage")[-1].params["text"]
        await generate(bot, draft)
        bot.push(command_update(bot.chat, bot.user, "/forget"))
        confirm = bot.sent_message(
            await bot.wait_for("sendMessage", lambda c: "f:" in str(c.params.get("reply_markup")))
        )
        bot.push(button_press(bot.user, confirm, button(confirm, "f")))
        await bot.wait_for("editMessageText", said("forgot you"))

        # The same Telegram user, back the same day: one unit of two is still spent.
        bot.push(photo_update(stub, bot.chat, bot.user, city_photo, caption="lanterns sway"))
        text = (await bot.wait_for("sendMessage", is_draft, count=2)).params["text"]
        assert "costs 1 units; 1 left" in text
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        await bot.wait_for("sendMessage", said("Spent today: 1 of 2"))
    finally:
        await stop_bot(bot)


async def test_a_member_cannot_change_an_admins_only_groups_settings_or_cancel_others_shots(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    """Through the real handlers: in an admins-only group Bob's ⚙️ choice is refused and the
    group's defaults stay; Bob's ✖ on Carol's draft is refused; Carol's own ✖ works."""
    from handlers import callbacks as cb
    from storage.models import Chat, Shot

    bot = await start_bot(stub, bot_settings(tmp_path, stub, status_edit_interval_s=60))
    try:
        group = group_chat(title="Clay club")
        await still_first_off(bot, group)  # the draft is found by its 🎬 Generate button
        carol, bob = private_user(first_name="Carol"), private_user(first_name="Bob")
        stub.set_member_status(group["id"], carol["id"], "administrator")
        bot.push(command_update(group, carol, "/generate", "admins", bot_username=BOT_USERNAME))
        await bot.wait_for("sendMessage", said("admins only"))
        caption = f"/clay@{BOT_USERNAME} boats glide"
        bot.push(photo_update(stub, group, carol, city_photo, caption=caption))
        draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))
        revision_id = int(button(draft, "g").split(":")[1])

        bot.push(button_press(bob, draft, cb.encode(cb.SET, revision_id, "mode=pro")))
        refusal = await bot.wait_for("answerCallbackQuery", said("admin"))
        assert refusal.params["show_alert"] is True
        [chat] = [c for c in await rows(bot, Chat) if c.id == group["id"]]
        assert "mode" not in (chat.settings or {})

        bot.push(button_press(bob, draft, button(draft, "x")))
        await bot.wait_for("answerCallbackQuery", said("Only whoever added this shot"))
        [shot] = await rows(bot, Shot)
        assert shot.status != "cancelled"

        bot.push(button_press(carol, draft, button(draft, "x")))
        await bot.wait_for("editMessageText")
        [shot] = await rows(bot, Shot)
        assert shot.status == "cancelled"
    finally:
        await stop_bot(bot)
