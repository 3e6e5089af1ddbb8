"""Prometheus metrics for one application, in its own registry so tests can run several."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from telegram import Update

from bot.domain.errors import ProviderError
from bot.domain.ports import VideoProvider
from bot.domain.states import TakeState
from bot.domain.types import TaskStatus, VideoRequest
from storage.db import Database

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "InstrumentedProvider"]


class Metrics:
    """The bot's metrics; the take gauges are read from the database at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.takes = Gauge("claymate_takes", "Takes by state", ["state"], registry=r)
        self.queue_depth = Gauge(
            "claymate_queue_depth", "Takes waiting for a provider slot", registry=r
        )
        self.provider_latency = Histogram(
            "claymate_provider_request_seconds",
            "Video provider call latency",
            ["provider", "operation"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.provider_errors = Counter(
            "claymate_provider_errors",
            "Video provider call errors by kind and code",
            ["provider", "kind", "code"],
            registry=r,
        )
        self.telegram_429 = Counter(
            "claymate_telegram_flood_waits", "Telegram 429 (retry after) answers", registry=r
        )
        self.updates = Counter(
            "claymate_updates_handled", "Telegram updates received", ["source"], registry=r
        )

    async def refresh(self, db: Database) -> None:
        """Read the take counts; a scrape shows the whole fleet's state, not this process's."""
        async with db.unit_of_work() as uow:
            counts = await uow.takes.takes_by_status()
        # Every take state, so a gauge reads 0 rather than disappearing when nothing is in it.
        for state in sorted({*TakeState, *counts}):
            self.takes.labels(state=state).set(counts.get(state, 0))
        self.queue_depth.set(counts.get(TakeState.QUEUED, 0))

    async def exposition(self, db: Database) -> bytes:
        await self.refresh(db)
        return generate_latest(self.registry)

    def count_update(self, source: str) -> Callable[[Any, Any], Any]:
        """A TypeHandler callback that counts every update (runs before all other handlers)."""
        counter = self.updates.labels(source=source)

        async def on_update(update: Update, context: Any) -> None:
            counter.inc()

        return on_update


class InstrumentedProvider:
    """A VideoProvider that times every call and counts its errors; everything else passes."""

    def __init__(self, inner: VideoProvider, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _timed(self, operation: str, call: Any) -> Any:
        name = self._inner.name
        started = time.perf_counter()
        try:
            return await call
        except ProviderError as error:
            code = "" if error.code is None else str(error.code)
            self._metrics.provider_errors.labels(name, error.kind.value, code).inc()
            raise
        finally:
            self._metrics.provider_latency.labels(name, operation).observe(
                time.perf_counter() - started
            )

    async def submit(self, request: VideoRequest) -> str:
        return await self._timed("submit", self._inner.submit(request))

    async def find(self, request: VideoRequest) -> str | None:
        return await self._timed("find", self._inner.find(request))

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        return await self._timed("status", self._inner.status(request, task_id))

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: Any = None,
    ) -> Any:
        return await self._timed(
            "download", self._inner.download(request, task_id, status, dest, on_progress)
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def instrument(providers: dict[str, VideoProvider], metrics: Metrics) -> dict[str, VideoProvider]:
    return {name: InstrumentedProvider(p, metrics) for name, p in providers.items()}
