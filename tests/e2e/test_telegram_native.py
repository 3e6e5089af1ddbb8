"""Feeling at home in Telegram: menus per chat kind and language, a group's welcome, the
✏️ Refine prompt aimed at whoever pressed it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from handlers.menus import GROUP, GROUP_ADMINS, PRIVATE
from storage.models import PromptRevision
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, still_first_off, stop_bot
from tests.e2e.test_groups_studio import rows
from tests.e2e.test_privacy_export_forget import remembered
from tests.e2e.test_private_chat import button, is_draft
from tests.fakes.telegram_stub import BOT_USERNAME, TelegramStub
from tests.fakes.updates import (
    bot_added_to_group,
    bot_user,
    button_press,
    chat_member_updated,
    command_update,
    group_chat,
    photo_update,
    private_user,
    text_update,
    update,
)


async def menus_set(bot: RunningBot) -> None:
    """Start-up sets 3 scopes x 2 languages of commands, then the descriptions."""
    await bot.wait_for("setMyCommands", count=6)
    await bot.wait_for("setMyShortDescription", count=2)


async def test_each_kind_of_chat_gets_its_own_menu_in_both_languages(bot: RunningBot) -> None:
    await menus_set(bot)
    stub = bot.stub
    for language in ("", "zh"):
        private = [c["command"] for c in stub.commands("all_private_chats", language)]
        groups = [c["command"] for c in stub.commands("all_group_chats", language)]
        admins = [c["command"] for c in stub.commands("all_chat_administrators", language)]
        assert private == list(PRIVATE) and groups == list(GROUP) and admins == list(GROUP_ADMINS)
        assert "forget" not in groups and "clay" not in private and "generate" in admins
    english = {c["command"]: c["description"] for c in stub.commands("all_private_chats")}
    chinese = {c["command"]: c["description"] for c in stub.commands("all_private_chats", "zh")}
    assert english["new"] == "Start a new project" and chinese["new"] == "新建项目"
    assert "clay" in (stub.description("description") or "")
    assert "黏土" in (stub.description("short_description", "zh") or "")
    assert len(stub.description("short_description") or "") <= 120


async def test_a_menu_telegram_refuses_is_logged_and_the_bot_still_serves(
    stub: TelegramStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_next("setMyDescription", 400, "Bad Request: DESCRIPTION_INVALID")
    running = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        await menus_set(running)
        for _ in range(50):
            if "could not set the bot's description (en)" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "could not set the bot's description (en)" in caplog.text
        assert stub.description("description", "zh")  # the others were still set
    finally:
        await stop_bot(running)


async def test_a_group_that_adds_the_bot_is_told_how_to_ask_in_its_language(
    bot: RunningBot,
) -> None:
    club = group_chat(title="Clay & friends")
    bot.push(bot_added_to_group(club, private_user(first_name="Ann"), bot.stub))
    welcome = await bot.wait_for("sendMessage", lambda c: c.params["chat_id"] == club["id"])
    text = welcome.params["text"]
    assert "/clay" in text and "/generate admins" in text and f"@{BOT_USERNAME}" in text
    assert "Clay &amp; friends" in text and welcome.params["parse_mode"] == "HTML"

    chinese = group_chat(title="黏土社")
    wen = private_user(first_name="Wen", language_code="zh-hans")
    bot.push(bot_added_to_group(chinese, wen, bot.stub))
    welcome = await bot.wait_for("sendMessage", lambda c: c.params["chat_id"] == chinese["id"])
    assert "管理员" in welcome.params["text"]

    # Made an admin later, or removed: no second welcome, no message to a chat it left.
    me = bot_user(bot.stub)
    promoted = chat_member_updated(club, wen, me, "member", "member")
    promoted["new_chat_member"] = {**promoted["new_chat_member"], **_admin(me)}
    bot.push(update(my_chat_member=promoted))
    bot.push(update(my_chat_member=chat_member_updated(chinese, wen, me, "member", "kicked")))

    # /clay alone, as the group menu sends it: how to ask.
    bot.push(command_update(club, wen, "/clay", bot_username=BOT_USERNAME))
    hint = await bot.wait_for("sendMessage", lambda c: "照片" in c.params["text"], count=2)
    assert "/clay" in hint.params["text"] and hint.params["chat_id"] == club["id"]
    await asyncio.sleep(0.3)
    assert len(bot.stub.calls("sendMessage")) == 3  # two welcomes and the hint, no more


def _admin(user: dict) -> dict:
    flags = (
        "can_be_edited can_manage_chat can_delete_messages can_manage_video_chats "
        "can_restrict_members can_promote_members can_change_info can_invite_users "
        "can_post_stories can_edit_stories can_delete_stories"
    ).split()
    return {"status": "administrator", "user": user, "is_anonymous": False} | dict.fromkeys(
        flags, False
    )


async def test_refine_in_a_group_asks_only_whoever_pressed_and_their_reply_refines_that_draft(
    bot: RunningBot, city_photo: bytes
) -> None:
    group = group_chat()
    await still_first_off(bot, group)
    alice, bob = private_user(first_name="Alice"), private_user(first_name="Bob <3")
    bot.push(photo_update(bot.stub, group, alice, city_photo, caption="/clay boats glide"))
    draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))

    bot.push(button_press(bob, draft, button(draft, "r")))
    ask = await bot.wait_for("sendMessage", lambda c: "force_reply" in str(c.params))
    markup = ask.params["reply_markup"]
    assert markup["force_reply"] is True and markup["selective"] is True
    prompt = bot.sent_message(ask)
    # The mention is what makes the selective reply box open for Bob alone.
    [mention] = [e for e in prompt.get("entities", []) if e["type"] == "text_mention"]
    assert mention["user"]["id"] == bob["id"] and "Bob <3" in prompt["text"]

    await remembered(bot, prompt)
    bot.push(text_update(group, bob, "slower, at night", reply_to=prompt))
    refined = await bot.wait_for("sendMessage", is_draft, count=2)
    assert refined.params["chat_id"] == group["id"]
    [first, second] = await rows(bot, PromptRevision)
    assert second.instruction == "slower, at night" and second.shot_id == first.shot_id
    assert second.created_by == bob["id"]
