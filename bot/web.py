"""The bot's HTTP side: Telegram webhook, Kling callbacks, /healthz and /metrics (tornado).

With CLAYMATE_PUBLIC_URL, the public server also serves the storyboard Mini App at /app
(bot/webapp/api.py), under the same connection and body limits.

The public server faces the internet, so every connection is bounded: headers must arrive
within CLAYMATE_WEB_HEADER_TIMEOUT and a body within CLAYMATE_WEB_BODY_TIMEOUT (a client
trickling bytes is cut off), a body announced over CLAYMATE_WEB_MAX_BODY_BYTES gets 413
before a byte of it is read, and beyond CLAYMATE_WEB_MAX_CONNECTIONS open connections new
ones are closed at once. /metrics is never on the public server: it has its own bind,
CLAYMATE_METRICS_LISTEN (default 127.0.0.1) and CLAYMATE_METRICS_PORT.

Secrets: Telegram's webhook requests must carry X-Telegram-Bot-Api-Secret-Token. It is
CLAYMATE_WEBHOOK_SECRET when set, otherwise derived from the bot token with HMAC, so every
instance computes the same one without extra configuration. Kling callbacks carry a token
derived the same way in their URL path and, when KLING_WEBHOOK_SECRET is set, a Standard
Webhooks signature checked too (401 without it). A callback is only a hint to re-query the
task (its payload's status is never trusted). It is answered 200 as soon as the token (and
signature) match and the body parses, even for a task we don't know (Kling would otherwise
send it again), and processed afterwards in a tracked background task that shutdown
awaits, then cancels.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets
from tornado.web import Application as TornadoApp
from tornado.web import RequestHandler

from bot.config import Settings
from storage.db import Database
from storage.locks import ping

log = logging.getLogger("claymate.web")

KLING_CALLBACK_PREFIX = "/kling/callback/"
# Telegram's and Kling's request headers are a few hundred bytes.
MAX_HEADER_BYTES = 16 * 1024
TOO_LARGE = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _derive(settings: Settings, purpose: str) -> str:
    assert settings.telegram_bot_token is not None
    key = settings.telegram_bot_token.get_secret_value().encode()
    return hmac.new(key, f"claymate:{purpose}".encode(), hashlib.sha256).hexdigest()[:48]


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends with every webhook request (A-Z, a-z, 0-9, _ and -)."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return _derive(settings, "telegram-webhook")


def kling_callback_token(settings: Settings) -> str:
    return _derive(settings, "kling-callback")


def kling_callback_url(settings: Settings) -> str | None:
    """Where Kling should report a task's progress, or None without a public URL."""
    if not settings.public_url:
        return None
    return settings.public_url.rstrip("/") + KLING_CALLBACK_PREFIX + kling_callback_token(settings)


def webhook_path(settings: Settings) -> str:
    assert settings.webhook_url is not None
    return urlsplit(settings.webhook_url).path or "/"


def web_secrets(settings: Settings) -> list[str]:
    """Values that must never reach a log line."""
    if settings.telegram_bot_token is None:
        return []
    return [webhook_secret(settings), kling_callback_token(settings)]


