"""Feeling at home in Telegram: menus per chat kind and language, a group's welcome, the
✏️ Refine prompt aimed at whoever pressed it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from handlers.menus import GROUP, GROUP_ADMINS, PRIVATE
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.fakes.telegram_stub import TelegramStub


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
