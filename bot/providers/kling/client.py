"""Kling image-to-video client (the official AK/SK API, `/v1/videos/image2video`).

Why it looks the way it does (details in /work/shared/providers.md, sections 1, 2 and 7):

* Every Kling create costs money and is not idempotent. Each create carries our
  `external_task_id`; when a create fails in a way that may have made the task anyway
  (timeout, dropped connection, 5000/5002, bare 5xx) we look the task up by that id before
  trying again, and a 1201 on create (which is also what a duplicate external id gives)
  triggers the same look-up. A retry can therefore never pay for a second task.
* Kling answers HTTP 429 for both "out of money" and "slow down", so errors are classified
  by the business `code` in ONE table, `KLING_ERRORS`, which also says what is retried.
* The JWT is signed with the secret key and cached until shortly before it expires. Neither
  key nor token is ever put into a log line, an exception or a user-facing string; error
  details are additionally scrubbed of both in case the server ever echoed them.
* Result URLs are downloaded at once into a temp file next to `dest`, checked with PyAV,
  then renamed, so a half-written or undecodable file is never handed to the bot.

Uncertain contract points and the choice made here:

* Query by external id: KDOC allows `GET /v1/videos/image2video/{external_task_id}`; KDEMO
  uses `?external_task_id=` on the list endpoint instead. We implement KDOC's path form.
  What Kling answers for an unknown id is undocumented: HTTP 404 and codes 1201/1203 all
  mean "not found" for `find()`. Misreading one of them as "not found" is safe: the next
  create with the same external id is refused by Kling as a duplicate, never paid twice.
* Camera control: KDOC's capability map allows it for image-to-video only on kling-v1-5,
  pro, 5 s, `simple` type. Elsewhere we omit it and the prompt's camera words carry the
  move. Kling's axis names differ from film terms: its `pan` rotates in the vertical plane
  (a film tilt) and its `tilt` in the horizontal plane (a film pan); KDOC says a NEGATIVE
  `zoom` narrows the field of view, i.e. pushes in. See `CAMERA_TABLE`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
import jwt
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import (
    DURATIONS,
    MODES,
    PROMPT_LIMIT,
    ClipInfo,
    ProgressCallback,
    TaskStatus,
    VideoRequest,
)
from bot.providers.http import download_clip

log = logging.getLogger(__name__)

T = TypeVar("T")

IMAGE2VIDEO_PATH = "/v1/videos/image2video"
DEFAULT_MODEL = "kling-v2-5-turbo"

# --- Authentication --------------------------------------------------------------------

JWT_TTL_S = 1800  # KDOC sample: exp = now + 30 min
JWT_NBF_SKEW_S = 5  # KDOC sample: nbf = now - 5 s, tolerates a slightly fast server clock
# Re-sign when less than this remains: max(60 s as in ARC, ~10 % of the lifetime as in KDEMO).
JWT_REFRESH_MARGIN_S = max(60.0, JWT_TTL_S * 0.1)


class KlingJwt:
    """Signs and caches the HS256 token Kling wants; the clock is injectable for tests.

    A fresh token per request would also work (KDOC), but caching saves an HMAC per poll
    and renewing well before expiry keeps 1004 "token expired" out of normal operation.
    """

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        clock: Callable[[], float] = time.time,
        ttl_s: int = JWT_TTL_S,
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._clock = clock
        self._ttl_s = ttl_s
        self._token: str | None = None
        self._exp = 0.0

    def __repr__(self) -> str:  # never show the keys or the token
        return f"KlingJwt(ttl_s={self._ttl_s})"

    def token(self) -> str:
        now = self._clock()
        if self._token is not None and self._exp - now > JWT_REFRESH_MARGIN_S:
            return self._token
        exp = int(now) + self._ttl_s
        claims = {"iss": self._access_key, "exp": exp, "nbf": int(now) - JWT_NBF_SKEW_S}
        token = jwt.encode(claims, self._secret_key, algorithm="HS256", headers={"typ": "JWT"})
        self._token, self._exp = token, float(exp)
        return token

    def invalidate(self) -> None:
        """Forget the cached token so the next request signs a new one (after 1003/1004)."""
        self._token = None

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never leave this module (used to scrub error details)."""
        return tuple(s for s in (self._secret_key, self._access_key, self._token) if s)


