"""The use cases over a SQLite unit of work (a migrated copy per world, under tmp_path),
with fake ports: no network, no files beyond those and the photos intake writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.types import Actor, Sender
from bot.media.sample import sample_photo
from bot.services import Services
from bot.wiring import build_use_cases
from storage.db import Database
from tests.conftest import make_settings
from tests.databases import migrated_sqlite
from tests.fakes.ports import FakeDrafter, FakeVideo

GROUP = -1_005_000_000_001
OWNER, MEMBER, ADMIN, OPERATOR, STRANGER = 5_001, 5_002, 5_003, 5_999, 5_100


@dataclass
class World:
    """The use cases, the fakes behind them, and the database they share."""

    services: Services
    db: Database
    drafter: FakeDrafter
    video: FakeVideo

    async def actor(self, user_id: int, chat_id: int | None = None) -> Actor:
        """A user, entered in their private chat or (a negative id) in a group."""
        chat = user_id if chat_id is None else chat_id
        kind = "supergroup" if chat < 0 else "private"
        return await self.services.accounts.enter(
            Sender(user_id=user_id, chat_id=chat, chat_type=kind)
        )

    async def draft(self, actor: Actor, description: str = "boats glide") -> int:
        """A photo with a description, drafted at once: its first revision's id."""
        outcome = await self.services.drafting.add_photo(
            actor, sample_photo(width=400, height=300), description
        )
        assert outcome.revision is not None
        return outcome.revision.id


WorldFactory = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(tmp_path: Path) -> AsyncIterator[WorldFactory]:
    """Build a world with settings overrides (costs, quotas); each on its own database."""
    databases: list[Database] = []

    async def make(**settings: object) -> World:
        db = Database.from_url(migrated_sqlite(tmp_path / f"world-{len(databases)}.db"))
        databases.append(db)
        values: dict[str, object] = {"costs": "kling:std:5=1.5", "admin_ids": (OPERATOR,)}
        values.update(settings)
        drafter, video = FakeDrafter(), FakeVideo()
        services = build_use_cases(
            make_settings(tmp_path, **values), db, drafter, {"kling": video}, "kling"
        )
        return World(services, db, drafter, video)

    yield make
    for db in databases:
        await db.dispose()


@pytest.fixture
async def world(make_world: WorldFactory) -> World:
    return await make_world()


def status_is(status: str) -> Callable[[], Awaitable[str]]:
    """A getChatMember answer, as the chat front end would fetch it."""

    async def fetch() -> str:
        return status

    return fetch
