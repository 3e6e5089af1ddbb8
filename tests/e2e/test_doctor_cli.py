"""`claymate doctor` as an operator runs it (a subprocess) and /doctor in the chat."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import bot_settings, start_bot, stop_bot
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import command_update, group_chat, private_chat, private_user


def claymate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`claymate …` with only the given settings (no .env: run from tmp_path)."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    clean |= {"PYTHONPATH": str(REPO_ROOT), "CLAYMATE_DATA_DIR": str(tmp_path / "data")} | env
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_claymate_doctor_on_offline_defaults_passes(tmp_path: Path, stub: TelegramStub) -> None:
    env = {"TELEGRAM_BOT_TOKEN": stub.token, "TELEGRAM_API_URL": stub.api_root}
    assert claymate(tmp_path, "db", "upgrade", **env).returncode == 0
    done = claymate(tmp_path, "doctor", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 12 and all(line.startswith("✓ ") for line in lines), lines
    assert "✓ Kling: offline (no key): the built-in offline default is used" in lines
    assert stub.token not in done.stdout + done.stderr

    zh = claymate(tmp_path, "doctor", "--lang", "zh", **env)
    assert zh.returncode == 0
    assert "✓ 可灵 Kling: 离线（无密钥）：使用内置的离线默认实现" in zh.stdout.splitlines()


def test_claymate_doctor_with_a_bad_token_exits_1_without_showing_it(
    tmp_path: Path, stub: TelegramStub
) -> None:
    bad = "987654321:AAE-bad-token-DO-NOT-PRINT-0123456789"
    env = {"TELEGRAM_BOT_TOKEN": bad, "TELEGRAM_API_URL": stub.api_root}
    assert claymate(tmp_path, "db", "upgrade", **env).returncode == 0
    done = claymate(tmp_path, "doctor", **env)
    assert done.returncode == 1
    assert "✗ Telegram token: Telegram rejected the token → set TELEGRAM_BOT_TOKEN" in done.stdout
    assert "DO-NOT-PRINT" not in done.stdout + done.stderr
    assert "987654321" not in done.stdout + done.stderr


def test_claymate_doctor_usage_error_exits_2(tmp_path: Path) -> None:
    done = claymate(tmp_path, "doctor", "--lang", "fr")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


async def test_slash_doctor_answers_operators_in_private_and_no_one_else(
    stub: TelegramStub, tmp_path: Path
) -> None:
    operator, stranger = private_user(first_name="Op"), private_user(first_name="Zed")
    settings = bot_settings(tmp_path, stub, admin_ids=(operator["id"],))
    bot = await start_bot(stub, settings)
    try:
        # Someone else, and the operator in a group: nothing, as for any unknown command.
        bot.push(command_update(private_chat(stranger), stranger, "/doctor"))
        group = group_chat()
        bot.push(command_update(group, operator, "/doctor"))
        bot.push(command_update(private_chat(operator), operator, "/doctor"))
        report = await bot.wait_for("sendMessage", timeout=60)
        assert report.params["chat_id"] == operator["id"]
        text = report.params["text"]
        assert "✓ Telegram token: valid, the bot is @claymate_test_bot" in text
        assert "✓ Database: " in text and stub.token not in text
        await asyncio.sleep(0.5)  # the others were handled by now: still the one answer
        assert [c.params["chat_id"] for c in stub.calls("sendMessage")] == [operator["id"]]
    finally:
        await stop_bot(bot)
