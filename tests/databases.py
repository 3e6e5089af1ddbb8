"""Fresh PostgreSQL databases, for the tests' fixtures and the benchmarks alike."""

from __future__ import annotations

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
