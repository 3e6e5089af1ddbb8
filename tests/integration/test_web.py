"""The web server's pieces on their own: health when the database is down, provider metrics."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import VideoRequest
from bot.media.sample import sample_photo
from bot.metrics import InstrumentedProvider, Metrics
from bot.providers.kling.client import KlingVideoProvider
from bot.web import Route, WebServer, WebState, routes_for
from storage.db import Database
from tests.conftest import make_settings
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    # Nothing listens on port 1: connecting fails at once.
    db = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    settings = make_settings(tmp_path, telegram_bot_token="1:abc")
    state = WebState(db=db, metrics=Metrics(), runner_alive=lambda: True)
    server = WebServer(
        "127.0.0.1", 0, routes_for(settings, webhook=False, callbacks=False, metrics=True), state
    )
    server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json() == {
                "status": "unhealthy",
                "database": "unreachable",
                "runner": "alive",
                "polling_leader": False,
            }
            assert (await client.get("/metrics")).status_code == 503
    finally:
        await server.stop()
        await db.dispose()


async def test_healthz_is_503_when_the_runner_stopped(database: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, telegram_bot_token="1:abc")
    state = WebState(db=database, metrics=Metrics(), polling_leader=lambda: True)
    routes: list[Route] = routes_for(settings, webhook=False, callbacks=False, metrics=False)
    server = WebServer("127.0.0.1", 0, routes, state)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["database"] == "ok"
            assert health.json()["runner"] == "stopped"
            assert health.json()["polling_leader"] is True
            assert (await client.get("/metrics")).status_code == 404
    finally:
        await server.stop()


async def test_provider_calls_are_timed_and_errors_counted_by_code(tmp_path: Path) -> None:
    metrics = Metrics()
    image = tmp_path / "photo.jpg"
    sample_photo(image)
    with FakeKling(task_seconds=0.2) as fake:
        inner = KlingVideoProvider(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, fake.url, max_attempts=1)
        provider = InstrumentedProvider(inner, metrics)
        assert provider.name == "kling" and provider.model == inner.model
        request = VideoRequest(external_id=str(uuid.uuid4()), image_path=image, prompt="clay")
        fake.inject_create(1303, times=1)  # "parallel task limit": a retryable Kling code
        with pytest.raises(ProviderError) as caught:
            await provider.submit(request)
        task_id = await provider.submit(request)
        await provider.status(request, task_id)
        await provider.aclose()
    kind = caught.value.kind
    assert kind is not ErrorKind.INVALID
    value = metrics.registry.get_sample_value
    assert (
        value(
            "claymate_provider_errors_total",
            {"provider": "kling", "kind": kind.value, "code": "1303"},
        )
        == 1.0
    )
    assert (
        value(
            "claymate_provider_request_seconds_count", {"provider": "kling", "operation": "submit"}
        )
        == 2.0
    )
    assert (
        value(
            "claymate_provider_request_seconds_count", {"provider": "kling", "operation": "status"}
        )
        == 1.0
    )
