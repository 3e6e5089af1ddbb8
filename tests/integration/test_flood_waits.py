"""A chat waiting on Telegram's flood limits waits alone: other chats and updates go on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from bot.slots import UpdateSlots
from tests.fakes.telegram_stub import TelegramStub

GROUP = -1_001_234_567_890
PRIVATE = 5


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    with TelegramStub() as running:
        yield running
    assert running.server_errors == [], running.server_errors


def _sent_to(stub: TelegramStub) -> list[int]:
    return [int(c.params["chat_id"]) for c in stub.calls("sendMessage")]


async def _run_all(processor: UpdateSlots, work: list[Awaitable[Any]]) -> None:
    await asyncio.gather(*(processor.process_update(n, w) for n, w in enumerate(work)))


async def test_a_flood_wait_in_one_chat_does_not_pause_the_others(stub: TelegramStub) -> None:
    limiter = RateLimiter(Metrics(), max_retries=1)
    app = stub.application_builder().rate_limiter(limiter).build()
    stub.fail_next("sendMessage", retry_after=2, when=lambda p: p.get("chat_id") == GROUP)
    async with app:
        waiting = asyncio.create_task(app.bot.send_message(GROUP, "after the wait"))
        await asyncio.sleep(0.3)  # the group's 429 came back; its wait runs
        assert (await app.bot.send_message(PRIVATE, "right away")).text == "right away"
        assert not waiting.done()
        assert (await waiting).text == "after the wait"
    # The group's failed try, the private message, then the group's retry.
    assert _sent_to(stub) == [GROUP, PRIVATE, GROUP]


async def test_an_update_waiting_out_a_429_gives_its_slot_away(stub: TelegramStub) -> None:
    limiter = RateLimiter(Metrics(), max_retries=1)
    app = stub.application_builder().rate_limiter(limiter).build()
    processor = UpdateSlots(1)
    stub.fail_next("sendMessage", retry_after=1, when=lambda p: p.get("chat_id") == GROUP)
    async with app:

        async def group_update() -> None:
            await app.bot.send_message(GROUP, "flooded")

        async def private_update() -> None:
            await asyncio.sleep(0.2)  # arrives while the group's wait runs
            await app.bot.send_message(PRIVATE, "hello")

        await _run_all(processor, [group_update(), private_update()])
    assert _sent_to(stub) == [GROUP, PRIVATE, GROUP]


async def test_an_update_waiting_for_its_groups_budget_gives_its_slot_away(
    stub: TelegramStub,
) -> None:
    # One message per 2 s in a group: the second waits for the group's budget.
    limiter = RateLimiter(Metrics(), group_max_rate=1, group_time_period=2, max_retries=1)
    app = stub.application_builder().rate_limiter(limiter).build()
    processor = UpdateSlots(1)
    async with app:

        async def group_update(text: str) -> None:
            await app.bot.send_message(GROUP, text)

        async def private_update() -> None:
            await app.bot.send_message(PRIVATE, "hello")

        await _run_all(processor, [group_update("one"), group_update("two"), private_update()])
    assert _sent_to(stub) == [GROUP, PRIVATE, GROUP]


async def test_a_chat_action_for_a_group_out_of_budget_is_dropped(stub: TelegramStub) -> None:
    limiter = RateLimiter(Metrics(), group_max_rate=1, group_time_period=60, max_retries=1)
    app = stub.application_builder().rate_limiter(limiter).build()
    async with app:
        await app.bot.send_message(GROUP, "the group's whole budget")
        assert await app.bot.send_chat_action(GROUP, "typing") is True  # at once, not queued
        assert await app.bot.send_chat_action(PRIVATE, "typing") is True
    assert [int(c.params["chat_id"]) for c in stub.calls("sendChatAction")] == [PRIVATE]
    assert limiter.shed == 1


async def test_hundreds_of_updates_waiting_for_a_groups_budget_do_not_shut_others_out(
    stub: TelegramStub,
) -> None:
    # PTB lets 256 updates be in flight at once; a group's flood of commands fills that.
    limiter = RateLimiter(Metrics(), group_max_rate=1, group_time_period=60, max_retries=1)
    app = stub.application_builder().rate_limiter(limiter).build()
    processor = UpdateSlots(2)
    async with app:

        async def group_update(n: int) -> None:
            await app.bot.send_message(GROUP, f"answer {n}")

        async def private_update() -> None:
            await app.bot.send_message(PRIVATE, "hello")

        work = [group_update(n) for n in range(300)] + [private_update()]
        tasks = [asyncio.create_task(processor.process_update(n, w)) for n, w in enumerate(work)]
        try:
            await stub.wait_for_async(
                "sendMessage", predicate=lambda c: c.params["chat_id"] == PRIVATE, timeout=10
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    # The group's first answer and the private one are in flight together (two slots), so
    # either may reach Telegram first; the other 299 were still waiting their turn.
    assert sorted(_sent_to(stub)) == sorted([GROUP, PRIVATE])
