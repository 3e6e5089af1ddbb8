"""/settings: a chat's defaults and its project's switches, as one message of buttons."""

from __future__ import annotations

from typing import Any

from handlers import callbacks as cb
from storage.models import Project, PromptRevision
from tests.e2e.conftest import RunningBot
from tests.e2e.test_groups_studio import rows
from tests.e2e.test_private_chat import buttons, is_draft
from tests.fakes.telegram_stub import BOT_USERNAME, Call
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_user,
)


def choice(message: dict[str, Any], arg: str) -> str:
    return next(d for d in buttons(message) if d.startswith("cf:") and d.endswith(f":{arg}"))


async def press(bot: RunningBot, user: dict, message: dict, data: str, count: int) -> Call:
    bot.push(button_press(user, message, data))
    return await bot.wait_for("answerCallbackQuery", count=count)


async def test_settings_change_what_new_drafts_get_and_speak_the_chosen_language(
    bot: RunningBot, city_photo: bytes
) -> None:
    bot.push(command_update(bot.chat, bot.user, "/settings"))
    shown = await bot.wait_for("sendMessage", lambda c: "Settings" in c.params["text"])
    menu = bot.sent_message(shown)
    assert "standard" in menu["text"]

    saved = await press(bot, bot.user, menu, choice(menu, "mode=pro"), 1)
    assert saved.params["text"] == "Saved."
    edited = bot.sent_message(await bot.wait_for("editMessageText"))
    assert "pro" in edited["text"] and "• pro" in str(edited["reply_markup"])
    await press(bot, bot.user, edited, choice(edited, "sound=1"), 2)
    edited = bot.sent_message(await bot.wait_for("editMessageText", count=2))
    await press(bot, bot.user, edited, choice(edited, "lang=zh"), 3)
    chinese = await bot.wait_for("editMessageText", count=3)
    assert "设置" in chinese.params["text"]
    # The project's shape is one press here too, and the menu stays where it is.
    await press(bot, bot.user, bot.sent_message(chinese), choice(edited, "aspect=9:16"), 4)
    vertical = await bot.wait_for("editMessageText", count=4)
    assert "• ▯ 9:16" in str(vertical.params["reply_markup"])
    assert "设置" in vertical.params["text"]

    bot.push(photo_update(bot.stub, bot.chat, bot.user, city_photo, caption="boats glide"))
    await bot.wait_for("sendMessage", lambda c: is_draft(c) or "cs:" in str(c.params))
    [revision] = await rows(bot, PromptRevision)
    assert revision.params["mode"] == "pro"
    [project] = await rows(bot, Project)
    assert project.sound is True and project.aspect == "9:16"


async def test_settings_refuse_forged_rows_bad_values_and_non_admins_where_admins_decide(
    bot: RunningBot,
) -> None:
    group = group_chat()
    carol, bob = private_user(first_name="Carol"), private_user(first_name="Bob")
    bot.stub.set_member_status(group["id"], carol["id"], "administrator")
    bot.push(command_update(group, carol, "/generate", "admins", bot_username=BOT_USERNAME))
    await bot.wait_for("sendMessage")
    bot.push(command_update(group, bob, "/settings", bot_username=BOT_USERNAME))
    menu = bot.sent_message(await bot.wait_for("sendMessage", count=2))

    refused = await press(bot, bob, menu, choice(menu, "mode=pro"), 1)
    assert refused.params["show_alert"] is True and "admins" in refused.params["text"]
    bad = await press(bot, carol, menu, menu_data(menu, "mode=ultra"), 2)
    assert bad.params["show_alert"] is True and "isn't available" in bad.params["text"]

    # Lin's own project, pressed from the group with its id: not found, nothing changed.
    bot.push(command_update(bot.chat, bot.user, "/settings"))
    mine = bot.sent_message(await bot.wait_for("sendMessage", count=3))
    own_project = int(choice(mine, "sound=1").split(":")[1])
    forged = await press(bot, carol, menu, cb.encode(cb.CHAT_SET, own_project, "sound=1"), 3)
    assert forged.params["show_alert"] is True and "no longer available" in forged.params["text"]
    assert all(not p.sound for p in await rows(bot, Project))


def menu_data(message: dict[str, Any], arg: str) -> str:
    project_id = int(buttons(message)[0].split(":")[1])
    return cb.encode(cb.CHAT_SET, project_id, arg)
