"""`claymate run` failing at start-up: one line saying what and how to fix it, no secret.

Each test runs the real entry point in its own process with a distinctive token, so what
the operator would see on their terminal is exactly what is checked.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.startup import ExitCode, StartupError, prepare_database
from storage.db import Database
from tests.conftest import REPO_ROOT, make_settings
from tests.fakes.telegram_stub import TelegramStub

pytestmark = pytest.mark.slow

TOKEN = "7777777777:AAFakeStartupSecretXyz_claymate-run-4k"
SECRET_PART = TOKEN.split(":", 1)[1]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING) \S+: ")


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def claymate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CLAYMATE_DATA_DIR": str(tmp_path / "data"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        # Retried network errors give up within a second here (2 s and doubling by default).
        "CLAYMATE_STARTUP_RETRIES": "3",
        "CLAYMATE_STARTUP_BACKOFF": "0.05",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def the_one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's single line; anything else on stderr may only be ordinary log lines."""
    output = result.stdout + result.stderr
    for form in (TOKEN, SECRET_PART, quote(TOKEN, safe=""), quote(TOKEN)):
        assert form not in output, f"{form!r} leaked:\n{output}"
    assert "Traceback" not in output, output
    assert result.stdout == ""
    others = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
    assert len(others) == 1, result.stderr
    assert others[0].startswith("claymate: "), result.stderr
    return others[0]


def test_a_rejected_token_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    with TelegramStub() as stub:  # the stub's own token differs: getMe answers 401
        result = claymate(tmp_path, "run", TELEGRAM_API_URL=stub.api_root)
        get_me_calls = len(stub.calls("getMe"))
    line = the_one_error_line(result)
    assert result.returncode == ExitCode.BAD_TOKEN
    assert "rejected the bot token" in line and "401" in line and "TELEGRAM_BOT_TOKEN" in line
    assert get_me_calls == 1  # a bad token is not retried


def test_a_rejected_token_leaks_nothing_even_at_debug_level(tmp_path: Path) -> None:
    with TelegramStub() as stub:
        result = claymate(
            tmp_path, "run", TELEGRAM_API_URL=stub.api_root, CLAYMATE_LOG_LEVEL="DEBUG"
        )
    the_one_error_line(result)
    assert result.returncode == ExitCode.BAD_TOKEN


def test_an_unreachable_bot_api_is_retried_then_one_line(tmp_path: Path) -> None:
    port = closed_port()
    result = claymate(tmp_path, "run", TELEGRAM_API_URL=f"http://127.0.0.1:{port}")
    line = the_one_error_line(result)
    assert result.returncode == ExitCode.TELEGRAM_UNREACHABLE
    assert f"127.0.0.1:{port}" in line and "TELEGRAM_API_URL" in line
    retries = [entry for entry in result.stderr.splitlines() if "failed, next in" in entry]
    assert len(retries) == 2  # three tries in all


def test_an_unreachable_database_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = claymate(tmp_path, "run", DATABASE_URL="postgresql://postgres@127.0.0.1:1/x")
    line = the_one_error_line(result)
    assert result.returncode == ExitCode.DATABASE_UNREACHABLE
    assert "127.0.0.1:1" in line and "DATABASE_URL" in line


def test_a_database_from_a_newer_version_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('f00dfacefeed')")
    for command in (["run"], ["db", "upgrade"]):
        result = claymate(tmp_path, *command, DATABASE_URL=f"sqlite:///{path}")
        line = the_one_error_line(result)
        assert result.returncode == ExitCode.DATABASE_SCHEMA
        assert "f00dfacefeed" in line and "upgrade claymate" in line


async def test_a_migration_that_fails_is_a_schema_error_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "clash.db"
    with sqlite3.connect(path) as connection:  # a table the initial migration creates too
        connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        with pytest.raises(StartupError) as failure:
            await prepare_database(db, make_settings(tmp_path))
    finally:
        await db.dispose()
    assert failure.value.code == ExitCode.DATABASE_SCHEMA
    assert "users" in str(failure.value) and "claymate db upgrade" in str(failure.value)
    assert "\n" not in str(failure.value)


@pytest.mark.parametrize("target", ["telegram", "database"])
def test_ctrl_c_during_start_up_retries_stops_at_once(tmp_path: Path, target: str) -> None:
    """Ctrl-C while start-up waits between retries: exit 130 at once, one line, no token."""
    import signal
    import time

    port = closed_port()
    where = (
        {"TELEGRAM_API_URL": f"http://127.0.0.1:{port}"}
        if target == "telegram"
        else {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/x"}
    )
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CLAYMATE_DATA_DIR": str(tmp_path / "data"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        # Retrying would go on for minutes: only the interrupt can end it in time.
        "CLAYMATE_STARTUP_RETRIES": "10",
        "CLAYMATE_STARTUP_BACKOFF": "30",
        **where,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # the first retry's log line: it is waiting now
            if "failed, next in" in line:
                break
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
        waited = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    line = the_one_error_line(result)
    assert result.returncode == ExitCode.INTERRUPTED
    assert "interrupted" in line
    assert waited < 10  # not the 30 s backoff
