"""SQLite on stock aiosqlite: statements off the event loop's thread, sessions in turn on
one connection, and waiting for another process's lock without blocking the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import LOCK_WAIT_S, Database


async def _fresh(tmp_path: Path) -> Database:
    db = Database.from_url(f"sqlite:///{tmp_path / 'driver.db'}")
    async with db.session() as session:
        await session.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await session.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return db


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """The counter database of `_fresh`, disposed after the test whatever it did."""
    database = await _fresh(tmp_path)
    try:
        yield database
    finally:
        await database.dispose()


async def _total(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT n FROM counter"))).scalar_one())


async def _increment(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("UPDATE counter SET n = n + 1"))


class _LoopWatch:
    """The longest the event loop went without running a 5 ms ticker."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.005)
            self.worst_s = max(self.worst_s, loop.time() - started - 0.005)

    def __enter__(self) -> _LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def _hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    """Another process's writer, played by a plain connection on another thread."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE counter SET n = n + 100")
    locked.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


async def test_connections_get_wal_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    async with db.session() as session:

        async def pragma(name: str) -> object:
            return (await session.execute(text(f"PRAGMA {name}"))).scalar_one()

        assert await pragma("journal_mode") == "wal"
        assert await pragma("foreign_keys") == 1
        assert await pragma("synchronous") == 1  # NORMAL: WAL stays consistent
        assert await pragma("busy_timeout") == int(LOCK_WAIT_S * 1000)


async def test_statements_run_off_the_event_loop_thread(db: Database) -> None:
    # So SQLite's busy waits and the fsyncs of its checkpoints never hold up the loop.
    async with db.session() as session:
        raw = await session.connection()
        driver = (await raw.get_raw_connection()).driver_connection
        await driver.create_function("thread_id", 0, threading.get_ident)
        thread = (await session.execute(text("SELECT thread_id()"))).scalar_one()
    assert thread != threading.get_ident()


async def test_concurrent_sessions_take_turns_and_lose_no_update(db: Database) -> None:
    async def increment() -> None:
        async with db.session() as session:
            n = (await session.execute(text("SELECT n FROM counter WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0)  # let every other session try to get in between
            await session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(50)))
    assert await _total(db) == 50


async def test_another_process_lock_is_waited_out_while_the_loop_runs(
    db: Database, tmp_path: Path
) -> None:
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(tmp_path / "driver.db", 0.5, locked))
    try:
        holder.start()
        await asyncio.to_thread(locked.wait, 5)
        started = time.monotonic()
        with _LoopWatch() as watch:
            await _increment(db)
        waited = time.monotonic() - started
        assert await _total(db) == 101  # both writers' work, in order
        assert waited >= 0.3  # it really waited for the other writer to commit
        assert watch.worst_s < 0.1  # …without holding up the event loop meanwhile
    finally:
        await asyncio.to_thread(holder.join)


async def test_a_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    await (await _fresh(tmp_path)).dispose()
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(tmp_path / "driver.db", 1.0, locked))
    short = Database.from_url(f"sqlite:///{tmp_path / 'driver.db'}", lock_wait_s=0.2)
    try:
        holder.start()
        await asyncio.to_thread(locked.wait, 5)
        with pytest.raises(OperationalError, match="database is locked"):
            await _increment(short)
    finally:
        await asyncio.to_thread(holder.join)
        await short.dispose()


async def test_closing_folds_the_wal_back_into_the_database_file(tmp_path: Path) -> None:
    db = await _fresh(tmp_path)  # not the fixture: what is checked comes after dispose
    try:
        for _ in range(12):
            await _increment(db)
        assert (tmp_path / "driver.db-wal").exists()
    finally:
        await db.dispose()
    # The last connection to close checkpoints what is left and removes the WAL.
    assert not (tmp_path / "driver.db-wal").exists()
    plain = sqlite3.connect(tmp_path / "driver.db")
    assert plain.execute("SELECT n FROM counter").fetchone() == (12,)
    plain.close()


class _Trips:
    """Counts trips to aiosqlite's thread: every driver call goes through Connection._execute,
    one queue hand-over and one wake-up of the event loop each, the cost that matters."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = aiosqlite.Connection._execute

        async def counted(connection: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
            self.calls.append(getattr(fn, "__name__", repr(fn)))
            return await real(connection, fn, *args, **kw)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)


async def test_a_unit_of_work_costs_its_statements_and_two_more_trips(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BEGIN IMMEDIATE and COMMIT are one trip each, and a connection coming back from a
    # committed transaction is not rolled back again: there is nothing to roll back.
    async with db.session() as session:  # connect outside the count
        await session.execute(text("SELECT 1"))
    trips = _Trips(monkeypatch)
    async with db.session() as session:
        await session.execute(text("SELECT n FROM counter WHERE id = 1"))
    statement = 4  # the adapter's cursor, execute, fetchall, close
    assert len(trips.calls) == statement + 2, trips.calls


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(db: Database) -> None:
    # What a unit of work cancelled at the wrong moment could leave: a transaction the
    # session no longer knows of. The next unit of work must neither fail to BEGIN nor
    # commit the abandoned work with its own.
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("BEGIN IMMEDIATE")
        await driver.execute("UPDATE counter SET n = n + 100")
        assert driver.in_transaction
    await _increment(db)
    assert await _total(db) == 1


async def test_a_unit_of_work_cancelled_while_it_begins_leaves_no_transaction_behind(
    db: Database, tmp_path: Path
) -> None:
    # The update is cancelled (shutdown, Ctrl-C) while BEGIN IMMEDIATE waits for another
    # process's lock on aiosqlite's thread; the BEGIN completes there after the task gave
    # up. The next unit of work must still begin, and commit only its own work.
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(tmp_path / "driver.db", 0.5, locked))
    try:
        holder.start()
        await asyncio.to_thread(locked.wait, 5)
        waiting = asyncio.create_task(_increment(db))
        await asyncio.sleep(0.2)  # BEGIN IMMEDIATE is in sqlite3's busy wait by now
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.to_thread(holder.join)
        await _increment(db)
        # The other writer's 100 and the second increment, nothing else.
        assert await _total(db) == 101
    finally:
        await asyncio.to_thread(holder.join)
