"""VideoProvider for Seedance (ByteDance) through the ModelArk / Ark API (providers.md 4).

Create: `POST {base}/contents/generations/tasks` with `Authorization: Bearer <key>` and a
`content` array: the prompt as text, the photo as the `first_frame` image (a data URL with
its prefix) and, where the model takes one, the end frame as `last_frame`. Poll
`GET {base}/contents/generations/tasks/{id}` (queued, running, succeeded, failed,
cancelled). `return_last_frame` is always asked for, so a finished status carries the
clip's last frame for a later shot to start from. Sound is sent explicitly: `false` unless
the operator wants it and the model makes it. The result URL lives about 24 h: fetched at
once by the shared download in http.py.

Ark takes no id of ours, so a lost create answer is found again another way: each take's
`seed` is derived from its external id, and `find` looks for that seed (and model) among
the newest tasks of the list endpoint. A listing whose tasks do not report their seed
proves nothing, and then `find` fails safe (UNKNOWN, may have created) rather than let the
runner create, and pay, a second time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.health import ModelAccess
from bot.domain.types import ClipInfo, ProgressCallback, TaskState, TaskStatus, VideoRequest
from bot.files import write_private
from bot.media.lastframe import provider_frame_path
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

BYTEPLUS_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"
VOLCENGINE_URL = "https://ark.cn-beijing.volces.com/api/v3"
DEFAULT_MODEL = "seedance-1-5-pro-251215"
TASKS_PATH = "/contents/generations/tasks"
LIST_PAGE_SIZE = 500  # the most Ark lists at once; an account has at most 120 queued
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_SIDE = 2048


@dataclass(frozen=True, slots=True)
class SeedanceModel:
    """What one Seedance family accepts (providers.md 4; [?] facts from third-party pages)."""

    min_s: int
    max_s: int
    last_frame: bool  # takes a `last_frame` image beside the first
    audio: bool  # `generate_audio` means something
    max_resolution: str = "1080p"


# Families by the part of the id both hosts share ("seedance-1-5-pro" in either spelling).
FAMILIES: dict[str, SeedanceModel] = {
    "seedance-1-0-lite-i2v": SeedanceModel(2, 12, last_frame=True, audio=False),
    "seedance-1-0-pro-fast": SeedanceModel(2, 12, last_frame=False, audio=False),
    "seedance-1-0-pro": SeedanceModel(2, 12, last_frame=True, audio=False),
    "seedance-1-5-pro": SeedanceModel(4, 12, last_frame=True, audio=True),
    "seedance-2-0-fast": SeedanceModel(4, 15, last_frame=True, audio=True, max_resolution="720p"),
    "seedance-2-0": SeedanceModel(4, 15, last_frame=True, audio=True),
    "seedance-2-5": SeedanceModel(4, 15, last_frame=True, audio=True),
}
# BytePlus ModelArk's image-to-video ids (CMFY); Volcengine's are `doubao-seedance-*`.
BYTEPLUS_MODELS = (
    "seedance-1-0-lite-i2v-250428",
    "seedance-1-0-pro-250528",
    "seedance-1-0-pro-fast-251015",
    "seedance-1-5-pro-251215",
    "dreamina-seedance-2-0-260128",
    "dreamina-seedance-2-0-fast-260128",
    "dreamina-seedance-2-5-260628",
)


def model_facts(model: str) -> SeedanceModel:
    """The family of `model`, longest name first; KeyError for an id we do not know."""
    if model in BYTEPLUS_MODELS or model.startswith("doubao-seedance-"):
        for family in sorted(FAMILIES, key=len, reverse=True):
            if family in model:
                return FAMILIES[family]
    raise KeyError(model)


def check_model(model: str, base_url: str) -> None:
    """Refuse at start-up a model the configured host does not serve, in one clear line."""
    try:
        model_facts(model)
    except KeyError:
        raise ConfigError(
            f"SEEDANCE_MODEL: {model!r} is not a Seedance image-to-video model "
            f"(BytePlus: {', '.join(BYTEPLUS_MODELS)}; Volcengine: doubao-seedance-*)"
        ) from None
    volcengine = "volces.com" in base_url
    if volcengine != model.startswith("doubao-"):
        host = "Volcengine Ark" if volcengine else "BytePlus ModelArk"
        raise ConfigError(
            f"SEEDANCE_MODEL: {model!r} is not served by {host} ({base_url}); "
            "BytePlus uses seedance-*/dreamina-seedance-* ids, Volcengine doubao-seedance-*"
        )


def duration_for(model: str, wanted: int) -> int:
    """The nearest duration the model accepts."""
    facts = model_facts(model)
    return min(max(facts.min_s, wanted), facts.max_s)


def resolution_for(model: str, mode: str) -> str:
    """`pro` asks for 1080p where the model renders it; everything else is 720p."""
    if mode == "pro" and model_facts(model).max_resolution == "1080p":
        return "1080p"
    return "720p"


def seed_for(external_id: str) -> int:
    """A seed only this take uses: how `find` recognises the take's task in the list."""
    return int.from_bytes(hashlib.sha256(external_id.encode()).digest()[:4], "big") >> 1


