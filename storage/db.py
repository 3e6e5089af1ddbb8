"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolResetState
from sqlalchemy.util import await_

from storage.locks import MIGRATIONS, lock_key
from storage.uow import UnitOfWork

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LOCK_WAIT_S = 30.0  # SQLite: how long a unit of work waits for the write lock
# PostgreSQL: a pooled connection idle this long is checked before use (see _ping_if_idle).
PING_AFTER_IDLE_S = 1.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, lock_wait_s: float) -> None:
    # WAL lets readers work while the job runner writes; foreign keys are off by default
    # in SQLite. Waiting for another process's lock is sqlite3's busy timeout (the
    # connection's `timeout`), spent on aiosqlite's thread, never on the event loop; so are
    # WAL checkpoints, which SQLite runs at commit.
    # We issue BEGIN ourselves (see _sqlite_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    _switch_to_wal(cursor, lock_wait_s)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any, lock_wait_s: float) -> None:
    """Put the file in WAL mode, waiting for other writers of a brand-new file.

    The mode is stored in the file, so this only does work once. The switch needs the
    exclusive lock, and SQLite refuses it at once, without its busy wait, while another
    connection holds the write lock in the old journal mode: instances starting together
    on a new file meet that. So we wait here, within the connection's own lock timeout.
    """
    deadline = time.monotonic() + lock_wait_s
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError, wrapped by the adapter
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        # The connect hook runs in SQLAlchemy's greenlet: this sleeps without blocking the loop.
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, 0.25)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    lock_wait_s: float = LOCK_WAIT_S,
    ping_after_idle_s: float = PING_AFTER_IDLE_S,
) -> AsyncEngine:
    """An async engine for `url` (already normalised to an async driver).

    SQLite runs on stock aiosqlite (a thread per connection) with one connection: sessions
    wait for it in the pool's asyncio queue, first come first served, instead of several
    connections retrying SQLite's one write lock in its busy handler. Every driver call is
    a trip to that thread and back, so a transaction's own cost is kept to two: BEGIN and
    COMMIT (see _sqlite_begin and _sqlite_reset).

    PostgreSQL's pool checks a connection before use only after it sat idle for
    `ping_after_idle_s` (see _ping_if_idle), not at every checkout.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        kwargs = {"echo": echo, "pool_reset_on_return": None}  # _sqlite_reset does it
        database = parsed.database
        if database and database != ":memory:":
            _create_private_file(Path(database))
            kwargs.update(
                poolclass=AsyncAdaptedQueuePool,
                pool_size=1,
                max_overflow=0,
                pool_timeout=lock_wait_s,
                connect_args={"timeout": lock_wait_s},
            )
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(
            engine.sync_engine,
            "connect",
            functools.partial(_sqlite_pragmas, lock_wait_s=lock_wait_s),
        )
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        event.listen(engine.sync_engine.pool, "reset", _sqlite_reset)
    else:
        event.listen(engine.sync_engine.pool, "checkin", _note_idle_since)
        event.listen(
            engine.sync_engine.pool,
            "checkout",
            functools.partial(
                _ping_if_idle, dialect=engine.sync_engine.dialect, after_s=ping_after_idle_s
            ),
        )
    return engine


def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:  # None: a connection detached from the pool
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(
    dbapi_connection: Any, record: Any, _proxy: Any, *, dialect: Any, after_s: float
) -> None:
    """Check a pooled connection that sat idle before handing it out; replace a dead one.

    A restart, a failover or an idle timeout ends sessions while they sit in the pool, and
    the first statement on one would fail the user's update. SQLAlchemy's pre-ping checks
    at every checkout, and on asyncpg a ping is three round trips (BEGIN, ";", ROLLBACK):
    more than a small unit of work costs. A connection used moments ago (in a burst, a few
    milliseconds) is as good as just checked; one idle longer is pinged. A new connection
    has no mark (the record's info is cleared when a connection is replaced).
    """
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < after_s:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        # The pool discards this connection and checks out another (documented for
        # the checkout event), as pre-ping would.
        raise DisconnectionError("connection lost while idle in the pool") from error


def _create_private_file(path: Path) -> None:
    """The SQLite file, readable by the bot's user only, before SQLite first opens it.

    SQLite gives its -wal and -shm files the database file's mode, so they follow.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(existing, 0o600)


def _sqlite_begin(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that reads,
    # then writes after another connection committed, fails at once with SQLITE_BUSY
    # (the busy timeout does not apply), and read-then-write races such as "next shot
    # position = max + 1" would go wrong. SQLite is the single-instance default, and its
    # one connection serialises our transactions anyway.
    # It goes to the driver directly: one trip to aiosqlite's thread, where a statement
    # through SQLAlchemy's cursor takes three (cursor, execute, close). Errors are wrapped
    # as that path would wrap them, so "database is locked" reads the same to callers.
    driver = connection.connection.dbapi_connection
    try:
        driver.run_async(lambda aio: aio.execute("BEGIN IMMEDIATE"))
    except connection.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            "BEGIN IMMEDIATE", None, error, connection.dialect.loaded_dbapi.Error
        ) from error
    except BaseException as interrupted:
        # Cancelled or interrupted while the thread may already have begun: as SQLAlchemy
        # does with a statement interrupted so, the connection is never used again, or
        # the next unit of work would find a transaction nobody knows of. Should that fail
        # too, the pool's reset still rolls back what is open; the interruption goes on.
        with contextlib.suppress(Exception):
            connection.invalidate(interrupted)
        raise


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """A connection coming back to the pool: roll back only a transaction still open.

    After a commit or a rollback there is nothing to undo, and the pool's unconditional
    rollback would be one more trip to aiosqlite's thread per unit of work. A transaction
    still open (a unit of work abandoned at the wrong moment) is rolled back here, so the
    next unit of work neither fails to BEGIN nor commits what was abandoned.
    """
    if not state.asyncio_safe:
        return  # garbage collection or termination: the pool discards the connection
    if dbapi_connection.driver_connection.in_transaction:  # a property: no trip
        dbapi_connection.rollback()


@dataclass
class Database:
    """One engine and its session factory; services get this, never a global."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        echo: bool = False,
        lock_wait_s: float = LOCK_WAIT_S,
        ping_after_idle_s: float = PING_AFTER_IDLE_S,
    ) -> Database:
        """`lock_wait_s`: how long SQLite waits for another process's write lock;
        `ping_after_idle_s`: how long a PostgreSQL connection may sit unchecked."""
        engine = create_engine(
            url, echo=echo, lock_wait_s=lock_wait_s, ping_after_idle_s=ping_after_idle_s
        )
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back on error."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """One use case's repositories over one session: committed together, or not at all."""
        async with self.session() as session:
            yield UnitOfWork(session)

    async def upgrade(self, target: str = "heads") -> None:
        """Apply Alembic migrations up to `target` (every head by default) on this engine.

        Instances starting together on one fresh PostgreSQL database would each create the
        same tables; a session advisory lock makes them take turns, and the later ones find
        the schema at head. On SQLite, BEGIN IMMEDIATE (see _sqlite_begin) already does.
        """
        if not self.is_postgres:
            async with self.engine.connect() as connection:
                # Migrations rebuild tables (SQLite's 12-step ALTER): with foreign keys on, the
                # DROP of an old table would cascade into its children. The pragma is a no-op
                # inside a transaction, so it is set on the bare connection before BEGIN.
                await connection.run_sync(_set_foreign_keys, on=False)
                try:
                    async with connection.begin():
                        await connection.run_sync(_upgrade_sync, target)
                        await connection.run_sync(_check_foreign_keys)
                finally:
                    await connection.run_sync(_set_foreign_keys, on=True)
            return
        async with self.engine.connect() as connection:
            await _advisory(connection, "pg_advisory_lock")
            try:
                async with connection.begin():
                    await connection.run_sync(_upgrade_sync, target)
            finally:
                await _unlock_or_discard(connection)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _advisory(connection: AsyncConnection, function: str) -> None:
    # Outside the migration's transaction: a session lock outlives it, so the unlock below
    # still runs when the migration failed and rolled back.
    await connection.execute(text(f"SELECT {function}(:key)"), {"key": lock_key(MIGRATIONS)})
    await connection.commit()


async def _unlock_or_discard(connection: AsyncConnection) -> None:
    """Release the migrations lock; a connection that cannot is closed, which releases it."""
    try:
        await _advisory(connection, "pg_advisory_unlock")
    except BaseException:
        # Back in the pool it would keep the lock and every other instance would wait.
        await connection.invalidate()
        raise


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade_sync(connection: Any, target: str = "heads") -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, target)


def _set_foreign_keys(connection: Any, *, on: bool) -> None:
    """Outside a transaction: straight on the driver's connection, so no BEGIN comes first."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Any) -> None:
    """Before the migration commits: every reference still points at a row."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} broken references, e.g. {broken[0]}")


def upgrade_blocking(url: str) -> None:
    """`claymate db upgrade`: run the migrations and exit."""

    async def run() -> None:
        database = Database.from_url(url)
        try:
            await database.upgrade()
        finally:
            await database.dispose()

    asyncio.run(run())
