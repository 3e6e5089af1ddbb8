"""Chat actions ("typing…") are shown only when an answer is slow, and never queue ahead
of real messages when the bot is at Telegram's rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from telegram.constants import ChatAction

from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from handlers import common
from handlers.common import chat_action
from tests.fakes.telegram_stub import TelegramStub


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    with TelegramStub() as running:
        yield running
    assert running.server_errors == [], running.server_errors


def _limiter(per_second: int) -> RateLimiter:
    return RateLimiter(
        Metrics(), overall_max_rate=per_second, overall_time_period=1, max_retries=1
    )


async def test_a_chat_action_is_dropped_when_the_budget_is_spent(stub: TelegramStub) -> None:
    limiter = _limiter(per_second=2)
    app = stub.application_builder().rate_limiter(limiter).build()
    async with app:
        await app.bot.send_message(5, "one")
        await app.bot.send_message(6, "two")
        assert not limiter.has_room()
        started = time.monotonic()
        assert await app.bot.send_chat_action(5, ChatAction.TYPING) is True
        assert time.monotonic() - started < 0.2  # answered at once, not queued
        assert stub.calls("sendChatAction") == []
        assert limiter.shed == 1
        # A real message is never dropped: it waits for room and goes out.
        assert (await app.bot.send_message(7, "three")).text == "three"
        await asyncio.sleep(1.0)
        assert limiter.has_room()
        assert await app.bot.send_chat_action(5, ChatAction.TYPING) is True
    assert [c.params["chat_id"] for c in stub.calls("sendChatAction")] == [5]
    assert len(stub.calls("sendMessage")) == 3


async def test_a_chat_action_is_dropped_while_a_flood_wait_runs(stub: TelegramStub) -> None:
    limiter = _limiter(per_second=30)
    app = stub.application_builder().rate_limiter(limiter).build()
    stub.fail_next("sendMessage", retry_after=1)
    async with app:
        waiting = asyncio.create_task(app.bot.send_message(5, "after the wait"))
        await asyncio.sleep(0.3)  # the 429 came back; PTB is waiting it out
        assert await app.bot.send_chat_action(5, ChatAction.TYPING) is True
        assert (await waiting).text == "after the wait"
    assert stub.calls("sendChatAction") == []
    assert limiter.shed == 1


async def test_a_quick_answer_shows_no_chat_action(stub: TelegramStub) -> None:
    app = stub.application_builder().build()
    async with app:
        async with chat_action(app.bot, 5, after_s=0.5):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.6)  # nothing was left behind to fire later
    assert stub.calls("sendChatAction") == []


async def test_a_slow_answer_keeps_the_chat_action_showing(
    stub: TelegramStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "CHAT_ACTION_EVERY_S", 0.3)
    app = stub.application_builder().build()
    async with app:
        async with chat_action(app.bot, 5, ChatAction.UPLOAD_PHOTO, thread_id=None, after_s=0.2):
            await asyncio.sleep(1.0)
        shown = len(stub.calls("sendChatAction"))
        await asyncio.sleep(0.5)
    assert shown >= 3  # at 0.2 s, then every 0.3 s while the block ran
    assert len(stub.calls("sendChatAction")) == shown  # and none once it ended
    assert {c.params["action"] for c in stub.calls("sendChatAction")} == {"upload_photo"}


async def test_an_immediate_chat_action_goes_out_before_the_answer(stub: TelegramStub) -> None:
    app = stub.application_builder().build()
    async with app:
        async with chat_action(app.bot, 5, ChatAction.UPLOAD_VIDEO, after_s=0):
            await app.bot.send_message(5, "the clip")
    methods = [c.method for c in stub.calls() if c.method in ("sendChatAction", "sendMessage")]
    assert methods == ["sendChatAction", "sendMessage"]
