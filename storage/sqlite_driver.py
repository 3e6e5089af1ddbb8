"""SQLite for asyncio with no thread hop per statement: SQLAlchemy's `sqlite+claymate`.

aiosqlite runs every call on a worker thread and hands the answer back through the event
loop: a one-row INSERT in a session is about fourteen such hops, 2.2 ms of CPU, where the
SQL itself takes microseconds. Worse, a session holds SQLite's one write lock across all
its hops, so under load every other session queues behind loop iterations. On the
photo-to-draft path (bench/bench_drafts.py) that was most of the bot's database time.

So this driver runs each statement inline, on the event loop's thread (0.6 ms for the
same INSERT, nearly all of it SQLAlchemy), and `storage.db` gives the engine a single
connection: sessions wait for it in the pool's asyncio queue, first come first served,
instead of spinning in SQLite's busy handler. Nothing here may block the loop for long:

- Another process holding the write lock (say `claymate make` beside a running bot):
  the connection's busy timeout is 0, and a statement that finds the database locked
  outside a transaction (in practice our BEGIN IMMEDIATE) is retried after an
  `asyncio.sleep`, with backoff, for up to `lock_wait_s`.
- WAL checkpoints, which fsync: automatic checkpoints are off on these connections, and
  `Checkpointer` runs a passive one on a worker thread after every few hundred commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import util
from sqlalchemy.connectors.asyncio import (
    AsyncAdapt_dbapi_connection,
    AsyncAdapt_dbapi_cursor,
    AsyncAdapt_dbapi_module,
    AsyncAdapt_dbapi_ss_cursor,
    AsyncIODBAPIConnection,
)
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

LOCK_WAIT_S = 30.0
_FIRST_RETRY_S = 0.001
_MAX_RETRY_S = 0.05
CHECKPOINT_EVERY_COMMITS = 200


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class Checkpointer:
    """Copies the WAL back into the database file on a worker thread, never on the loop.

    One per database file; it keeps its own plain connection for the thread's use.
    """

    def __init__(self, database: str, every_commits: int = CHECKPOINT_EVERY_COMMITS) -> None:
        self.database = database
        self.every_commits = every_commits
        self._commits = 0
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        """Count a commit; every `every_commits` start a checkpoint unless one is running."""
        self._commits += 1
        if self._commits < self.every_commits or (self._running and not self._running.done()):
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().run_in_executor(None, self.checkpoint)

    def checkpoint(self) -> None:
        """A PASSIVE checkpoint: copies what it can without waiting for anyone."""
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self.database, timeout=0, check_same_thread=False, isolation_level=None
                )
            with contextlib.suppress(sqlite3.OperationalError):  # busy: the next one will do
                self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def aclose(self) -> None:
        if self._running is not None:
            with contextlib.suppress(Exception):
                await self._running
        await asyncio.get_running_loop().run_in_executor(None, self._close)

    def _close(self) -> None:
        # The last connection to close checkpoints what is left and removes the WAL.
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class InlineCursor:
    """An aiosqlite-shaped cursor whose coroutines finish without ever suspending, except
    to wait out another process's lock."""

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Any = ()) -> InlineCursor:
        await self._connection.run(self._cursor.execute, operation, parameters)
        return self

    async def executemany(self, operation: str, seq: Iterable[Any]) -> InlineCursor:
        await self._connection.run(self._cursor.executemany, operation, seq)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None


class InlineConnection:
    """A sqlite3 connection behind async methods, as SQLAlchemy's asyncio adapter wants."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        lock_wait_s: float = LOCK_WAIT_S,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self.raw = connection
        self.lock_wait_s = lock_wait_s
        self.checkpointer = checkpointer

    async def run(self, call: Any, *args: Any) -> Any:
        """Run one sqlite3 call now; if another process holds the lock, wait without blocking.

        Only a statement issued outside a transaction is retried: it did nothing, so
        running it again is safe. Inside a transaction SQLite's answer stands.
        """
        delay, waited = _FIRST_RETRY_S, 0.0
        while True:
            outside_transaction = not self.raw.in_transaction
            try:
                return call(*args)
            except sqlite3.OperationalError as error:
                if not (_is_busy(error) and outside_transaction) or waited >= self.lock_wait_s:
                    raise
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, _MAX_RETRY_S)

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self.raw.cursor())

    async def commit(self) -> None:
        self.raw.commit()
        if self.checkpointer is not None:
            self.checkpointer.committed()

    async def rollback(self) -> None:
        self.raw.rollback()

    async def close(self) -> None:
        self.raw.close()


class _Cursor(AsyncAdapt_dbapi_cursor):
    __slots__ = ()


class _ServerSideCursor(AsyncAdapt_dbapi_ss_cursor):
    __slots__ = ()


class _Connection(AsyncAdapt_dbapi_connection):
    __slots__ = ()

    _cursor_cls = _Cursor
    _ss_cursor_cls = _ServerSideCursor
    # Narrower than the base's protocol: this adapter only ever wraps an InlineConnection.
    _connection: InlineConnection  # type: ignore[assignment]

    # Both are instant on sqlite3 itself; aiosqlite's adapter would queue them to a thread.
    @property
    def isolation_level(self) -> str | None:
        return self._connection.raw.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        # typeshed lists only the keywords; sqlite3 also takes "", which SQLAlchemy sets.
        self._connection.raw.isolation_level = value  # type: ignore[assignment]

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.raw.create_function(*args, **kwargs)


class _DBAPI(AsyncAdapt_dbapi_module):
    """The module-shaped object SQLAlchemy reads errors and constants from."""

    paramstyle = "qmark"
    has_stop = False

    def __init__(self) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        self.sqlite = sqlite3
        for name in (
            "DatabaseError",
            "Error",
            "IntegrityError",
            "InterfaceError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        ):
            setattr(self, name, getattr(sqlite3, name))
        self._checkpointers: dict[str, Checkpointer] = {}

    def connect(self, database: str, *args: Any, **kwargs: Any) -> _Connection:
        kwargs.pop("async_creator_fn", None)
        lock_wait_s = float(kwargs.pop("lock_wait_s", LOCK_WAIT_S))
        checkpointer = kwargs.pop("checkpointer", None)
        kwargs["timeout"] = 0  # never block the loop in SQLite's busy handler: see run()
        kwargs["check_same_thread"] = False  # the pool may close it from the gc's thread
        raw = sqlite3.connect(database, *args, **kwargs)
        if checkpointer is not None:
            raw.execute("PRAGMA wal_autocheckpoint=0")
        inline = InlineConnection(raw, lock_wait_s=lock_wait_s, checkpointer=checkpointer)
        # InlineConnection has the protocol's methods, not its __getattr__/__setattr__ catch-alls.
        return _Connection(self, cast("AsyncIODBAPIConnection", inline))


class SQLiteDialect_claymate(SQLiteDialect_aiosqlite):
    """aiosqlite's dialect (pooling, SQL, types) on the inline connection above."""

    driver = "claymate"
    supports_statement_cache = True
    has_terminate = False

    @classmethod
    # The base promises the sqlite3 module; an object shaped like it is what SQLAlchemy reads.
    def import_dbapi(cls) -> _DBAPI:  # type: ignore[override]
        return _DBAPI()

    def retrieve_dbapi_version(self, dbapi: Any) -> util.VersionInfo:
        return util.parse_version_string(sqlite3.sqlite_version)


registry.register("sqlite.claymate", __name__, "SQLiteDialect_claymate")

dialect = SQLiteDialect_claymate
