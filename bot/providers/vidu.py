"""VideoProvider for Vidu's official API (providers.md section 3).

Create: `POST {base}/img2video` with `Authorization: Token <key>` and the image as a data
URI; poll `GET {base}/tasks/{id}/creations` (created, queueing, processing, success,
failed); the result URL lives 24 h, so it is fetched at once.

Vidu documents no lookup by our own id, so `find` cannot recover a create whose answer
was lost. Such a create (a timeout after the request went out, a 5xx) is therefore never
retried: it fails as UNKNOWN, and the user is told, rather than risk paying twice. Errors
are read by HTTP status and the words of Vidu's `reason` in one table, `VIDU_ERRORS`;
retries, backoff, Retry-After and the download are the shared ones in http.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import ClipInfo, ProgressCallback, TaskState, TaskStatus, VideoRequest
from bot.providers.http import (
    SERVER_ERRORS,
    Answer,
    ErrorRule,
    ErrorTable,
    JsonApi,
    RetryPolicy,
    StaticKey,
    When,
    task_from,
)

log = logging.getLogger(__name__)

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

K = ErrorKind
# Vidu names an error by its HTTP status and a reason word; the first line that matches wins.
VIDU_ERRORS = ErrorTable(
    answers=(
        When(ErrorRule(K.AUTH, "key refused"), statuses=frozenset({401, 403})),
        When(
            ErrorRule(K.BALANCE, "out of credit"), statuses=frozenset({402}), words=BALANCE_HINTS
        ),
        When(ErrorRule(K.RATE_LIMITED, "too many requests"), statuses=frozenset({429})),
        When(ErrorRule(K.CONTENT, "refused by moderation"), words=CONTENT_HINTS),
        # A 5xx on create may come after the task was made: with no lookup, never repeated.
        When(
            ErrorRule(K.TRANSIENT, "server error", may_have_created=True), statuses=SERVER_ERRORS
        ),
        When(ErrorRule(K.INVALID, "request refused"), statuses=frozenset({400, 404, 413, 422})),
    ),
    fallback=ErrorRule(K.UNKNOWN, "unknown error"),
)


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
    """q1 renders 1080p; the others are asked for 720p."""
    return "1080p" if model.startswith("viduq1") else "720p"


class VideoCreation(BaseModel):
    """One result of a task: the clip and its cover."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    cover_url: str | None = None


class ViduTask(BaseModel):
    """A task as returned by create and by the creations poll."""

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
    """Map a Vidu task onto TaskStatus; unknown states keep the job polling."""
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
    """VideoProvider for Vidu. One HTTP client per instance."""

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
        self._api = JsonApi(
            "Vidu",
            base_url,
            credentials=StaticKey("Token", api_key),
            errors=VIDU_ERRORS,
            read_answer=read_answer,
            can_look_up=False,
            retry=RetryPolicy(max_attempts, backoff_base_s, backoff_max_s),
            timeout=timeout,
            download_timeout=download_timeout,
            max_download_bytes=max_download_bytes,
            logger=log,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ViduVideoProvider:
        """The provider the operator configured; the key is required."""
        if not settings.vidu_api_key:
            raise ConfigError("VIDU_API_KEY: required for Vidu")
        return cls(
            settings.vidu_api_key.get_secret_value(), settings.vidu_api_url, settings.vidu_model
        )

    def __repr__(self) -> str:  # never show the key
        return f"ViduVideoProvider(base_url={self._api.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()

    # --- VideoProvider ------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> str:
        """Create the task; throttling and errors before sending are retried, nothing else."""
        body = await self.build_body(request)

        async def once() -> str:
            data = await self._api.call("POST", "/img2video", "create", body, creates=True)
            task = _task_of(data, "create")
            if not task.task_id:
                raise ProviderError(ErrorKind.UNKNOWN, "create: no task_id in the answer")
            return task.task_id

        return await self._api.retrying("create", once)

    async def find(self, request: VideoRequest) -> str | None:
        """Vidu has no lookup by our id (see the module docstring)."""
        return None

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        """Poll the task once (retrying blips)."""
        path = f"/tasks/{quote(task_id, safe='')}/creations"
        data = await self._api.retrying("status", lambda: self._api.call("GET", path, "status"))
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
        return await self._api.download_clip(url, dest, on_progress)

    async def cancel(self, task_id: str) -> bool:
        """Stop a task nobody will receive (/forget); a refusal is logged, never raised."""
        path = f"/tasks/{quote(task_id, safe='')}/cancel"
        try:
            await self._api.call("POST", path, "cancel", {})
        except ProviderError as error:
            log.info("vidu: cancelling %s was refused: %s", task_id, error)
            return False
        return True

    # --- Building the request -----------------------------------------------------------

    async def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The create request's JSON for `request`."""
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


def read_answer(resp: httpx.Response, op: str) -> Answer:
    """A 2xx carries the JSON data; an error carries its reason in one of three fields."""
    if resp.is_success:
        try:
            return Answer(ok=True, data=resp.json())
        except ValueError:
            raise ProviderError(ErrorKind.UNKNOWN, f"{op}: answer is not JSON") from None
    reason = ""
    with contextlib.suppress(ValueError, AttributeError):
        payload = resp.json()
        reason = str(payload.get("reason") or payload.get("err_code") or payload.get("message"))
    # Vidu's errors have no code of their own: the HTTP status is reported as the code.
    return Answer(ok=False, code=resp.status_code, message=reason)


def _task_of(data: Any, op: str) -> ViduTask:
    return task_from(ViduTask, data, op)