# --- Error table ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeRule:
    """How one Kling business code is handled."""

    kind: ErrorKind
    retry: bool  # retried inside the provider with backoff
    meaning: str
    resign: bool = False  # sign a new JWT and repeat the call once (1003/1004)
    may_have_created: bool = False  # on create: the task may exist, look it up first


# ONE table: Kling business code -> kind and retry policy (KDOC error table, providers.md 1.7).
# Decided by business code, never by HTTP status (429 covers both billing and throttling).
KLING_ERRORS: dict[int, CodeRule] = {
    1000: CodeRule(ErrorKind.AUTH, False, "authentication failed"),
    1001: CodeRule(ErrorKind.AUTH, False, "authorization header empty"),
    1002: CodeRule(ErrorKind.AUTH, False, "authorization invalid"),
    1003: CodeRule(ErrorKind.AUTH, False, "token not yet valid (clock skew?)", resign=True),
    1004: CodeRule(ErrorKind.AUTH, False, "token expired", resign=True),
    1100: CodeRule(ErrorKind.BALANCE, False, "account exception"),
    1101: CodeRule(ErrorKind.BALANCE, False, "account in arrears"),
    1102: CodeRule(ErrorKind.BALANCE, False, "resource pack used up or expired"),
    1103: CodeRule(ErrorKind.PERMISSION, False, "no permission for this API or model"),
    1200: CodeRule(ErrorKind.INVALID, False, "invalid request parameters"),
    1201: CodeRule(ErrorKind.INVALID, False, "invalid parameter value"),
    1202: CodeRule(ErrorKind.INVALID, False, "invalid request method"),
    1203: CodeRule(ErrorKind.INVALID, False, "resource not found"),
    1300: CodeRule(ErrorKind.CONTENT, False, "platform policy triggered"),
    1301: CodeRule(ErrorKind.CONTENT, False, "content security policy triggered"),
    1302: CodeRule(ErrorKind.RATE_LIMITED, True, "request rate too high"),
    1303: CodeRule(ErrorKind.BUSY, True, "concurrency over resource pack limit"),
    1304: CodeRule(ErrorKind.PERMISSION, False, "IP whitelist policy (operator must fix)"),
    5000: CodeRule(ErrorKind.TRANSIENT, True, "server internal error", may_have_created=True),
    5001: CodeRule(ErrorKind.TRANSIENT, True, "server temporarily unavailable"),
    5002: CodeRule(ErrorKind.TRANSIENT, True, "server timeout", may_have_created=True),
}
# A code we do not know: a 5xx HTTP status makes it transient (and maybe created), else not.
_UNKNOWN_SERVER_RULE = CodeRule(
    ErrorKind.TRANSIENT, True, "unknown server error", may_have_created=True
)
_UNKNOWN_RULE = CodeRule(ErrorKind.UNKNOWN, False, "unknown error code")
# Answers to a query by external id that mean "no such task" (see module docstring).
NOT_FOUND_CODES = frozenset({1201, 1203})


def rule_for(code: int | None, http_status: int) -> CodeRule:
    """The handling for a business code; HTTP status only decides for codes we don't know."""
    if code is not None and code in KLING_ERRORS:
        return KLING_ERRORS[code]
    if http_status >= 500:
        return _UNKNOWN_SERVER_RULE
    if http_status == 429:
        return KLING_ERRORS[1302]
    if http_status == 401:
        return KLING_ERRORS[1000]
    return _UNKNOWN_RULE


# --- Wire shapes -----------------------------------------------------------------------

KLING_STATES = ("submitted", "processing", "succeed", "failed")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class KlingVideo(_Lenient):
    id: str | None = None
    url: str | None = None
    duration: str | None = None


class KlingTaskResult(_Lenient):
    videos: list[KlingVideo] = []


class KlingTaskInfo(_Lenient):
    external_task_id: str | None = None


