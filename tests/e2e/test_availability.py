"""One busy or broken chat never holds up everybody else: flood waits and error reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from handlers import errors, projects, start
from tests.e2e.conftest import bot_settings, start_bot, stop_bot
from tests.fakes.telegram_stub import BOT_USERNAME, Call, TelegramStub
from tests.fakes.updates import command_update, group_chat, private_chat, private_user

# Telegram lets a bot send a group 20 messages a minute; PTB's limiter spaces the rest 3 s.
GROUP_BUDGET = 20


async def test_a_group_at_its_flood_limit_does_not_hold_up_a_private_start(
    stub: TelegramStub, tmp_path: Path
) -> None:
    # One update at work at a time: the case where a waiting group hurts the most.
    bot = await start_bot(stub, bot_settings(tmp_path, stub, concurrent_updates=1))
    try:
        group = group_chat(title="Busy club")
        for n in range(GROUP_BUDGET + 2):
            member = private_user(first_name=f"Member {n}")
            bot.push(command_update(group, member, "/start", bot_username=BOT_USERNAME))
        newcomer = private_user(first_name="Newcomer")
        bot.push(command_update(private_chat(newcomer), newcomer, "/start"))

        await bot.wait_for("sendMessage", lambda c: c.params["chat_id"] == newcomer["id"])
        answered = [c.params["chat_id"] for c in stub.calls("sendMessage")]
        group_before = answered.index(newcomer["id"])
        # Answered while the group's last messages still wait for its budget (each 3 s).
        assert group_before < GROUP_BUDGET + 2

        # And the group loses nothing: every member gets the answer, in its turn.
        await bot.wait_for(
            "sendMessage",
            lambda c: c.params["chat_id"] == group["id"],
            count=GROUP_BUDGET + 2,
            timeout=30,
        )
    finally:
        await stop_bot(bot)


async def test_a_storm_of_errors_reports_once_per_kind_with_a_count(
    stub: TelegramStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_start(update: object, context: object) -> None:
        raise RuntimeError("the start page is broken")

    async def broken_new(update: object, context: object) -> None:
        raise ValueError("projects are broken")

    monkeypatch.setattr(start, "on_start", broken_start)
    monkeypatch.setattr(projects, "on_new", broken_new)
    # A report window of a minute, shortened so the test need not wait one.
    monkeypatch.setattr(errors, "REPORT_WINDOW_S", 1.5, raising=False)
    operators = 777_000_001
    bot = await start_bot(stub, bot_settings(tmp_path, stub, admin_chat_id=operators))
    try:
        users = [private_user(first_name=f"User {n}") for n in range(30)]
        for n, user in enumerate(users):
            command = "/new" if n % 3 == 0 else "/start"  # 10 of one kind, 20 of the other
            bot.push(command_update(private_chat(user), user, command))

        # Everybody gets an apology...
        for user in users:
            await bot.wait_for("sendMessage", lambda c, u=user: c.params["chat_id"] == u["id"])

        def to_operators(call: Call) -> bool:
            return call.params["chat_id"] == operators

        # ...the operators one report per kind, then one count of the rest a window later.
        await bot.wait_for("sendMessage", to_operators, count=4, timeout=15)
        await asyncio.sleep(2.0)  # nothing more comes
        reports = [c.params["text"] for c in stub.calls("sendMessage") if to_operators(c)]
        assert len(reports) == 4, reports
        first_runtime = [r for r in reports if "RuntimeError" in r]
        first_value = [r for r in reports if "ValueError" in r]
        assert len(first_runtime) == 2 and len(first_value) == 2, reports
        assert "the start page is broken" in first_runtime[0]
        assert "projects are broken" in first_value[0]
        assert "19 more like this" in first_runtime[1]
        assert "9 more like this" in first_value[1]
    finally:
        await stop_bot(bot)
