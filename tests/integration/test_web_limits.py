"""The public web server holds up against slow, big and many clients, and keeps /metrics
off the public port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import _web_servers
from bot.config import Settings
from bot.metrics import Metrics
from bot.web import WebServer, WebState, webhook_secret
from storage.db import Database
from tests.conftest import make_settings

WEBHOOK_PATH = "/tg/updates"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite is enough: these tests are about HTTP, the database only answers /metrics."""
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    await db.upgrade()
    try:
        yield db
    finally:
        await db.dispose()


def web_settings(tmp_path: Path, **overrides: object) -> Settings:
    port = free_port()
    values: dict[str, object] = {
        "telegram_bot_token": "1:abc",
        "webhook_url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
        "webhook_listen": "127.0.0.1",
        "webhook_port": port,
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


@contextlib.asynccontextmanager
async def serving(settings: Settings, db: Database) -> AsyncIterator[list[WebServer]]:
    async def on_update(data: dict) -> None:  # type: ignore[type-arg]
        pass

    state = WebState(
        db=db,
        metrics=Metrics(),
        on_update=on_update,
        telegram_secret=webhook_secret(settings),
        runner_alive=lambda: True,
    )
    servers = _web_servers(settings, state)
    for server in servers:
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            await server.stop()


async def closed_by_server(reader: asyncio.StreamReader, wait_s: float) -> bool:
    """Did the server close the connection (read nothing but EOF) within wait_s?"""
    try:
        return await asyncio.wait_for(reader.read(1024), wait_s) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


async def test_a_client_sending_headers_slowly_is_cut_off(
    database: Database, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path, web_header_timeout_s=1.0)
    async with serving(settings, database):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.webhook_port)
        writer.write(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: bot\r\n".encode())
        # One header line every 0.2 s, never the blank line that ends them: 10 s of lines.
        cut_off_after = None
        for line in range(50):
            writer.write(f"X-Slow-{line}: still here\r\n".encode())
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            if await closed_by_server(reader, 0.2):
                cut_off_after = line
                break
        writer.close()
    assert cut_off_after is not None, "the server waited for the headers all along"
    assert cut_off_after < 25  # well before the client gave up, at the 1 s header timeout


async def test_a_client_sending_a_body_slowly_is_cut_off(
    database: Database, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path, web_body_timeout_s=1.0)
    async with serving(settings, database):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.webhook_port)
        head = f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: bot\r\nContent-Length: 1000\r\n\r\n"
        writer.write(head.encode())
        cut_off_after = None
        for chunk in range(50):
            writer.write(b"{" if chunk == 0 else b" ")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            if await closed_by_server(reader, 0.2):
                cut_off_after = chunk
                break
        writer.close()
    assert cut_off_after is not None, "the server waited for the body all along"
    assert cut_off_after < 25


async def test_an_oversized_body_gets_413_without_being_read(
    database: Database, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path, web_max_body_bytes=64 * 1024)
    async with serving(settings, database):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.webhook_port)
        # Only the headers: announcing 10 MiB is enough for an answer, the body never comes.
        writer.write(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: bot\r\nContent-Length: {10 * 1024 * 1024}"
            "\r\nContent-Type: application/json\r\n\r\n".encode()
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(1024), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 "), answer
        # A body under the cap is still read and answered (403: no secret token).
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.webhook_port}") as c:
            small = await c.post(WEBHOOK_PATH, content=b"{" + b" " * 60_000 + b"}")
            assert small.status_code == 403


async def test_connections_beyond_the_cap_are_closed(database: Database, tmp_path: Path) -> None:
    settings = web_settings(tmp_path, web_max_connections=3)
    async with serving(settings, database):
        port = settings.webhook_port
        # Accepted in the order they connect: these two before the ones below.
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200  # the third: served
            reader, writer = await asyncio.open_connection("127.0.0.1", port)  # the fourth
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            assert await closed_by_server(reader, 5.0)
            writer.close()
        for _reader, idle_writer in idle:
            idle_writer.close()


async def test_metrics_are_served_on_their_own_local_bind_only(
    database: Database, tmp_path: Path
) -> None:
    metrics_port = free_port()
    settings = web_settings(tmp_path, webhook_listen="127.0.0.1", metrics_port=metrics_port)
    async with serving(settings, database) as servers:
        assert [server.listen for server in servers] == ["127.0.0.1", "127.0.0.1"]
        async with httpx.AsyncClient() as client:
            public = f"http://127.0.0.1:{settings.webhook_port}"
            assert (await client.get(f"{public}/metrics")).status_code == 404
            assert (await client.get(f"{public}/healthz")).status_code == 200
            local = f"http://127.0.0.1:{metrics_port}"
            scraped = await client.get(f"{local}/metrics")
            assert scraped.status_code == 200
            assert "claymate_queue_depth" in scraped.text
            assert (await client.post(f"{local}{WEBHOOK_PATH}", json={})).status_code == 404


def test_the_metrics_bind_is_local_even_when_the_webhook_listens_everywhere(
    tmp_path: Path,
) -> None:
    settings = web_settings(tmp_path, webhook_listen="0.0.0.0", metrics_port=free_port())
    state = WebState(db=Database.from_url("sqlite+aiosqlite:///:memory:"), metrics=Metrics())
    public, metrics = _web_servers(settings, state)
    assert public.listen == "0.0.0.0"
    assert metrics.listen == "127.0.0.1"


async def test_without_a_metrics_port_metrics_are_not_served_at_all(
    database: Database, tmp_path: Path
) -> None:
    settings = web_settings(tmp_path)
    async with serving(settings, database) as servers:
        assert len(servers) == 1
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.webhook_port}") as c:
            assert (await c.get("/metrics")).status_code == 404


def test_a_metrics_port_equal_to_the_webhook_port_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="CLAYMATE_METRICS_PORT"):
        load_settings(
            _env_file=None,
            data_dir=tmp_path,
            webhook_url="https://bot.example.com/tg",
            webhook_port=8443,
            metrics_port=8443,
        )