class KlingTask(_Lenient):
    """A task as returned by create, query and (flat) callbacks."""

    task_id: str
    task_status: str = "submitted"
    task_status_msg: str | None = None
    task_info: KlingTaskInfo | None = None
    created_at: int | None = None
    updated_at: int | None = None
    task_result: KlingTaskResult | None = None

    @field_validator("task_id", mode="before")
    @classmethod
    def _id_as_str(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @property
    def external_task_id(self) -> str | None:
        return self.task_info.external_task_id if self.task_info else None


class KlingEnvelope(_Lenient):
    """`{code, message, request_id, data}`; some proxies send `code` as a string."""

    code: int | None = None
    message: str | None = None
    request_id: str | None = None
    data: Any = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_int(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return None
        return value


class CameraConfig(_Lenient):
    horizontal: float = 0.0
    vertical: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    roll: float = 0.0
    zoom: float = 0.0


CameraType = Literal[
    "simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"
]


class CameraControl(_Lenient):
    type: CameraType
    config: CameraConfig | None = None  # only with type "simple"


class Image2VideoBody(BaseModel):
    """The create request; `None` fields are left out of the JSON."""

    model_name: str
    mode: Literal["std", "pro"]
    duration: Literal["5", "10"]  # a STRING on the wire
    image: str  # raw base64, no data: prefix
    image_tail: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    cfg_scale: float | None = None  # v1.x models only
    camera_control: CameraControl | None = None
    callback_url: str | None = None
    external_task_id: str

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# --- Camera moves ------------------------------------------------------------------------

CAMERA_STRENGTH = 5.0  # of Kling's [-10, 10]: a clear but calm move, right for clay sets


def _simple(axis: str, value: float) -> CameraControl:
    return CameraControl(type="simple", config=CameraConfig(**{axis: value}))


# Our move -> Kling camera_control candidates, best first. The first whose type the model's
# capability map allows is sent; none allowed -> omitted, and the prompt's camera words
# (written by the drafter) carry the move.
#
# | move      | Kling                                  | why                               |
# |-----------|----------------------------------------|-----------------------------------|
# | static    | (none)                                 | no move; never send all-zero      |
# | push_in   | simple zoom -5                         | KDOC: negative zoom = narrower FOV |
# | pull_out  | simple zoom +5                         | positive zoom = wider FOV         |
# | pan_left  | simple horizontal -5                   | sideways slide (truck) left       |
# | pan_right | simple horizontal +5                   | sideways slide right              |
# | tilt_up   | simple vertical +5                     | rise; Kling's `tilt` axis is a    |
# | tilt_down | simple vertical -5                     | film *pan*, so it is not used     |
# | orbit     | right_turn_forward (no config)         | simple has no orbit axis          |
CAMERA_TABLE: dict[str, tuple[CameraControl, ...]] = {
    "static": (),
    "push_in": (_simple("zoom", -CAMERA_STRENGTH),),
    "pull_out": (_simple("zoom", CAMERA_STRENGTH),),
    "pan_left": (_simple("horizontal", -CAMERA_STRENGTH),),
    "pan_right": (_simple("horizontal", CAMERA_STRENGTH),),
    "tilt_up": (_simple("vertical", CAMERA_STRENGTH),),
    "tilt_down": (_simple("vertical", -CAMERA_STRENGTH),),
    "orbit": (CameraControl(type="right_turn_forward"),),
}

# KDOC "3-0 Capability Map", image-to-video: (model, mode, duration) -> allowed camera types.
CAMERA_CAPABILITY: dict[tuple[str, str, int], frozenset[str]] = {
    ("kling-v1-5", "pro", 5): frozenset({"simple"}),
}


def camera_control_for(move: str, model: str, mode: str, duration: int) -> dict[str, Any] | None:
    """The camera_control JSON for `move`, or None where the model can't take one."""
    allowed = CAMERA_CAPABILITY.get((model, mode, duration), frozenset())
    for control in CAMERA_TABLE.get(move, ()):
        if control.type in allowed:
            return control.model_dump(mode="json", exclude_none=True)
    return None


def supports_cfg_scale(model: str) -> bool:
    """KDOC: kling-v2.x (and newer) reject cfg_scale; only the v1 family takes it."""
    return model == "kling-v1" or model.startswith("kling-v1-")


# --- Images ------------------------------------------------------------------------------

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 300
MAX_ASPECT = 2.5
REENCODE_MAX_SIDE = 3840  # when we must re-encode anyway, no point sending more than 4K
_ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})


