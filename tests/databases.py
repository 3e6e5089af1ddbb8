"""Fresh databases for the tests' fixtures and the benchmarks alike: PostgreSQL databases
made and dropped on a server, and migrated SQLite files."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def execute_autocommit(admin_url: str, sql: str) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE need that)."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def migrated_sqlite(path: Path) -> str:
    """A migrated, empty SQLite database at `path`, as the bot leaves a new one; its URL.

    Running every migration takes about a second (SQLite rebuilds tables to alter them),
    and hundreds of tests each want a fresh database: the migrations run once per test
    process, into a template, and each test gets a copy of it. Tests of the migrations
    themselves start from an empty file instead.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(_sqlite_template(), path)
    os.chmod(path, 0o600)  # as the bot makes its database file: readable by it alone
    return f"sqlite+aiosqlite:///{path}"


@functools.cache
def _sqlite_template() -> Path:
    from storage.db import Database

    directory = Path(tempfile.mkdtemp(prefix="claymate-sqlite-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    template = directory / "template.db"

    async def migrate() -> None:
        database = Database.from_url(f"sqlite+aiosqlite:///{template}")
        try:
            await database.upgrade()
        finally:
            await database.dispose()  # checkpoints the WAL: the one file is the whole database

    # Callers may be inside a running event loop (async fixtures): migrate on a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    return template
