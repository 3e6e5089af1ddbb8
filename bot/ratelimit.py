"""Telegram's flood limits, as the bot lives with them.

PTB's AIORateLimiter keeps every instance under Telegram's 30 requests a second overall
and 20 a minute per group, and retries after a 429 (flood control). Its waits are kept,
its request path is our own, because of what a wait must not do:

- a wait never holds an update's slot (bot/slots.py): an update waiting for its group's
  budget or out a 429 hands its slot back meanwhile, so one flooded group cannot keep a
  private /start waiting for 15 s;
- a 429 pauses only the chat it came for (PTB pauses every request of the bot): Telegram's
  "retry after" for a group is about that group, and the overall limiter already keeps
  the bot under the bot-wide rate. A 429 for a request without a chat pauses everything;
- a group's wait for its own per-minute budget comes first and holds nothing shared: the
  overall budget is only taken once the group's turn has come;
- every 429 is counted (`claymate_telegram_flood_waits_total`);
- chat actions ("typing…", "sending a video…") are cosmetic. When the overall budget or
  the chat's own has no room at this moment, or its 429 is being waited out, a chat
  action is dropped rather than queued ahead of real messages: under a burst of 50
  captioned photos, queuing one per photo pushed the last draft back by over a second
  (bench/bench_drafts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeGuard

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.metrics import Metrics
from bot.slots import releasing_slot

log = logging.getLogger("claymate.telegram")

COSMETIC_ENDPOINTS = frozenset({"sendChatAction"})
# Pauses remembered at once before the expired ones are swept out.
MAX_REMEMBERED_PAUSES = 256
# Telegram's retry_after is whole seconds; a little more so the retry is not early.
PAUSE_MARGIN_S = 0.1
# Flood waits (429) sat out before a request is given up as failed.
MAX_RETRIES = 3

ChatKey = int | str


def chat_key(chat_id: object) -> ChatKey | None:
    """The chat a request is for, as PTB reads it: an int id, an @username, or none."""
    if chat_id is None:
        return None
    with contextlib.suppress(ValueError, TypeError):
        # PTB passes an int or a str; whatever else int() refuses is named by str() below.
        return int(chat_id)  # type: ignore[call-overload]
    return str(chat_id)


def is_group(chat: ChatKey | None) -> TypeGuard[ChatKey]:
    """Groups and channels have negative ids (or are named by @username)."""
    return isinstance(chat, str) or (isinstance(chat, int) and chat < 0)


async def take_capacity(limiter: AsyncLimiter) -> None:
    """A turn in `limiter`; when it has to be waited for, the update's slot is free meanwhile."""
    if limiter.has_capacity():
        await limiter.acquire()
        return
    async with releasing_slot(in_flight=True):
        await limiter.acquire()


class RateLimiter(AIORateLimiter):
    """AIORateLimiter whose waits hold no update slot, with 429s paused per chat."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._flood = metrics.telegram_429
        self.shed = 0  # chat actions dropped, for tests and the curious
        # Loop time until which a chat (None: every request) waits out a 429.
        self._paused_until: dict[ChatKey | None, float] = {}

    def has_room(self, chat_id: object = None) -> bool:
        """Could a request (for `chat_id`, when given) go out right now without waiting?"""
        chat = chat_key(chat_id)
        if self._pause_left(chat) > 0:
            return False
        # PTB keeps its limiters (aiolimiter.AsyncLimiter) as private attributes; pinned
        # PTB, exercised by tests/integration/test_chat_actions.py and test_flood_waits.py.
        group = self._group_limiters.get(chat) if is_group(chat) else None
        if group is not None and not group.has_capacity():
            return False
        overall = self._base_limiter
        return overall is None or overall.has_capacity()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat = chat_key(data.get("chat_id"))
        if endpoint in COSMETIC_ENDPOINTS and not self.has_room(chat):
            self.shed += 1
            return True  # what Telegram answers a chat action with
        retries = rate_limit_args or self._max_retries
        paid = bool(data.get("allow_paid_broadcast", False))
        for attempt in range(retries + 1):
            await self._wait_turn(chat, paid)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as flood:
                self._flood.inc()
                if attempt == retries:
                    log.warning("telegram: flood control still on after %d retries", retries)
                    raise
                # PTB 22 keeps the exact wait as a timedelta; the public int is deprecated.
                wait_s = flood._retry_after.total_seconds() + PAUSE_MARGIN_S
                log.info("telegram: flood control, chat waits %.1f s", wait_s)
                self._pause(chat, wait_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _wait_turn(self, chat: ChatKey | None, paid: bool) -> None:
        """Wait out the chat's 429, then its group budget, then the overall budget."""
        await self._wait_out_pause(chat)
        if paid:
            await take_capacity(self._apb_limiter)
            return
        if is_group(chat) and self._group_max_rate:
            await take_capacity(self._get_group_limiter(chat))
        if chat is not None and self._base_limiter is not None:
            await take_capacity(self._base_limiter)

    async def _wait_out_pause(self, chat: ChatKey | None) -> None:
        while (left := self._pause_left(chat)) > 0:
            async with releasing_slot(in_flight=True):
                await asyncio.sleep(left)

    def _pause_left(self, chat: ChatKey | None) -> float:
        """Seconds until a request for `chat` may go out after 429s (0: now)."""
        now = asyncio.get_running_loop().time()
        until = self._paused_until.get(None, 0.0)
        if chat is not None:
            until = max(until, self._paused_until.get(chat, 0.0))
        return max(until - now, 0.0)

    def _pause(self, chat: ChatKey | None, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._paused_until) >= MAX_REMEMBERED_PAUSES:
            self._paused_until = {k: t for k, t in self._paused_until.items() if t > now}
        self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), now + seconds)


def telegram_rate_limiter(metrics: Metrics) -> RateLimiter:
    """The rate limiter the bot runs with; the benchmark's bare bot runs with it too."""
    return RateLimiter(metrics, max_retries=MAX_RETRIES)
