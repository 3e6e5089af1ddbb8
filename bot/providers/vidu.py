"""VideoProvider for Vidu's official API (providers.md section 3).

Create: `POST {base}/img2video` with `Authorization: Token <key>` and the image as a data
URI; poll `GET {base}/tasks/{id}/creations` (created, queueing, processing, success,
failed); the result URL lives 24 h, so it is fetched at once.

Vidu documents no lookup by our own id, so `find` cannot recover a create whose answer
was lost. Such a create (a timeout after the request went out) is therefore never
retried: it fails as UNKNOWN, and the user is told, rather than risk paying twice.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import ClipInfo, ProgressCallback, TaskState, TaskStatus, VideoRequest
from bot.providers.http import download_clip

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MODEL = "viduq2-turbo"
PROMPT_LIMIT = 2000  # the stricter of the two published caps
MAX_IMAGE_BYTES = 14 * 1024 * 1024  # base64 grows it by 4/3; the body must stay under 20 MB
MAX_SIDE = 2048

# Our camera moves have no Vidu equivalent beyond how much moves; the drafter's prompt
# carries the direction, this only sets the amplitude.
MOVEMENT: dict[str, str] = {
    "static": "small",
    "push_in": "medium",
    "pull_out": "medium",
    "pan_left": "medium",
    "pan_right": "medium",
    "tilt_up": "medium",
    "tilt_down": "medium",
    "orbit": "large",
}

STATES: dict[str, TaskState] = {
    "created": "submitted",
    "queueing": "submitted",
    "processing": "processing",
    "success": "succeed",
    "failed": "failed",
}
CONTENT_HINTS = ("audit", "sensitive", "moderation", "violat", "nsfw", "inappropriate")
BALANCE_HINTS = ("credit", "balance", "insufficient", "quota")


def duration_for(model: str, wanted: int) -> int:
    """The nearest duration the model accepts (q1: 5 s; 2.0: 4 or 8 s; q2: ≤ 8 s)."""
    if model.startswith("viduq1"):
        return 5
    if model.startswith("vidu2"):
        return 4 if wanted <= 6 else 8
    if model.startswith("viduq2"):
        return min(max(1, wanted), 8)
    return min(max(1, wanted), 16)


def resolution_for(model: str) -> str:
    return "1080p" if model.startswith("viduq1") else "720p"


class VideoCreation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    cover_url: str | None = None


class ViduTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str | None = None
    state: str | None = None
    err_code: str | None = None
    credits: float | None = None
    creations: list[VideoCreation] = []


def image_data_uri(path: Path) -> str:
    """The photo as a `data:` URI Vidu accepts: JPEG/PNG/WebP, ≥ 128 px, under the body cap."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "").upper()
        if fmt in ("JPEG", "PNG", "WEBP") and len(data) <= MAX_IMAGE_BYTES:
            if min(image.size) < 128:
                raise ProviderError(ErrorKind.INVALID, "image smaller than 128 px")
            mime = "jpeg" if fmt == "JPEG" else fmt.lower()
            return f"data:image/{mime};base64,{base64.b64encode(data).decode()}"
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=90)
    return f"data:image/jpeg;base64,{base64.b64encode(out.getvalue()).decode()}"


def task_status_from(task: ViduTask) -> TaskStatus:
    state = STATES.get((task.state or "").lower())
    if state is None:
        return TaskStatus("processing", message=f"unknown state {task.state!r}")
    url = next((c.url for c in task.creations if c.url), None)
    if state == "succeed" and not url:
        return TaskStatus("failed", message="success without a creation url")
    code = (task.err_code or "").lower()
    return TaskStatus(
        state,
        progress=1.0 if state == "succeed" else None,
        message=task.err_code,
        result_url=url if state == "succeed" else None,
        content_rejected=state == "failed" and any(h in code for h in CONTENT_HINTS),
    )


