"""VideoProvider for Vidu's official API (providers.md section 3).

Create: `POST {base}/img2video` (one image), or `POST {base}/start-end2video` when a take
has an end frame (`[start, end]`), with `Authorization: Token <key>` and images as data
URIs; poll `GET {base}/tasks/{id}/creations` (created, queueing, processing, success,
failed); the result URL lives 24 h, so it is fetched at once.

Vidu has no client-side task id, but it returns the `payload` a create carried. Every
create carries our external id there, and `find` pages through `GET {base}/tasks` for it.
That makes a create whose answer was lost (a timeout, a 5xx) recoverable: it is looked up
before any retry, like Kling's. When the list cannot tell (a task shown without any
payload, more pages than we read), `find` raises UNKNOWN with may_have_created, which the
take machine ends as failed: a user told "it failed" is better than one charged twice.

What Vidu would refuse is checked before anything is reserved or sent (`refusal`): the
prompt against the model's limit, the pictures against size and aspect. Pictures are
fixed where a user would expect it (an oversized file re-encoded, a panorama cropped to
4:1, the way intake already crops to what the models take, an end frame cropped to its
start's shape); only a picture too small to animate is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.health import ModelAccess
from bot.domain.script_checks import prompt_limit
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


# The models VDOC names, and whether each makes sound (q3 does, unless told not to). Exact
# names only: anything else is "model is not supported". Prompt limits per model are the
# documented ones in bot.domain.script_checks, which the drafters keep to as well.
MODELS: dict[str, bool] = {
    "viduq3-pro": True,
    "viduq3-turbo": True,
    "viduq3-pro-fast": True,  # listed by copies of the .cn pages only
    "viduq2-pro": False,
    "viduq2-pro-fast": False,
    "viduq2-turbo": False,
    "viduq1": False,
    "viduq1-classic": False,
    "vidu2.0": False,
}

MIN_SIDE = 128  # VDOC: references at least 128×128; smaller is refused
MAX_ASPECT = 4.0  # VDOC: between 1:4 and 4:1
MAX_IMAGE_BYTES = 10 * 1024 * 1024 - 1  # VDOC: a base64 image must decode to under 10 MB
# VDOC caps the whole body at 20 MB; ARC keeps to 18 MB, leaving room for the JSON around.
MAX_BODY_BYTES = 18 * 1024 * 1024
MAX_SIDE = 2048  # a re-encoded picture never needs more for a 1080p clip
LIST_PAGE_SIZE = 100  # VDOC tasks-list: pager.pagesz at most 100
LIST_MAX_PAGES = 10  # newest first: a lost create of ours is on the first page or two

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
        # A 5xx on create may come after the task was made: looked up before any retry.
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


def check_model(model: str) -> None:
    """Start-up check: VIDU_MODEL must be a model Vidu knows, or no take could ever run."""
    if model not in MODELS:
        known = ", ".join(MODELS)
        raise ConfigError(f"VIDU_MODEL: {model!r} is not a Vidu model; use one of {known}")


class VideoCreation(BaseModel):
    """One result of a task: the clip and its cover."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    cover_url: str | None = None


class ViduTask(BaseModel):
    """A task as returned by create, by the creations poll and in the task list."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None  # the list and the poll name it `id`, create `task_id`
    task_id: str | None = None
    state: str | None = None
    err_code: str | None = None
    credits: float | None = None
    payload: str | None = None  # what our create carried: our external id
    creations: list[VideoCreation] = []


class ViduTaskList(BaseModel):
    """One page of `GET /tasks`."""

    model_config = ConfigDict(extra="ignore")

    tasks: list[ViduTask] = []
    next_page_token: str | None = None


# --- Pictures as Vidu takes them ---------------------------------------------------------


class ImageRefused(Exception):
    """A picture Vidu would refuse and that cannot be fixed here; `key` names the message."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def image_cap(count: int) -> int:
    """Decoded bytes one of `count` pictures may take: under 10 MB, and all within the body."""
    share = (MAX_BODY_BYTES * 3 // 4) // count - 16 * 1024  # base64 grows bytes by 4/3
    return min(MAX_IMAGE_BYTES, share)


def crop_box(width: int, height: int, ratio: float) -> tuple[int, int, int, int]:
    """The centred box of `width`×`height` with aspect `ratio` (width / height)."""
    if width / height > ratio:
        new_w = max(1, round(height * ratio))
        left = (width - new_w) // 2
        return left, 0, left + new_w, height
    new_h = max(1, round(width / ratio))
    top = (height - new_h) // 2
    return 0, top, width, top + new_h


def frame_uri(path: Path, cap: int, ratio: float | None = None) -> tuple[str, float]:
    """`path` as a data URI Vidu accepts, and the aspect it was sent with.

    `ratio` (an end frame's start) is matched exactly; without it the picture keeps its
    aspect inside 1:4–4:1 and is cropped to the nearer limit beyond. A picture already
    right is sent byte for byte; otherwise it is re-encoded as JPEG, smaller until it fits
    `cap`. Raises ImageRefused when it is too small, or cannot be made to fit.
    """
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            fmt = (opened.format or "").upper()
            rotated = opened.getexif().get(0x0112, 1) not in (1, None)
            # Only the header is read here: a picture sent as it is never gets decoded.
            if not rotated and fmt in ("JPEG", "PNG", "WEBP") and len(data) <= cap:
                width, height = opened.size
                if min(width, height) >= MIN_SIDE and _fits(width / height, ratio):
                    mime = "jpeg" if fmt == "JPEG" else fmt.lower()
                    uri = f"data:image/{mime};base64,{base64.b64encode(data).decode()}"
                    return uri, width / height
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError):
        raise ImageRefused("vidu.image_unreadable") from None
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageRefused("vidu.image_too_small", side=min(width, height), min=MIN_SIDE)
    own = width / height
    target = ratio if ratio is not None else min(MAX_ASPECT, max(1 / MAX_ASPECT, own))
    reshape = not _fits(own, ratio)
    if reshape:
        image = image.crop(crop_box(width, height, target))
        if min(image.size) < MIN_SIDE:
            raise ImageRefused("vidu.image_too_small", side=min(image.size), min=MIN_SIDE)
    jpeg = shrink_to_fit(image.convert("RGB"), cap)
    return f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}", image.width / image.height


