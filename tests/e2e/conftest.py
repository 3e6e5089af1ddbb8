"""The real bot (python-telegram-bot Application + job runner) against the local Bot API stub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import serve
from bot.config import Settings
from bot.domain.states import TakeState
from bot.media.sample import sample_photo
from bot.runner import RunnerPolicy
from storage.db import Database
from tests.conftest import make_settings
from tests.databases import migrated_sqlite
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import private_chat, private_user

FAST = RunnerPolicy(poll_interval_s=0.2, queue_recheck_s=0.2, tick_s=0.1, lease_s=30)


@dataclass
class RunningBot:
    """A bot serving updates from `stub`; tests push updates and read the calls it made."""

    stub: TelegramStub
    settings: Settings
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None
    user: dict[str, Any] = field(default_factory=lambda: private_user(first_name="Lin"))

    @property
    def chat(self) -> dict[str, Any]:
        return private_chat(self.user)

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        return self.stub.push_update(update)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 20.0,  # noqa: ASYNC109 - mirrors the stub's wait_for
    ) -> Call:
        calls = await self.stub.wait_for_async(
            method, count=count, timeout=timeout, predicate=predicate
        )
        self.raise_if_crashed()
        return calls[-1] if isinstance(calls, list) else calls

    def sent_message(self, call: Call) -> dict[str, Any]:
        """The Message object the stub returned for a send/edit call."""
        result = call.result
        assert isinstance(result, dict), call
        return result

    def raise_if_crashed(self) -> None:
        if self.task is not None and self.task.done() and self.task.exception():
            raise self.task.exception()  # type: ignore[misc]


async def start_bot(stub: TelegramStub, settings: Settings) -> RunningBot:
    running = RunningBot(stub, settings, asyncio.Event())
    running.task = asyncio.create_task(serve(settings, running.stop, policy=FAST, poll_timeout=1))
    await stub.wait_for_async("getUpdates", timeout=20)
    running.raise_if_crashed()
    return running


async def stop_bot(running: RunningBot) -> None:
    running.stop.set()
    if running.task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running.task, timeout=30)


def bot_settings(tmp_path: Path, stub: TelegramStub, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": stub.token,
        "telegram_api_url": stub.api_root,
        "preview_height": 240,
        "album_debounce_s": 0.5,
        "status_edit_interval_s": 0.0,
    }
    values.update(overrides)
    settings = make_settings(tmp_path, **values)
    database = settings.data_dir / "claymate.db"
    if not settings.database_url and not database.exists():
        # The database a first start would migrate, migrated already (a copy): the bot
        # still checks it is at head when it starts. A restart finds its own rows.
        migrated_sqlite(database)
    return settings


@pytest.fixture
def stub() -> AsyncIterator[TelegramStub]:
    with TelegramStub() as running:
        yield running
    # Every call the bot made must fit the Bot API spec (when the spec is available).
    assert running.spec_violations == [], running.spec_violations
    assert running.server_errors == [], running.server_errors


@pytest.fixture
async def bot(stub: TelegramStub, tmp_path: Path) -> AsyncIterator[RunningBot]:
    running = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        yield running
    finally:
        await stop_bot(running)


async def all_takes_delivered(bot: RunningBot, timeout_s: float = 30) -> None:
    """Wait until every take is marked delivered: a clip reaches the chat a moment before
    its take is, and a /film in between rightly finds no clip yet."""
    from sqlalchemy import func, select

    from storage.models import Take

    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                async with db.session() as session:
                    waiting = await session.scalar(
                        select(func.count())
                        .select_from(Take)
                        .where(Take.status != TakeState.DELIVERED)
                    )
                if not waiting:
                    return
                await asyncio.sleep(0.05)
    finally:
        await db.dispose()


async def still_first_off(bot: RunningBot, chat: dict[str, Any]) -> None:
    """Turn the group's still-first setting off before its first update, so its drafts offer
    🎬 Generate at once, as the tests about paying for takes in a group expect."""
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.chats.upsert_chat(chat["id"], type=chat["type"], title=chat.get("title"))
            await uow.chats.set_chat_setting(chat["id"], "still_first", False)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def city_photo() -> bytes:
    return sample_photo(width=800, height=600)
