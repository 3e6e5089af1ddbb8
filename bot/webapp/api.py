"""The Mini App on the bot's public web server: the page at /app, its JSON API, its media.

Only `Authorization: tma <initData>` authenticates an API call, checked by
bot/webapp/auth.py; anything else gets 401 and an empty body. The user comes from the
validated init data only; each call then goes through bot/services/miniapp.py, which
checks the project as the chat would. Clips and stills are reached by short-lived
signed links (a <video> element cannot send a header): the signature names the row and an
expiry, never a path. Bodies over MAX_JSON_BYTES are refused, each user has a small
request budget, no CORS header is ever sent (the page is same-origin), and nothing the API
answers is cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from tornado.web import RequestHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.i18n import language_for, t
from bot.services.miniapp import AppProject, MiniApp, Viewer
from bot.services.permissions import StatusIn
from bot.webapp.auth import WebAppUser, validate_init_data

log = logging.getLogger("claymate.webapp")

MAX_JSON_BYTES = 16 * 1024
MEDIA_WINDOW_S = 600  # signed links stay the same for this long, and live up to twice it
CHUNK_BYTES = 64 * 1024
MAX_BUCKETS = 10_000  # users remembered by the request budget before a sweep
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
# Same-origin only; Telegram's script is the one outside file the page loads.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'"
)
ERROR_STATUS = {"group.generate_admins_only": 403, "shot.cancel_not_allowed": 403}


@dataclass
class RequestBudget:
    """A token bucket per user: `burst` requests at once, `per_s` a second after that."""

    burst: float = 30.0
    per_s: float = 2.0
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def take(self, user_id: int, now: float) -> bool:
        tokens, since = self._buckets.get(user_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.per_s)
        if len(self._buckets) > MAX_BUCKETS:  # bounded: users refilled by now are forgotten
            self._buckets = {
                k: v
                for k, v in self._buckets.items()
                if v[0] + (now - v[1]) * self.per_s < self.burst
            }
        if tokens < 1:
            self._buckets[user_id] = (tokens, now)
            return False
        self._buckets[user_id] = (tokens - 1, now)
        return True


@dataclass
class AppDeps:
    """What the Mini App's handlers need, wired by bot/app.py."""

    miniapp: MiniApp
    bot_token: str
    max_age_s: float
    status_in_for: Callable[[int], StatusIn]  # user id -> getChatMember in a chat
    send_film: Callable[[Actor, int], Awaitable[None]]  # like the chat's /film
    spawn: Callable[[Awaitable[None], str], None]  # background work shutdown waits for
    budget: RequestBudget = field(default_factory=RequestBudget)
    clock: Callable[[], float] = time.time

    def media_key(self) -> bytes:
        return hmac.new(self.bot_token.encode(), b"claymate:miniapp-media", "sha256").digest()


def sign_media(deps: AppDeps, kind: str, row_id: int, expires: int) -> str:
    message = f"{kind}:{row_id}:{expires}".encode()
    return hmac.new(deps.media_key(), message, hashlib.sha256).hexdigest()[:40]


def media_url(deps: AppDeps, kind: str, row_id: int) -> str:
    """A link to a still or a clip, the same for a while (the page can poll without
    reloading a playing video), valid for MEDIA_WINDOW_S to twice that."""
    expires = (int(deps.clock()) // MEDIA_WINDOW_S + 2) * MEDIA_WINDOW_S
    return f"/app/media/{kind}/{row_id}/{expires}/{sign_media(deps, kind, row_id, expires)}"


def project_json(deps: AppDeps, view: AppProject) -> dict[str, Any]:
    """What the page is told about a project: ids, words and signed links, nothing else."""
    shots = []
    for shot in view.shots:
        takes = [
            asdict(take) | ({"clip": media_url(deps, "clip", take.id)} if take.playable else {})
            for take in shot.takes
        ]
        shots.append(
            {
                "id": shot.id,
                "number": shot.number,
                "summary": shot.summary,
                "still": media_url(deps, "still", shot.id) if shot.has_still else None,
                "kept_take": shot.kept_take_id,
                "takes": takes,
            }
        )
    return {
        "id": view.id,
        "title": view.title,
        "group": view.chat_title,
        "music": view.music,
        "aspect": view.aspect,
        "may_change": view.may_change,
        "shots": shots,
    }


class _AppHandler(RequestHandler):
    def initialize(self, deps: AppDeps) -> None:
        self.deps = deps

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(body, ensure_ascii=False))


class Page(_AppHandler):
    """/app: the page itself, and its script and style, straight from the package."""

    async def get(self, name: str | None = None) -> None:
        if name is None:
            filename, kind = "index.html", "text/html; charset=utf-8"
            self.set_header("Content-Security-Policy", PAGE_POLICY)
        elif name in STATIC_FILES:
            filename, kind = name, STATIC_FILES[name]
        else:
            self.send_json(404, {})
            return
        body = resources.files("bot.webapp").joinpath("static", filename).read_bytes()
        self.set_header("Content-Type", kind)
        self.finish(body)