def _fits(aspect: float, ratio: float | None) -> bool:
    """`aspect` is `ratio` (within 1 %), or, with no ratio to match, inside 1:4–4:1."""
    if ratio is not None:
        return abs(aspect / ratio - 1) <= 0.01
    return 1 / MAX_ASPECT <= aspect <= MAX_ASPECT


def shrink_to_fit(image: Image.Image, cap: int) -> bytes:
    """A JPEG of `image` of at most `cap` bytes: lower quality first, then fewer pixels."""
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    while True:
        for quality in (90, 80, 70, 60):
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality)
            if out.tell() <= cap:
                return out.getvalue()
        smaller = (round(image.width * 0.75), round(image.height * 0.75))
        if min(smaller) < MIN_SIDE:
            raise ImageRefused("vidu.image_too_large", mb=cap // (1024 * 1024))
        image = image.resize(smaller, Image.Resampling.LANCZOS)


def frame_uris(start: Path, end: Path | None) -> list[str]:
    """The create's `images`: the start frame, and the end frame cropped to its shape.

    VDOC wants the two aspects within 0.8–1.25 of each other; cropping the end frame to the
    start's exact aspect keeps the start (what the user chose to animate) untouched.
    """
    cap = image_cap(2 if end is not None else 1)
    first, ratio = frame_uri(start, cap)
    if end is None:
        return [first]
    last, _ = frame_uri(end, cap, ratio)
    return [first, last]


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
    """VideoProvider for Vidu. One HTTP client per instance.

    Sound is the take's (the project's 🔊 choice, kept only on models that make it): sent as
    `"audio": false` otherwise, because q3 makes sound unless told not to. `sound=True` at
    construction turns it on for every take (tests, a one-off script).
    """

    name = "vidu"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        model: str = DEFAULT_MODEL,
        *,
        sound: bool = False,
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
        self.sound = sound
        self._api = JsonApi(
            "Vidu",
            base_url,
            credentials=StaticKey("Token", api_key),
            errors=VIDU_ERRORS,
            read_answer=read_answer,
            can_look_up=True,  # through the task list, by the payload we sent
            retry=RetryPolicy(max_attempts, backoff_base_s, backoff_max_s),
            timeout=timeout,
            download_timeout=download_timeout,
            max_download_bytes=max_download_bytes,
            logger=log,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ViduVideoProvider:
        """The provider the operator configured; the key is required, the model checked."""
        if not settings.vidu_api_key:
            raise ConfigError("VIDU_API_KEY: required for Vidu")
        check_model(settings.vidu_model)
        return cls(
            settings.vidu_api_key.get_secret_value(), settings.vidu_api_url, settings.vidu_model
        )

    def __repr__(self) -> str:  # never show the key
        return f"ViduVideoProvider(base_url={self._api.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()

    async def check_access(self) -> ModelAccess:
        """List one task (free, authenticated): proves the key; the model is checked by name."""
        await self._api.call("GET", "/tasks?pager.pagesz=1", "check")
        return ModelAccess(self.model, tuple(MODELS))

    # --- VideoProvider ------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> str:
        """Create the task. Throttling and blips are retried; after any failure that may
        have made the task, it is looked up in the task list first, so a retry never pays
        for a second one."""
        path, body = await self.build_body(request)
        ambiguous = False  # an attempt failed in a way that may have made the task

        async def look_up() -> str | None:
            if not ambiguous:
                return None
            found = await self.find(request)  # raises may_have_created when it cannot tell
            if found:
                log.info("vidu: create for %s had gone through as %s", request.external_id, found)
            return found

        async def create() -> str:
            nonlocal ambiguous
            try:
                data = await self._api.call("POST", path, "create", body, creates=True)
            except ProviderError as err:
                ambiguous = ambiguous or err.may_have_created
                err.may_have_created = ambiguous
                raise
            task = _task_of(data, "create")
            if not task.task_id:
                raise ProviderError(ErrorKind.UNKNOWN, "create: no task_id in the answer")
            return task.task_id

        return await self._api.retrying("create", create, look_up=look_up)

    async def find(self, request: VideoRequest) -> str | None:
        """The task our create for `request` made, found by its payload in the task list.

        None only when the list shows every task's payload and ours is not among them;
        whatever leaves it open raises with may_have_created, so nothing creates again.
        """

        async def once() -> str | None:
            token: str | None = None
            unreadable = 0
            for _ in range(LIST_MAX_PAGES):
                query: dict[str, str | int] = {"pager.pagesz": LIST_PAGE_SIZE}
                if token:
                    query["pager.page_token"] = token
                data = await self._api.call("GET", f"/tasks?{urlencode(query)}", "find")
                page = task_from(ViduTaskList, data, "find")
                for task in page.tasks:
                    if task.payload == request.external_id and (task.id or task.task_id):
                        return task.id or task.task_id
                    unreadable += task.payload is None
                token = page.next_page_token
                if not token:
                    break
            else:
                raise _cannot_tell(f"more than {LIST_MAX_PAGES} pages of tasks")
            if unreadable:
                raise _cannot_tell(f"{unreadable} listed tasks show no payload")
            return None

        try:
            return await self._api.retrying("find", once)
        except ProviderError as err:
            err.may_have_created = True  # still unknown whether the task exists
            raise

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
        return await self._api.download_result(
            status, lambda: self.status(request, task_id), dest, on_progress
        )

    async def cancel(self, task_id: str) -> bool:
        """Stop a task nobody will receive (/forget); a refusal is logged, never raised."""
        path = f"/tasks/{quote(task_id, safe='')}/cancel"
        try:
            await self._api.call("POST", path, "cancel", {})
        except ProviderError as error:
            log.info("vidu: cancelling %s was refused: %s", task_id, error)
            return False
        return True

    # --- Before anything is sent ----------------------------------------------------------

    async def refusal(self, request: VideoRequest) -> StudioError | None:
        """Why Vidu would refuse `request`, in words for its user; None when it would not."""
        refused = self._words_refused(request)
        if refused is None:
            try:
                await asyncio.to_thread(frame_uris, request.image_path, request.image_tail_path)
            except ImageRefused as image:
                refused = StudioError(image.key, **image.params)
        return refused

    def _words_refused(self, request: VideoRequest) -> StudioError | None:
        model = request.model or self.model
        if model not in MODELS:
            return StudioError("vidu.model_unknown", model=model)
        limit = prompt_limit(model)
        if len(request.prompt) > limit:
            return StudioError(
                "vidu.prompt_too_long", model=model, length=len(request.prompt), limit=limit
            )
        return None

    # --- What one take may ask for (ModelRules): the draft shows what will be sent ---------

    def end_frame_mode(self, model: str, mode: str, sound: bool = False) -> str | None:
        """Every Vidu model ends on a last frame through start-end2video, in any mode and
        with sound on q3, so the draft keeps its mode; None for a model Vidu does not know."""
        return mode if model in MODELS else None

    def takes_sound(self, model: str, mode: str) -> bool:
        """q3 models make sound (in any mode); the others are silent."""
        return MODELS.get(model, False)

    def durations(self, model: str) -> tuple[int, ...]:
        """What duration_for sends as is: q1 5 s, 2.0 4 or 8 s, q2 1–8 s, q3 1–16 s."""
        return tuple(sorted({duration_for(model, d) for d in range(1, 17)}))

    def modes(self, model: str) -> tuple[str, ...]:
        """Vidu has no modes; std and pro are both sent at the model's resolution."""
        return ("std", "pro")

    async def build_body(self, request: VideoRequest) -> tuple[str, dict[str, Any]]:
        """The create's path and JSON for `request`; what Vidu would refuse raises INVALID.

        🎬 checked the same before the take was made; this catches what changed since.
        """
        refused = self._words_refused(request)
        try:
            images = await asyncio.to_thread(
                frame_uris, request.image_path, request.image_tail_path
            )
        except ImageRefused as image:
            refused = refused or StudioError(image.key, **image.params)
        if refused is not None:
            raise ProviderError(ErrorKind.INVALID, f"refused before sending: {refused.key}")
        model = request.model or self.model
        body: dict[str, Any] = {
            "model": model,
            "images": images,
            "prompt": request.prompt,
            "duration": duration_for(model, request.duration),
            "resolution": resolution_for(model),
            "movement_amplitude": MOVEMENT.get(request.camera_move, "auto"),
            "payload": request.external_id,  # how `find` recognises this task
        }
        if MODELS[model]:
            body["audio"] = request.sound or self.sound  # q3 adds sound unless told not to
        if request.callback_url:
            body["callback_url"] = request.callback_url
        path = "/start-end2video" if len(images) == 2 else "/img2video"
        return path, body


def _cannot_tell(why: str) -> ProviderError:
    return ProviderError(
        ErrorKind.UNKNOWN,
        f"find: cannot tell whether the create went through ({why}); not created again",
        may_have_created=True,
    )


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
