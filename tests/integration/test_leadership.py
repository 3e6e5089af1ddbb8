"""Two instances on one PostgreSQL database: only the lock holder long-polls Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot.app import serve
from bot.leadership import PollingLeadership
from storage.db import Database
from tests.e2e.conftest import FAST, RunningBot, bot_settings
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import command_update


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    with TelegramStub() as running:
        yield running
    assert running.server_errors == [], running.server_errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def health(port: int) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/healthz")).json()


async def wait_until_leader(port: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.1)):
        with contextlib.suppress(httpx.HTTPError):
            if (await health(port))["polling_leader"]:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"instance on port {port} never became the polling leader")


def start(
    stub: TelegramStub, tmp_path: Path, database_url: str, name: str
) -> tuple[RunningBot, int]:
    port = free_port()
    settings = bot_settings(
        tmp_path / name,
        stub,
        database_url=database_url,
        webhook_listen="127.0.0.1",
        metrics_port=port,
    )
    running = RunningBot(stub, settings, asyncio.Event())
    running.task = asyncio.create_task(
        serve(settings, running.stop, policy=FAST, poll_timeout=1, leader_retry_s=0.2)
    )
    return running, port


async def stop(running: RunningBot) -> None:
    running.stop.set()
    assert running.task is not None
    await asyncio.wait_for(running.task, timeout=30)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_only_the_lock_holder_polls_and_another_takes_over(
    stub: TelegramStub, tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claymate.leadership")
    first, first_port = start(stub, tmp_path, database_url, "a")
    second: RunningBot | None = None
    try:
        await wait_until_leader(first_port)
        await stub.wait_for_async("getUpdates", timeout=20)
        second, second_port = start(stub, tmp_path, database_url, "b")
        # Let the second instance come up and retry the lock several times.
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if (await health(second_port))["runner"] == "alive":
                    break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert (await health(second_port))["polling_leader"] is False
        assert (await health(first_port))["polling_leader"] is True
        assert any("role: standby" in r.getMessage() for r in caplog.records)
        # Never two pollers at once: Telegram (the stub) never answered 409 Conflict.
        assert [c for c in stub.calls("getUpdates") if c.status == 409] == []

        # The first instance goes away: the second takes over and answers updates.
        await stop(first)
        await wait_until_leader(second_port)
        polls_before = len(stub.calls("getUpdates"))
        second.push(command_update(second.chat, second.user, "/start"))
        await second.wait_for("sendMessage")
        assert len(stub.calls("getUpdates")) > polls_before
        # At most the stopped poller's abandoned long poll is superseded at the handover.
        assert len([c for c in stub.calls("getUpdates") if c.status == 409]) <= 1
        leaders = [r for r in caplog.records if "role: polling leader" in r.getMessage()]
        assert len(leaders) == 2
    finally:
        for running in (first, second):
            if running is not None and running.task is not None and not running.task.done():
                await stop(running)


async def test_sqlite_means_one_instance_which_always_polls(database: Database) -> None:
    leadership = PollingLeadership(database, "1", retry_s=0.1)
    stop_event = asyncio.Event()
    events: list[str] = []

    async def lead() -> None:
        events.append("lead")
        stop_event.set()

    async def lose() -> None:
        events.append("lose")

    await leadership.run(stop_event, lead, lose)
    # PostgreSQL: got the free lock; SQLite: no lock at all. Either way it led, then let go.
    assert events == ["lead", "lose"]
    assert leadership.is_leader is False


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_held_lock_keeps_others_standing_by(database: Database) -> None:
    holder = PollingLeadership(database, "42", retry_s=0.05)
    other = PollingLeadership(database, "42", retry_s=0.05)
    another_bot = PollingLeadership(database, "43", retry_s=0.05)
    assert holder.lock is not None and other.lock is not None and another_bot.lock is not None
    assert await holder.lock.try_acquire()
    assert not await other.lock.try_acquire()
    assert await another_bot.lock.try_acquire()  # a different bot on the same database
    await holder.lock.release()
    assert await other.lock.try_acquire()
    await other.lock.release()
    await another_bot.lock.release()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_leader_whose_connection_dies_steps_down_and_the_lock_is_free(
    database: Database,
) -> None:
    leader = PollingLeadership(database, "7", retry_s=0.05)
    stop_event = asyncio.Event()
    events: list[str] = []

    async def lead() -> None:
        events.append("lead")

    async def lose() -> None:
        events.append("lose")

    task = asyncio.create_task(leader.run(stop_event, lead, lose))
    try:
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.05)
        assert events == ["lead"]
        # The leader's database session dies (a crash, a network cut): PostgreSQL frees
        # the lock, and the leader notices at its next check and stops polling.
        assert leader.lock is not None
        async with database.engine.connect() as admin:
            await admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = (:key & x'ffffffff'::bigint)::oid"
                ),
                {"key": leader.lock.key},
            )
        for _ in range(100):
            if len(events) >= 2:
                break
            await asyncio.sleep(0.05)
        assert events[:2] == ["lead", "lose"]
        # Nobody else wants it, so it is leader again as soon as it retries.
        for _ in range(100):
            if len(events) >= 3:
                break
            await asyncio.sleep(0.05)
        assert events[:3] == ["lead", "lose", "lead"]
    finally:
        stop_event.set()
        await asyncio.wait_for(task, timeout=10)