class Api(_AppHandler):
    """/app/api/…: every call authenticated by init data, then checked by the service."""

    user: WebAppUser | None = None

    async def prepare(self) -> None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, data = header.partition(" ")
        user = None
        if scheme.lower() == "tma":
            user = validate_init_data(
                data.strip(),
                self.deps.bot_token,
                now=self.deps.clock(),
                max_age_s=self.deps.max_age_s,
            )
        if user is None:
            self.send_json(401, {})
            return
        if not self.deps.budget.take(user.id, time.monotonic()):
            self.set_header("Retry-After", "2")
            self.send_json(429, {})
            return
        if len(self.request.body or b"") > MAX_JSON_BYTES:
            self.send_json(413, {})
            return
        self.user = user

    @property
    def viewer(self) -> Viewer:
        assert self.user is not None
        lang = language_for(self.user.language_code)
        return Viewer(self.user.id, lang, self.deps.status_in_for(self.user.id))

    def refuse(self, error: StudioError) -> None:
        key = error.key
        status = ERROR_STATUS.get(key, 404 if key.endswith("not_found") else 400)
        self.send_json(status, {"error": key, "message": t(key, self.viewer.lang, **error.params)})

    def body_field(self, name: str, kind: type) -> Any:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            return None
        value = body.get(name) if isinstance(body, dict) else None
        if kind is int and isinstance(value, bool):
            return None
        return value if isinstance(value, kind) else None


class ProjectList(Api):
    async def get(self) -> None:
        lines = await self.deps.miniapp.project_list(self.viewer)
        self.send_json(200, {"projects": [asdict(line) for line in lines]})


class ProjectCard(Api):
    async def get(self, project_id: str) -> None:
        try:
            view = await self.deps.miniapp.project(self.viewer, int(project_id))
        except StudioError as error:
            self.refuse(error)
            return
        self.send_json(200, project_json(self.deps, view))


class ProjectChange(Api):
    """POST /app/api/projects/<id>/<change> with a small JSON body."""

    async def post(self, project_id: str, change: str) -> None:
        miniapp, viewer, pid = self.deps.miniapp, self.viewer, int(project_id)
        try:
            if change == "film":
                actor = await miniapp.film_actor(viewer, pid)
                self.deps.spawn(self.deps.send_film(actor, pid), "mini app film")
                self.send_json(202, {"queued": True})
                return
            view = await self._change(miniapp, viewer, pid, change)
        except StudioError as error:
            self.refuse(error)
            return
        if view is None:
            self.send_json(400, {"error": "bad_request"})
            return
        self.send_json(200, project_json(self.deps, view))

    async def _change(
        self, miniapp: MiniApp, viewer: Viewer, pid: int, change: str
    ) -> AppProject | None:
        if change == "order":
            ids = self.body_field("shots", list)
            if ids is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                return None
            return await miniapp.reorder(viewer, pid, ids)
        if change == "music":
            choice = self.body_field("music", str)
            return None if choice is None else await miniapp.set_music(viewer, pid, choice)
        if change == "aspect":
            shape = self.body_field("aspect", str)
            return None if shape is None else await miniapp.set_aspect(viewer, pid, shape)
        if change == "keep":
            take = self.body_field("take", int)
            return None if take is None else await miniapp.keep(viewer, pid, take)
        shot = self.body_field("shot", int)
        if shot is None:
            return None
        if change == "unkeep":
            return await miniapp.unkeep(viewer, pid, shot)
        return await miniapp.drop_shot(viewer, pid, shot)


class Media(_AppHandler):
    """A still or a clip by its signed link, with Range support so a video can seek."""

    async def get(self, kind: str, row_id: str, expires: str, signature: str) -> None:
        expected = sign_media(self.deps, kind, int(row_id), int(expires))
        fresh = int(expires) >= self.deps.clock()
        if not (hmac.compare_digest(signature, expected) and fresh):
            self.send_json(403, {})
            return
        miniapp = self.deps.miniapp
        path = await (miniapp.clip_file if kind == "clip" else miniapp.still_file)(int(row_id))
        if path is None:
            self.send_json(404, {})
            return
        await self._send_file(path, "video/mp4" if kind == "clip" else _image_type(path))

    async def _send_file(self, path: Path, content_type: str) -> None:
        size = (await asyncio.to_thread(path.stat)).st_size
        self.set_header("Content-Type", content_type)
        self.set_header("Accept-Ranges", "bytes")
        span = _byte_range(self.request.headers.get("Range"), size)
        if span is False:
            self.set_status(416)
            self.set_header("Content-Range", f"bytes */{size}")
            self.finish()
            return
        start, end = (0, size - 1) if span is None else span
        if span is not None:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.set_header("Content-Length", str(end - start + 1 if size else 0))
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            left = end - start + 1 if size else 0
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, left))
                if not chunk:
                    break
                left -= len(chunk)
                self.write(chunk)
                await self.flush()
        finally:
            handle.close()
        self.finish()


def _image_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "image/jpeg"


def _byte_range(header: str | None, size: int) -> tuple[int, int] | Literal[False] | None:
    """One `bytes=` range as (first, last), None for the whole file, False if unsatisfiable.

    Several ranges at once are answered with the whole file, as RFC 9110 allows.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    if not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # the last N bytes
        if int(last) == 0 or size == 0:
            return False
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last.isdigit() else size - 1
    if start >= size or end < start:
        return False
    return start, end


def app_routes(deps: AppDeps) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The Mini App's URL patterns, for the public server."""
    kwargs = {"deps": deps}
    return [
        (r"/app/?", Page, kwargs),
        (r"/app/static/([a-z]+\.(?:js|css))", Page, kwargs),
        (r"/app/api/projects", ProjectList, kwargs),
        (r"/app/api/projects/([0-9]{1,12})", ProjectCard, kwargs),
        (
            r"/app/api/projects/([0-9]{1,12})/(order|music|aspect|keep|unkeep|drop|film)",
            ProjectChange,
            kwargs,
        ),
        (r"/app/media/(still|clip)/([0-9]{1,12})/([0-9]{1,12})/([0-9a-f]{40})", Media, kwargs),
    ]
