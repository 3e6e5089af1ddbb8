"""What goes over the wire to and from Kling: typed request and response shapes.

Answers come as `{code, message, request_id, data}`; `read_answer` turns one into the
shared `Answer` the HTTP plumbing classifies with Kling's error table. Tasks arrive the
same way from create, query and callbacks, so `parse_callback` reads them too.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.domain.types import TaskStatus
from bot.providers.http import Answer, task_from
from bot.providers.kling.camera import CameraControl

log = logging.getLogger(__name__)

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
    final_unit_deduction: str | None = None  # KDOC26: a string of units actually charged

    @field_validator("final_unit_deduction", mode="before")
    @classmethod
    def _units_as_str(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

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


class Image2VideoBody(BaseModel):
    """The create request; `None` fields are left out of the JSON."""

    model_name: str  # always sent: the default, kling-v1, is retired
    mode: Literal["std", "pro", "4k"]
    duration: str  # a STRING on the wire; the model's range is checked in capabilities.py
    image: str  # raw base64, no data: prefix
    image_tail: str | None = None
    sound: Literal["on", "off"] | None = None  # only to models that make sound
    prompt: str | None = None
    negative_prompt: str | None = None
    cfg_scale: float | None = None  # v1.x models only
    camera_control: CameraControl | None = None
    callback_url: str | None = None
    external_task_id: str

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class KlingImage(_Lenient):
    url: str | None = None


class KlingImageResult(_Lenient):
    images: list[KlingImage] = []


class KlingImageTask(_Lenient):
    """An image-generation task; polls may leave out the task id."""

    task_id: str | None = None
    task_status: str | None = None
    task_status_msg: str | None = None
    task_result: KlingImageResult | None = None

    @field_validator("task_id", mode="before")
    @classmethod
    def _id_as_str(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @property
    def image_url(self) -> str | None:
        images = self.task_result.images if self.task_result else []
        return images[0].url if images and images[0].url else None


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
    """True when a failed task's message blames moderation or risk control."""
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
        charged_units=charged_units_of(task) if state in ("succeed", "failed") else None,
    )


def charged_units_of(task: KlingTask) -> float | None:
    """`final_unit_deduction` as a number: the authoritative cost (providers.md 1.6)."""
    raw = (task.final_unit_deduction or "").strip()
    try:
        units = float(raw)
    except ValueError:
        if raw:
            log.warning("kling: task %s has an unreadable final_unit_deduction", task.task_id)
        return None
    return units if math.isfinite(units) and units >= 0 else None


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


# --- Answers -----------------------------------------------------------------------------


def read_answer(resp: httpx.Response, op: str) -> Answer:
    """Kling's envelope as an Answer: `code` 0 on a 2xx is success, anything else an error."""
    envelope = _envelope_of(resp)
    return Answer(
        ok=envelope.code == 0 and resp.is_success,
        data=envelope.data,
        code=envelope.code,
        message=envelope.message or "",
        request_id=envelope.request_id,
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


def task_of(data: Any, op: str) -> KlingTask:
    """A video task from an answer's data; an unexpected shape is UNKNOWN."""
    return task_from(KlingTask, data, op)


def image_task_of(data: Any, op: str) -> KlingImageTask:
    """An image task from an answer's data; an unexpected shape is UNKNOWN."""
    return task_from(KlingImageTask, data, op)
