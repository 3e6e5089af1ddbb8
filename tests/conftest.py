"""Shared fixtures: settings isolated from the machine, and real databases.

Storage-touching tests run on SQLite always, and on PostgreSQL too when TEST_DATABASE_URL
points at a server (CI sets it). Each test gets a fresh database copied or cloned from a
migrated template (SQLite file, PostgreSQL database), so tests never see each other's rows
and the migrations run once per session, not once per test.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings, normalise_database_url
from storage.db import Database
from tests.databases import execute_autocommit, migrated_sqlite, with_database

# Every variable Settings reads: the tests must not pick up a developer's real keys.
_SETTINGS_ENV = [
    str(info.validation_alias.choices[0])  # type: ignore[union-attr]
    for info in Settings.model_fields.values()
    if info.validation_alias is not None
]

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    # pydantic-settings reads `.env` from the working directory: keep tests out of it.
    monkeypatch.chdir(tmp_path)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test: data under tmp_path, no keys unless given, no .env file."""
    values: dict[str, object] = {"data_dir": tmp_path / "data"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    def factory(**overrides: object) -> Settings:
        return make_settings(tmp_path, **overrides)

    return factory


# --- databases ---------------------------------------------------------------------------

_PG_TEMPLATE = f"claymate_tpl_{os.getpid()}"


def _pg_admin_url() -> str | None:
    raw = os.environ.get("TEST_DATABASE_URL")
    return normalise_database_url(raw) if raw else None


@contextlib.asynccontextmanager
async def _fresh_postgres(prefix: str, *, template: str | None) -> AsyncIterator[str]:
    """A new database on the test server (a clone of `template`, or empty), dropped after."""
    admin = _pg_admin_url()
    assert admin is not None
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    from_template = f' TEMPLATE "{template}"' if template else ""
    await execute_autocommit(admin, f'CREATE DATABASE "{name}"{from_template}')
    try:
        yield with_database(admin, name)
    finally:
        await execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str | None]:
    """Migrate one template database per test session; tests clone it."""
    admin = _pg_admin_url()
    if admin is None:
        yield None
        return
    import asyncio

    async def create() -> None:
        await execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}"')
        await execute_autocommit(admin, f'CREATE DATABASE "{_PG_TEMPLATE}"')
        database = Database.from_url(with_database(admin, _PG_TEMPLATE))
        await database.upgrade()
        await database.dispose()

    asyncio.run(create())
    yield _PG_TEMPLATE
    asyncio.run(
        execute_autocommit(admin, f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}" WITH (FORCE)')
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _pg_template: str | None
) -> AsyncIterator[str]:
    """A migrated, empty database: SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "test.db")
        return
    if _pg_template is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL variant not run")
    async with _fresh_postgres("claymate_t", template=_pg_template) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def postgres_database_url(_pg_template: str | None) -> AsyncIterator[str]:
    """A migrated, empty PostgreSQL database, for what only PostgreSQL does."""
    if _pg_template is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL-only test not run")
    async with _fresh_postgres("claymate_p", template=_pg_template) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, as a first deployment finds it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    if _pg_admin_url() is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL variant not run")
    async with _fresh_postgres("claymate_e", template=None) as url:
        yield url