@dataclass(frozen=True, slots=True)
class PreparedImage:
    b64: str  # raw base64, no data: prefix
    width: int
    height: int
    changed: bool  # re-encoded to satisfy Kling's limits
    reason: str = ""


def _fits_kling(fmt: str | None, size: int, width: int, height: int) -> list[str]:
    problems = []
    if fmt not in _ACCEPTED_FORMATS:
        problems.append(f"format {fmt}")
    if size > MAX_IMAGE_BYTES:
        problems.append(f"{size} bytes")
    if min(width, height) < MIN_IMAGE_SIDE:
        problems.append(f"{width}x{height} too small")
    if max(width, height) > MAX_ASPECT * min(width, height):
        problems.append(f"aspect {width}x{height}")
    return problems


def _crop_to_aspect(img: Image.Image) -> Image.Image:
    w, h = img.size
    if w > MAX_ASPECT * h:
        new_w = math.floor(h * MAX_ASPECT)
        left = (w - new_w) // 2
        return img.crop((left, 0, left + new_w, h))
    if h > MAX_ASPECT * w:
        new_h = math.floor(w * MAX_ASPECT)
        top = (h - new_h) // 2
        return img.crop((0, top, w, top + new_h))
    return img


def _rescale(img: Image.Image) -> Image.Image:
    w, h = img.size
    if min(w, h) < MIN_IMAGE_SIDE:
        scale = MIN_IMAGE_SIDE / min(w, h)
    elif max(w, h) > REENCODE_MAX_SIDE:
        scale = REENCODE_MAX_SIDE / max(w, h)
    else:
        return img
    size = (max(MIN_IMAGE_SIDE, math.ceil(w * scale)), max(MIN_IMAGE_SIDE, math.ceil(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _encode_jpeg_under_limit(img: Image.Image) -> bytes:
    """JPEG at the best quality that fits 10 MB, shrinking the picture if quality can't."""
    while True:
        for quality in (92, 85, 75, 65):
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= MAX_IMAGE_BYTES:
                return buf.getvalue()
        w, h = img.size
        img = img.resize((max(MIN_IMAGE_SIDE, int(w * 0.8)), max(MIN_IMAGE_SIDE, int(h * 0.8))))


def _flatten_to_rgb(img: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite transparent pictures onto white instead of black."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def prepare_image(path: Path) -> PreparedImage:
    """Read a frame and make it acceptable to Kling: jpg/png, <= 10 MB, sides >= 300 px,
    aspect within 1:2.5..2.5:1. A file that already fits is sent byte for byte; otherwise
    we fix what we can (crop to the aspect limit, upscale small, downscale and re-encode
    big) rather than let Kling reject the request with 1201.
    """
    try:
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as probe:
            fmt, (width, height) = probe.format, probe.size
        problems = _fits_kling(fmt, len(raw), width, height)
        if not problems:
            return PreparedImage(base64.b64encode(raw).decode("ascii"), width, height, False)
        with Image.open(io.BytesIO(raw)) as img:
            fixed = _flatten_to_rgb(ImageOps.exif_transpose(img))
            fixed = _rescale(_crop_to_aspect(fixed))
            data = _encode_jpeg_under_limit(fixed)
            with Image.open(io.BytesIO(data)) as out:
                width, height = out.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(
            ErrorKind.INVALID, f"cannot read image {path.name}: {type(exc).__name__}"
        ) from exc
    reason = ", ".join(problems)
    log.info("kling: re-encoded %s for upload (%s) -> %dx%d", path.name, reason, width, height)
    return PreparedImage(base64.b64encode(data).decode("ascii"), width, height, True, reason)


# --- Status ------------------------------------------------------------------------------

# Words in task_status_msg that mean moderation / risk control rejected the task.
CONTENT_KEYWORDS: tuple[str, ...] = (
    "risk",
    "content",
    "policy",
    "sensitive",
    "moderation",
    "violat",
    "inappropriate",
    "nsfw",
    "审核",
    "违规",
    "风险",
    "风控",
    "敏感",
    "内容",
)


def is_content_rejection(message: str | None) -> bool:
    text = (message or "").lower()
    return any(word in text for word in CONTENT_KEYWORDS)


def task_status_from(task: KlingTask) -> TaskStatus:
    """Map a Kling task onto TaskStatus; unknown states keep the job polling (logged)."""
    state = task.task_status
    if state not in KLING_STATES:
        log.warning(
            "kling: unknown task_status %r for task %s; treating as processing",
            state,
            task.task_id,
        )
        state = "processing"
    url = None
    if task.task_result and task.task_result.videos:
        url = task.task_result.videos[0].url or None
    failed = state == "failed"
    return TaskStatus(
        state=state,  # type: ignore[arg-type]  # checked against KLING_STATES above
        message=task.task_status_msg or None,
        result_url=url if state == "succeed" else None,
        content_rejected=failed and is_content_rejection(task.task_status_msg),
    )


def parse_callback(body: dict[str, Any]) -> tuple[str, str | None] | None:
    """(task_id, external_task_id) from a Kling callback, or None if it isn't one.

    Accepts the flat task object and the `{code, message, data}` envelope (both are seen in
    copies of the docs). Callbacks are unsigned: treat this as a hint and re-query status.
    """
    if not isinstance(body, dict):
        return None
    inner = body.get("data") if isinstance(body.get("data"), dict) else body
    try:
        task = KlingTask.model_validate(inner)
    except ValidationError:
        return None
    if not task.task_id:
        return None
    return task.task_id, task.external_task_id or None


# --- The provider ------------------------------------------------------------------------


class KlingVideoProvider:
    """VideoProvider for Kling's official API. One httpx client per instance."""

    name = "kling"

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        base_url: str,
        model: str = DEFAULT_MODEL,
        *,
        timeout: float = 30.0,
        download_timeout: float = 120.0,
        max_attempts: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        max_concurrent: int = 5,
        max_download_bytes: int = 1024 * 1024 * 1024,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("Kling access key and secret key are required")
        self.model = model
        self._signer = KlingJwt(access_key, secret_key, clock)
        self._max_attempts = max(1, max_attempts)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_download_bytes = max_download_bytes
        self._download_timeout = httpx.Timeout(download_timeout, connect=min(10.0, timeout))
        self._create_slots = asyncio.Semaphore(max_concurrent)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"Content-Type": "application/json", "User-Agent": "claymate-kling/1"},
            follow_redirects=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> KlingVideoProvider:
        if not (settings.kling_access_key and settings.kling_secret_key):
            raise ConfigError("KLING_ACCESS_KEY and KLING_SECRET_KEY: required for Kling")
        return cls(
            settings.kling_access_key.get_secret_value(),
            settings.kling_secret_key.get_secret_value(),
            settings.kling_api_url,
            settings.kling_model,
            max_concurrent=settings.kling_max_concurrent,
        )

    def __repr__(self) -> str:
        return f"KlingVideoProvider(base_url={str(self._http.base_url)!r}, model={self.model!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- VideoProvider ------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> str:
        """Create the task. Retries throttling and transient errors, but after any failure
        that may have created the task it first looks it up by external id, so a retry can
        never make (and pay for) a second task."""
        body = (await self._build_body(request)).wire()
        ambiguous = False
        for attempt in range(1, self._max_attempts + 1):
            if ambiguous:
                try:
                    found = await self.find(request)
                except ProviderError as err:
                    err.may_have_created = True  # still unknown whether the task exists
                    raise
                if found:
                    log.info(
                        "kling: create for %s had gone through as task %s",
                        request.external_id,
                        found,
                    )
                    return found
            try:
                async with self._create_slots:
                    data = await self._call("POST", IMAGE2VIDEO_PATH, "create", body, True)
                return _task_of(data, "create").task_id
            except ProviderError as err:
                ambiguous = ambiguous or err.may_have_created
                if err.code == 1201:  # also what a duplicate external_task_id gets
                    found = await self._find_quietly(request)
                    if found:
                        log.info(
                            "kling: create for %s refused as duplicate; task %s exists",
                            request.external_id,
                            found,
                        )
                        return found
                self._log_failure("create", err, attempt)
                if not err.retryable or attempt == self._max_attempts:
                    err.may_have_created = ambiguous
                    raise
                await asyncio.sleep(self._backoff(attempt, err))
        raise AssertionError("unreachable")  # pragma: no cover

    async def find(self, request: VideoRequest) -> str | None:
        """Task id for request.external_id, via KDOC's `GET .../image2video/{external_id}`."""
        path = f"{IMAGE2VIDEO_PATH}/{quote(request.external_id, safe='')}"

        async def once() -> str | None:
            try:
                data = await self._call("GET", path, "find")
            except ProviderError as err:
                if err.code in NOT_FOUND_CODES or (
                    err.code is None and err.extra.get("http_status") == 404
                ):
                    return None
                raise
            tasks = data if isinstance(data, list) else [data]
            for item in tasks:
                task = _task_of(item, "find")
                if task.external_task_id in (None, request.external_id):
                    return task.task_id
            return None

        return await self._retrying("find", once)

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        path = f"{IMAGE2VIDEO_PATH}/{quote(task_id, safe='')}"
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
        """Fetch the result now (the URL is not ours to keep) and prove it decodes.

        A file that does not decode is fetched again (a cut-off transfer is the likely
        cause) within the attempt budget; if it still fails it is INVALID, not retried:
        the same URL would serve the same bad bytes. 403/404/410 on the URL is EXPIRED.
        """
        url = status.result_url
        if not url:
            status = await self.status(request, task_id)
            url = status.result_url
        if not url:
            kind = ErrorKind.CONTENT if status.content_rejected else ErrorKind.UNKNOWN
            if status.state in ("submitted", "processing"):
                kind = ErrorKind.TRANSIENT
            raise ProviderError(kind, f"download: task {task_id} is {status.state}, no result")
        try:
            return await self._retrying(
                "download", lambda: self._download_once(url, dest, on_progress)
            )
        except ProviderError as err:
            if err.extra.get("corrupt_clip"):
                raise ProviderError(
                    ErrorKind.INVALID, err.detail, extra={**err.extra, "task_id": task_id}
                ) from err
            raise

    # --- Building the request -----------------------------------------------------------

    async def _build_body(self, request: VideoRequest) -> Image2VideoBody:
        model = request.model or self.model
        if request.mode not in MODES:
            raise ProviderError(ErrorKind.INVALID, f"mode {request.mode!r} not in {MODES}")
        if request.duration not in DURATIONS:
            raise ProviderError(ErrorKind.INVALID, f"duration {request.duration} not 5/10")
        image = await asyncio.to_thread(prepare_image, request.image_path)
        tail = None
        if request.image_tail_path is not None:
            tail = await asyncio.to_thread(prepare_image, request.image_tail_path)
        camera = None
        if tail is None:
            camera = camera_control_for(request.camera_move, model, request.mode, request.duration)
        elif request.camera_move != "static":
            # KDOC: image+image_tail and camera_control are mutually exclusive. The end
            # frame is the stronger instruction, so it wins and the camera move is dropped.
            log.info(
                "kling: %s has an end frame; camera move %s dropped",
                request.external_id,
                request.camera_move,
            )
        cfg = None
        if request.cfg_scale is not None and supports_cfg_scale(model):
            cfg = min(1.0, max(0.0, request.cfg_scale))
        return Image2VideoBody(
            model_name=model,
            mode=request.mode,  # type: ignore[arg-type]  # checked above
            duration=str(request.duration),  # type: ignore[arg-type]  # checked above
            image=image.b64,
            image_tail=tail.b64 if tail else None,
            prompt=request.prompt[:PROMPT_LIMIT] or None,
            negative_prompt=request.negative_prompt[:PROMPT_LIMIT] or None,
            cfg_scale=cfg,
            camera_control=CameraControl.model_validate(camera) if camera else None,
            callback_url=request.callback_url or None,
            external_task_id=request.external_id,
        )

    # --- HTTP ---------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        op: str,
        body: dict[str, Any] | None = None,
        creates: bool = False,
    ) -> Any:
        """One API call (plus one re-signed repeat on 1003/1004); returns `data` or raises.

        `creates`: a failure after the request may have reached Kling is marked
        may_have_created, so the caller looks the task up before creating again.
        """
        resigned = False
        while True:
            headers = {"Authorization": f"Bearer {self._signer.token()}"}
            try:
                resp = await self._http.request(method, path, json=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise ProviderError(
                    ErrorKind.TRANSIENT, f"{op}: cannot reach Kling ({type(exc).__name__})"
                ) from None
            except httpx.TransportError as exc:  # timeouts after sending, dropped connections
                raise ProviderError(
                    ErrorKind.TRANSIENT,
                    f"{op}: no answer from Kling ({type(exc).__name__})",
                    may_have_created=creates,
                ) from None
            envelope = _envelope_of(resp)
            if envelope.code == 0 and resp.is_success:
                return envelope.data
            rule = rule_for(envelope.code, resp.status_code)
            if rule.resign and not resigned:
                log.warning(
                    "kling %s: code %s (%s) request_id=%s; signing a new token, retrying once",
                    op,
                    envelope.code,
                    rule.meaning,
                    envelope.request_id,
                )
                self._signer.invalidate()
                resigned = True
                continue
            raise self._error(op, rule, envelope, resp, creates)

    def _error(
        self,
        op: str,
        rule: CodeRule,
        envelope: KlingEnvelope,
        resp: httpx.Response,
        creates: bool,
    ) -> ProviderError:
        message = self._scrub((envelope.message or "")[:300])
        detail = (
            f"{op}: Kling code {envelope.code} ({rule.meaning}): {message!r} "
            f"[HTTP {resp.status_code}, request_id={envelope.request_id}]"
        )
        retry_after = None
        with contextlib.suppress(ValueError):
            retry_after = float(resp.headers.get("Retry-After", ""))
        return ProviderError(
            rule.kind,
            detail,
            code=envelope.code,
            retry_after=retry_after,
            may_have_created=creates and rule.may_have_created,
            extra={
                "request_id": envelope.request_id,
                "http_status": resp.status_code,
                "kling_message": message,
            },
        )

    def _scrub(self, text: str) -> str:
        for secret in self._signer.secrets():
            text = text.replace(secret, "***")
        return text

    async def _retrying(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`, retrying retryable ProviderErrors with exponential backoff + jitter."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await call()
            except ProviderError as err:
                self._log_failure(op, err, attempt)
                if not err.retryable or attempt == self._max_attempts:
                    raise
                await asyncio.sleep(self._backoff(attempt, err))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, err: ProviderError) -> float:
        delay = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        delay += random.uniform(0, delay / 2)  # jitter: spread out retries from many workers
        if err.retry_after:
            delay = max(delay, min(err.retry_after, self._backoff_max_s))
        return delay

    def _log_failure(self, op: str, err: ProviderError, attempt: int) -> None:
        log.warning(
            "kling %s failed (attempt %d/%d): kind=%s code=%s request_id=%s%s",
            op,
            attempt,
            self._max_attempts,
            err.kind.value,
            err.code,
            err.extra.get("request_id"),
            " (may have created)" if err.may_have_created else "",
        )

    async def _find_quietly(self, request: VideoRequest) -> str | None:
        try:
            return await self.find(request)
        except ProviderError:
            return None

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


def _envelope_of(resp: httpx.Response) -> KlingEnvelope:
    try:
        payload = resp.json()
    except ValueError:
        return KlingEnvelope()
    if not isinstance(payload, dict):
        return KlingEnvelope()
    try:
        return KlingEnvelope.model_validate(payload)
    except ValidationError:
        return KlingEnvelope()


def _task_of(data: Any, op: str) -> KlingTask:
    try:
        return KlingTask.model_validate(data)
    except ValidationError as exc:
        raise ProviderError(
            ErrorKind.UNKNOWN, f"{op}: unexpected task shape ({exc.error_count()} errors)"
        ) from None