STATES: dict[str, TaskState] = {
    "queued": "submitted",
    "running": "processing",
    "succeeded": "succeed",
    "failed": "failed",
    "cancelled": "failed",
    "expired": "failed",
}
CONTENT_HINTS = ("sensitive", "moderation", "risk")
BALANCE_HINTS = ("overdue", "balance", "insufficient")

K = ErrorKind
# Ark names errors by HTTP status and a code word (`error.code`), read as the message here.
SEEDANCE_ERRORS = ErrorTable(
    answers=(
        When(ErrorRule(K.AUTH, "key refused"), statuses=frozenset({401})),
        # 429 also covers request quotas ("QuotaExceeded"): slowing down helps, so retried.
        When(ErrorRule(K.RATE_LIMITED, "too many requests"), statuses=frozenset({429})),
        When(ErrorRule(K.BALANCE, "account overdue or out of balance"), words=BALANCE_HINTS),
        When(ErrorRule(K.CONTENT, "refused by moderation"), words=CONTENT_HINTS),
        When(
            ErrorRule(K.PERMISSION, "model not available to this account"),
            statuses=frozenset({403, 404}),
            words=("modelnotopen", "notfound", "accessdenied"),
        ),
        # A 5xx on create may come after the task was made: `find` is asked before a retry.
        When(
            ErrorRule(K.TRANSIENT, "server error", may_have_created=True), statuses=SERVER_ERRORS
        ),
        When(ErrorRule(K.INVALID, "request refused"), statuses=frozenset({400, 413, 422})),
    ),
    fallback=ErrorRule(K.UNKNOWN, "unknown error"),
)


class TaskError(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str | None = None
    message: str | None = None


class TaskContent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    video_url: str | None = None
    last_frame_url: str | None = None


class SeedanceTask(BaseModel):
    """A task as create, get and list return it."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    model: str | None = None
    status: str | None = None
    seed: int | None = None
    content: TaskContent | None = None
    error: TaskError | None = None


class TaskList(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[SeedanceTask] = []
    total: int | None = None


def image_data_url(path: Path) -> str:
    """The photo as a `data:image/…;base64,` URL: JPEG/PNG/WebP as is, else re-encoded."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "").upper()
        if fmt in ("JPEG", "PNG", "WEBP") and len(data) <= MAX_IMAGE_BYTES:
            mime = "jpeg" if fmt == "JPEG" else fmt.lower()
            return f"data:image/{mime};base64,{base64.b64encode(data).decode()}"
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=90)
    return f"data:image/jpeg;base64,{base64.b64encode(out.getvalue()).decode()}"


def task_status_from(task: SeedanceTask) -> TaskStatus:
    """Map an Ark task onto TaskStatus; unknown states keep the job polling."""
    state = STATES.get((task.status or "").lower())
    if state is None:
        return TaskStatus("processing", message=f"unknown status {task.status!r}")
    content = task.content or TaskContent()
    if state == "succeed" and not content.video_url:
        return TaskStatus("failed", message="succeeded without a video_url")
    error = task.error or TaskError()
    words = f"{error.code or ''} {error.message or ''}".strip()
    return TaskStatus(
        state,
        progress=1.0 if state == "succeed" else None,
        message=words or (task.status if state == "failed" else None),
        result_url=content.video_url if state == "succeed" else None,
        content_rejected=state == "failed" and any(h in words.lower() for h in CONTENT_HINTS),
        last_frame_url=content.last_frame_url if state == "succeed" else None,
    )


