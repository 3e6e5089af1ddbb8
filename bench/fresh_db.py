"""A fresh, empty database for one benchmark run: a SQLite file, or a new PostgreSQL
database created on the given server and dropped afterwards.

Runs must not share rows: Telegram update ids start again with every stub, and a second
run on the same database would see its updates as redeliveries and skip them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from bot.config import normalise_database_url
from tests.databases import execute_autocommit, with_database


@contextlib.contextmanager
def fresh_database(server_url: str | None, workdir: Path) -> Iterator[str]:
    """The DATABASE_URL to give the bot; `server_url` None means SQLite in `workdir`."""
    if server_url is None:
        yield f"sqlite:///{workdir / 'claymate.db'}"
        return
    admin = normalise_database_url(server_url)
    name = f"claymate_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(execute_autocommit(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(admin, name)
    finally:
        asyncio.run(execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