class ViduVideoProvider:
    """VideoProvider for Vidu. One httpx client per instance."""

    name = "vidu"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        model: str = DEFAULT_MODEL,
        *,
        timeout: float = 30.0,
        download_timeout: float = 120.0,
        max_attempts: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_download_bytes: int = 1024 * 1024 * 1024,
    ) -> None:
        if not api_key:
            raise ValueError("a Vidu API key is required")
        self.model = model
        self._key = api_key
        self._max_attempts = max(1, max_attempts)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_download_bytes = max_download_bytes
        self._download_timeout = httpx.Timeout(download_timeout, connect=min(10.0, timeout))
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"Content-Type": "application/json", "User-Agent": "claymate-vidu/1"},
            follow_redirects=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ViduVideoProvider:
        if not settings.vidu_api_key:
            raise ConfigError("VIDU_API_KEY: required for Vidu")
        return cls(
            settings.vidu_api_key.get_secret_value(), settings.vidu_api_url, settings.vidu_model
        )

    def __repr__(self) -> str:  # never show the key
        return f"ViduVideoProvider(base_url={str(self._http.base_url)!r}, model={self.model!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- VideoProvider ------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> str:
        """Create the task; throttling and errors before sending are retried, nothing else."""
        body = await self.build_body(request)

        async def once() -> str:
            data = await self._call("POST", "/img2video", "create", body, creates=True)
            task = _task_of(data, "create")
            if not task.task_id:
                raise ProviderError(ErrorKind.UNKNOWN, "create: no task_id in the answer")
            return task.task_id

        return await self._retrying("create", once)

    async def find(self, request: VideoRequest) -> str | None:
        """Vidu has no lookup by our id (see the module docstring)."""
        return None

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        path = f"/tasks/{quote(task_id, safe='')}/creations"
        data = await self._retrying("status", lambda: self._call("GET", path, "status"))
        return task_status_from(_task_of(data, "status"))

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> ClipInfo:
        """Fetch the result now (its URL lives 24 h) and prove it decodes."""
        url = status.result_url
        if not url:
            status = await self.status(request, task_id)
            url = status.result_url
        if not url:
            kind = ErrorKind.TRANSIENT if status.state != "failed" else ErrorKind.UNKNOWN
            raise ProviderError(kind, f"download: task is {status.state}, no result")
        return await self._retrying(
            "download", lambda: self._download_once(url, dest, on_progress)
        )

    async def cancel(self, task_id: str) -> bool:
        """Stop a task nobody will receive (/forget); a refusal is logged, never raised."""
        path = f"/tasks/{quote(task_id, safe='')}/cancel"
        try:
            await self._call("POST", path, "cancel", {})
        except ProviderError as error:
            log.info("vidu: cancelling %s was refused: %s", task_id, error)
            return False
        return True

    # --- Building the request -----------------------------------------------------------

    async def build_body(self, request: VideoRequest) -> dict[str, Any]:
        model = request.model or self.model
        image = await asyncio.to_thread(image_data_uri, request.image_path)
        if request.image_tail_path is not None:
            # img2video takes exactly one image; an end frame is Kling's feature here.
            log.info("vidu: %s has an end frame; Vidu img2video ignores it", request.external_id)
        body: dict[str, Any] = {
            "model": model,
            "images": [image],
            "prompt": request.prompt[:PROMPT_LIMIT],
            "duration": duration_for(model, request.duration),
            "resolution": resolution_for(model),
            "movement_amplitude": MOVEMENT.get(request.camera_move, "auto"),
            "payload": request.external_id,
        }
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return body

    # --- HTTP ---------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        op: str,
        body: dict[str, Any] | None = None,
        *,
        creates: bool = False,
    ) -> Any:
        headers = {"Authorization": f"Token {self._key}"}
        try:
            resp = await self._http.request(method, path, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"{op}: cannot reach Vidu ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            if creates:  # it may have been created: never create again (no lookup exists)
                raise ProviderError(
                    ErrorKind.UNKNOWN,
                    f"{op}: no answer from Vidu ({type(exc).__name__}); not retried",
                    may_have_created=True,
                ) from None
            raise ProviderError(
                ErrorKind.TRANSIENT, f"{op}: no answer from Vidu ({type(exc).__name__})"
            ) from None
        if resp.is_success:
            try:
                return resp.json()
            except ValueError:
                raise ProviderError(ErrorKind.UNKNOWN, f"{op}: answer is not JSON") from None
        raise self._error(op, resp, creates)

    def _error(self, op: str, resp: httpx.Response, creates: bool) -> ProviderError:
        status = resp.status_code
        reason = ""
        with contextlib.suppress(ValueError, AttributeError):
            payload = resp.json()
            reason = str(
                payload.get("reason") or payload.get("err_code") or payload.get("message")
            )
        reason = reason.replace(self._key, "***")[:300]
        lowered = reason.lower()
        if status in (401, 403):
            kind = ErrorKind.AUTH
        elif status == 402 or any(h in lowered for h in BALANCE_HINTS):
            kind = ErrorKind.BALANCE
        elif status == 429:
            kind = ErrorKind.RATE_LIMITED
        elif any(h in lowered for h in CONTENT_HINTS):
            kind = ErrorKind.CONTENT
        elif status >= 500:
            # A 5xx on create may come after the task was made: don't guess, don't repeat.
            kind = ErrorKind.UNKNOWN if creates else ErrorKind.TRANSIENT
        elif status in (400, 404, 413, 422):
            kind = ErrorKind.INVALID
        else:
            kind = ErrorKind.UNKNOWN
        retry_after = None
        with contextlib.suppress(ValueError):
            retry_after = float(resp.headers.get("Retry-After", ""))
        return ProviderError(
            kind,
            f"{op}: Vidu HTTP {status}: {reason!r}",
            code=status,
            retry_after=retry_after,
            may_have_created=creates and status >= 500,
            extra={"http_status": status, "vidu_reason": reason},
        )

    async def _retrying(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await call()
            except ProviderError as err:
                log.warning(
                    "vidu %s failed (attempt %d/%d): kind=%s code=%s",
                    op,
                    attempt,
                    self._max_attempts,
                    err.kind.value,
                    err.code,
                )
                if not err.retryable or attempt == self._max_attempts:
                    raise
                delay = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
                delay += random.uniform(0, delay / 2)
                if err.retry_after:
                    delay = max(delay, min(err.retry_after, self._backoff_max_s))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- Download -----------------------------------------------------------------------

    async def _download_once(
        self, url: str, dest: Path, on_progress: ProgressCallback | None
    ) -> ClipInfo:
        return await download_clip(
            self._http,
            url,
            dest,
            timeout=self._download_timeout,
            max_bytes=self._max_download_bytes,
            on_progress=on_progress,
        )


def _task_of(data: Any, op: str) -> ViduTask:
    try:
        return ViduTask.model_validate(data)
    except ValidationError as exc:
        raise ProviderError(
            ErrorKind.UNKNOWN, f"{op}: unexpected task shape ({exc.error_count()} errors)"
        ) from None