class SeedanceVideoProvider:
    """VideoProvider for Seedance on ModelArk / Ark. One HTTP client per instance."""

    name = "seedance"

    def __init__(
        self,
        api_key: str,
        base_url: str = BYTEPLUS_URL,
        model: str = DEFAULT_MODEL,
        *,
        audio: bool = False,
        timeout: float = 30.0,
        download_timeout: float = 120.0,
        max_attempts: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_download_bytes: int = 1024 * 1024 * 1024,
    ) -> None:
        if not api_key:
            raise ValueError("a Seedance (Ark) API key is required")
        check_model(model, base_url)
        self.model = model
        self.audio = audio
        self._api = JsonApi(
            "Seedance",
            base_url,
            credentials=StaticKey("Bearer", api_key),
            errors=SEEDANCE_ERRORS,
            read_answer=read_answer,
            can_look_up=True,
            retry=RetryPolicy(max_attempts, backoff_base_s, backoff_max_s),
            timeout=timeout,
            download_timeout=download_timeout,
            max_download_bytes=max_download_bytes,
            logger=log,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SeedanceVideoProvider:
        """The provider the operator configured; the key is required, the model checked."""
        if not settings.seedance_api_key:
            raise ConfigError("SEEDANCE_API_KEY: required for Seedance")
        return cls(
            settings.seedance_api_key.get_secret_value(),
            settings.seedance_api_url,
            settings.seedance_model,
        )

    def __repr__(self) -> str:  # never show the key
        return f"SeedanceVideoProvider(base_url={self._api.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()

    async def check_access(self) -> ModelAccess:
        """List one task (free, authenticated): proves the key; the model was checked on build."""
        await self._api.call("GET", f"{TASKS_PATH}?page_num=1&page_size=1", "check")
        return ModelAccess(self.model, (self.model,))

    # --- VideoProvider ------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> str:
        """Create the task; after a failure that may have made it, look before retrying."""
        body = await self.build_body(request)
        ambiguous = False

        async def look_up() -> str | None:
            if not ambiguous:
                return None
            try:
                return await self.find(request)
            except ProviderError as err:
                err.may_have_created = True  # still unknown whether the task exists
                raise

        async def create() -> str:
            nonlocal ambiguous
            try:
                data = await self._api.call("POST", TASKS_PATH, "create", body, creates=True)
            except ProviderError as err:
                ambiguous = ambiguous or err.may_have_created
                err.may_have_created = ambiguous
                raise
            task = task_from(SeedanceTask, data, "create")
            if not task.id:
                raise ProviderError(ErrorKind.UNKNOWN, "create: no id in the answer")
            return task.id

        return await self._api.retrying("create", create, look_up=look_up)

    async def find(self, request: VideoRequest) -> str | None:
        """The task this request's seed made, among the newest listed (see the docstring)."""
        path = f"{TASKS_PATH}?page_num=1&page_size={LIST_PAGE_SIZE}"
        data = await self._api.retrying("find", lambda: self._api.call("GET", path, "find"))
        listing = task_from(TaskList, data, "find")
        model = request.model or self.model
        seed = seed_for(request.external_id)
        for task in listing.items:
            if task.seed == seed and task.model in (None, model) and task.id:
                log.info("seedance: create for %s had made task %s", request.external_id, task.id)
                return task.id
        if listing.items and all(task.seed is None for task in listing.items):
            raise ProviderError(
                ErrorKind.UNKNOWN,
                "find: the task list does not report seeds; cannot tell whether a create "
                "went through, so it is not repeated",
                may_have_created=True,
            )
        return None

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        """Poll the task once (retrying blips)."""
        path = f"{TASKS_PATH}/{quote(task_id, safe='')}"
        data = await self._api.retrying("status", lambda: self._api.call("GET", path, "status"))
        return task_status_from(task_from(SeedanceTask, data, "status"))

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> ClipInfo:
        """Fetch the result now (its URL lives about 24 h) and prove it decodes; the clip's
        last frame, where Ark returned one, is kept beside it for a shot that continues it."""
        clip = await self._api.download_result(
            status, lambda: self.status(request, task_id), dest, on_progress
        )
        if status.last_frame_url:
            await self._keep_last_frame(status.last_frame_url, dest)
        return clip

    async def _keep_last_frame(self, url: str, dest: Path) -> None:
        """Best effort: without it, ➡️ Continue decodes the frame from the clip itself."""
        try:
            data = await self._api.download_bytes(url, MAX_IMAGE_BYTES)
        except ProviderError as error:
            log.info("seedance: last frame not kept (%s)", error.kind)
            return
        await asyncio.to_thread(write_private, provider_frame_path(dest), data)

    # --- Building the request -----------------------------------------------------------

    # --- What one take may ask for (ModelRules): the draft shows what will be sent ---------

    def end_frame_mode(self, model: str, mode: str, sound: bool = False) -> str | None:
        """The draft's mode where the model takes a last frame (all but 1.0 Pro Fast); None
        where none does, so the end-frame button is not offered."""
        try:
            return mode if model_facts(model).last_frame else None
        except KeyError:
            return None

    def takes_sound(self, model: str, mode: str) -> bool:
        """1.5 Pro and the 2.x models make sound (`generate_audio`); the 1.0 models do not."""
        try:
            return model_facts(model).audio
        except KeyError:
            return False

    def durations(self, model: str) -> tuple[int, ...]:
        """Every second from the model's shortest to its longest (4–12 s on 1.5 Pro)."""
        try:
            facts = model_facts(model)
        except KeyError:
            return (5, 10)
        return tuple(range(facts.min_s, facts.max_s + 1))

    def modes(self, model: str) -> tuple[str, ...]:
        """std is 720p, pro 1080p where the model renders it."""
        return ("std", "pro")

    async def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The create request's JSON for `request`."""
        model = request.model or self.model
        try:
            facts = model_facts(model)
        except KeyError:
            raise ProviderError(ErrorKind.INVALID, f"unknown Seedance model {model!r}") from None
        first = await asyncio.to_thread(image_data_url, request.image_path)
        content: list[dict[str, Any]] = [
            {"type": "text", "text": request.prompt},
            {"type": "image_url", "image_url": {"url": first}, "role": "first_frame"},
        ]
        if request.image_tail_path is not None:
            if not facts.last_frame:
                # Sending it would be refused; dropping it would make a clip not asked for.
                raise ProviderError(ErrorKind.INVALID, f"{model} takes no end frame")
            last = await asyncio.to_thread(image_data_url, request.image_tail_path)
            content.append({"type": "image_url", "image_url": {"url": last}, "role": "last_frame"})
        body: dict[str, Any] = {
            "model": model,
            "content": content,
            "resolution": resolution_for(model, request.mode),
            # The project's shape where the shot has one (its photo is already cut to it);
            # else the photo's own.
            "ratio": request.aspect or "adaptive",
            "duration": duration_for(model, request.duration),
            "seed": seed_for(request.external_id),
            "camera_fixed": request.camera_move == "static",
            "watermark": False,
            "generate_audio": (request.sound or self.audio) and facts.audio,
            "return_last_frame": True,
        }
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return body


def read_answer(resp: httpx.Response, op: str) -> Answer:
    """A 2xx carries the task; an error carries `error{code, message}`."""
    if resp.is_success:
        try:
            return Answer(ok=True, data=resp.json())
        except ValueError:
            raise ProviderError(ErrorKind.UNKNOWN, f"{op}: answer is not JSON") from None
    words = ""
    request_id = resp.headers.get("X-Request-Id")
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        error = resp.json().get("error") or {}
        # The code is a word ("InvalidParameter", "SensitiveContentDetected"): the table
        # reads it together with the message.
        words = f"{error.get('code') or ''}: {error.get('message') or ''}"
    return Answer(ok=False, code=None, message=words, request_id=request_id)
