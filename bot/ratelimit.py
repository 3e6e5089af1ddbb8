"""Telegram's flood limits, as the bot lives with them.

PTB's AIORateLimiter keeps every instance under Telegram's 30 requests a second overall
and 20 a minute per group, waits out a 429 (flood control) and retries. On top of it:

- every 429 is counted (`claymate_telegram_flood_waits_total`);
- chat actions ("typing…", "sending a video…") are cosmetic. When the overall budget has
  no room at this moment, or a 429 is being waited out, a chat action is dropped rather
  than queued ahead of real messages: under a burst of 50 captioned photos, queuing one
  per photo pushed the last draft back by over a second (bench/bench_drafts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.metrics import Metrics

COSMETIC_ENDPOINTS = frozenset({"sendChatAction"})


class RateLimiter(AIORateLimiter):
    """AIORateLimiter that counts 429s and sheds chat actions it has no room for."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._flood = metrics.telegram_429
        self.shed = 0  # chat actions dropped, for tests and the curious

    def has_room(self) -> bool:
        """Could a request go out right now without waiting?"""
        # PTB keeps the overall limiter (an aiolimiter.AsyncLimiter) and the "a 429 is
        # being waited out" event as private attributes; pinned PTB, checked by a test.
        overall = self._base_limiter
        return self._retry_after_event.is_set() and (overall is None or overall.has_capacity())

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint in COSMETIC_ENDPOINTS and not self.has_room():
            self.shed += 1
            return True  # what Telegram answers a chat action with
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )

    async def _run_request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._run_request(*args, **kwargs)
        except RetryAfter:
            self._flood.inc()
            raise