class BackgroundWork:
    """Work done after answering a request, kept so shutdown can wait for it or cancel it.

    A bare create_task would be garbage-collectable mid-flight and invisible to shutdown.
    Failures are logged by type only: a callback's details never reach the log.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Awaitable[None], what: str) -> None:
        """Run `work` in the background; `what` names it in a failure's log line."""
        task = asyncio.ensure_future(self._guarded(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Awaitable[None], what: str) -> None:
        try:
            await work
        except Exception as error:  # a background failure must not go unnoticed
            log.warning("%s failed: %s", what, type(error).__name__)

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a grace period
        """Let running work finish within `timeout`, then cancel what is left."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class WebState:
    """What the handlers need; filled in by serve()."""

    db: Database
    metrics: Any  # bot.metrics.Metrics
    on_update: Callable[[dict[str, Any]], Any] | None = None  # webhook: put on update_queue
    telegram_secret: str = ""
    kling_token: str = ""
    on_kling_task: Callable[[str, str | None], Any] | None = None
    kling_webhook_secret: str = ""  # whsec_…: callbacks must also be signed with it
    background: BackgroundWork = field(default_factory=BackgroundWork)
    runner_alive: Callable[[], bool] = lambda: False
    polling_leader: Callable[[], bool] = lambda: False
    extra: dict[str, Any] = field(default_factory=dict)


class _Base(RequestHandler):
    def initialize(self, state: WebState) -> None:
        self.state = state

    def write_json(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def body_json(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            return None


class TelegramWebhook(_Base):
    async def post(self) -> None:
        sent = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(sent.encode(), self.state.telegram_secret.encode()):
            log.warning("webhook: request without the right secret token, refused")
            self.write_json(403, {"ok": False})
            return
        data = self.body_json()
        if not isinstance(data, dict) or "update_id" not in data:
            self.write_json(400, {"ok": False})
            return
        assert self.state.on_update is not None
        try:
            await self.state.on_update(data)
        except Exception as error:  # not an Update PTB can read: Telegram won't resend it
            log.warning("webhook: unreadable update dropped (%s)", type(error).__name__)
            self.write_json(400, {"ok": False})
            return
        self.write_json(200, {"ok": True})


class KlingCallback(_Base):
    async def post(self, token: str) -> None:
        if not hmac.compare_digest(token.encode(), self.state.kling_token.encode()):
            self.write_json(404, {"ok": False})
            return
        secret = self.state.kling_webhook_secret
        if secret:
            from bot.providers.kling.webhook import signature_ok

            headers = {k.lower(): v for k, v in self.request.headers.items()}
            if not signature_ok(secret, headers, self.request.body, time.time()):
                log.warning("kling callback: missing or wrong signature, refused")
                self.write_json(401, {"ok": False})
                return
        from bot.providers.kling.wire import parse_callback

        parsed = parse_callback(self.body_json())
        if parsed is None:
            self.write_json(400, {"ok": False})
            return
        task_id, external_id = parsed
        # Answer first: Kling waits for us, and retries what it thinks failed.
        self.write_json(200, {"ok": True})
        self.state.background.spawn(
            self._process(task_id, external_id), f"kling callback for task {task_id}"
        )

    async def _process(self, task_id: str, external_id: str | None) -> None:
        assert self.state.on_kling_task is not None
        ours = await self.state.on_kling_task(task_id, external_id)
        if not ours:
            log.info("kling callback for task %s: not one of ours", task_id)


class Health(_Base):
    async def get(self) -> None:
        try:
            await asyncio.wait_for(ping(self.state.db), timeout=5.0)
            database = "ok"
        except Exception as error:  # any failure to answer is "unreachable"
            log.warning("healthz: database unreachable: %s", type(error).__name__)
            database = "unreachable"
        alive = self.state.runner_alive()
        healthy = database == "ok" and alive
        self.write_json(
            200 if healthy else 503,
            {
                "status": "ok" if healthy else "unhealthy",
                "database": database,
                "runner": "alive" if alive else "stopped",
                "polling_leader": self.state.polling_leader(),
            },
        )


class MetricsPage(_Base):
    async def get(self) -> None:
        from bot.metrics import CONTENT_TYPE_LATEST

        try:
            body = await self.state.metrics.exposition(self.state.db)
        except Exception:
            log.warning("metrics: could not read the database", exc_info=True)
            self.write_json(503, {"ok": False})
            return
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


def _log_request(handler: RequestHandler) -> None:
    # Never the URI: the Kling callback path carries a token.
    log.debug("%s %s -> %s", handler.request.method, type(handler).__name__, handler.get_status())


@dataclass
class Route:
    pattern: str
    handler: type[RequestHandler]
    kwargs: dict[str, Any] | None = None  # the handler's initialize() arguments; else state


def routes_for(
    settings: Settings, *, webhook: bool, callbacks: bool, metrics: bool
) -> list[Route]:
    routes = [Route(r"/healthz", Health)]
    if metrics:
        routes.append(Route(r"/metrics", MetricsPage))
    if callbacks:
        routes.append(Route(re.escape(KLING_CALLBACK_PREFIX) + r"([A-Za-z0-9_-]+)", KlingCallback))
    if webhook:
        routes.append(Route(re.escape(webhook_path(settings)), TelegramWebhook))
    return routes


@dataclass(frozen=True)
class WebLimits:
    """How long, how big and how many: what one client may take of the server."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 20.0
    max_body_bytes: int = 1024 * 1024
    max_connections: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        return cls(
            header_timeout_s=settings.web_header_timeout_s,
            body_timeout_s=settings.web_body_timeout_s,
            max_body_bytes=settings.web_max_body_bytes,
            max_connections=settings.web_max_connections,
        )


class _RefuseLargeBodies(httputil.HTTPMessageDelegate):
    """Answers 413 to a body announced over the cap, from its headers, without reading it."""

    def __init__(
        self,
        inner: httputil.HTTPMessageDelegate,
        connection: httputil.HTTPConnection,
        max_body_bytes: int,
    ) -> None:
        self._inner, self._connection, self._max = inner, connection, max_body_bytes

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Any:
        announced = headers.get("Content-Length", "0")
        if announced.isdigit() and int(announced) > self._max:
            log.warning("web: a %s-byte body refused (cap %d)", announced, self._max)
            return self._refuse()
        # A chunked body has no length up front: tornado's max_body_size cuts it off.
        return self._inner.headers_received(start_line, headers)

    async def _refuse(self) -> None:
        # Typed as tornado's HTTPConnection interface; the HTTP/1 server's connection detaches.
        stream = self._connection.detach()  # type: ignore[attr-defined]
        try:
            await stream.write(TOO_LARGE)
        except Exception:  # the client went away: nothing to tell it
            pass
        stream.close()

    def data_received(self, chunk: bytes) -> Any:
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._inner.finish()

    def on_connection_close(self) -> None:
        self._inner.on_connection_close()


class _GuardedHTTPServer(HTTPServer):
    """HTTPServer with a cap on open connections and a 413 for bodies over the size cap."""

    limits: WebLimits = WebLimits()
    refused = 0  # connections closed at the cap, for the log and the curious

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        # tornado tracks its open connections in _connections (pinned tornado, tested).
        if len(self._connections) >= self.limits.max_connections:
            self.refused += 1
            if self.refused % 100 == 1:  # a flood of them must not flood the log too
                log.warning("web: connection cap reached, %d refused so far", self.refused)
            stream.close()
            return
        super().handle_stream(stream, address)

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        inner = super().start_request(server_conn, request_conn)
        return _RefuseLargeBodies(inner, request_conn, self.limits.max_body_bytes)


class WebServer:
    """One tornado server on the running asyncio loop."""

    def __init__(
        self,
        listen: str,
        port: int,
        routes: list[Route],
        state: WebState,
        limits: WebLimits | None = None,
    ) -> None:
        self.listen, self.requested_port = listen, port
        limits = limits or WebLimits()
        app = TornadoApp(
            [(r.pattern, r.handler, r.kwargs or {"state": state}) for r in routes],
            log_function=_log_request,
        )
        self._server = _GuardedHTTPServer(
            app,
            xheaders=True,
            max_header_size=MAX_HEADER_BYTES,
            idle_connection_timeout=limits.header_timeout_s,
            body_timeout=limits.body_timeout_s,
            max_body_size=limits.max_body_bytes,
            # The stream buffer holds the headers and the whole body while it is read.
            max_buffer_size=limits.max_body_bytes + 2 * MAX_HEADER_BYTES,
        )
        self._server.limits = limits
        self._sockets: list[socket.socket] = []

    @property
    def port(self) -> int:
        return int(self._sockets[0].getsockname()[1]) if self._sockets else self.requested_port

    def start(self) -> None:
        self._sockets = bind_sockets(self.requested_port, self.listen)
        self._server.add_sockets(self._sockets)
        log.info("web server listening on %s:%d", self.listen, self.port)

    async def stop(self) -> None:
        if not self._sockets:
            return
        self._server.stop()
        await self._server.close_all_connections()
