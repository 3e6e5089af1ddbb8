"""The two small interfaces every provider implements, and the values that cross them.

The pipeline talks only to `PromptDrafter` and `VideoProvider`. Kling, Vidu, the LLM and
the offline defaults are interchangeable behind them, so adding a provider touches no
handler and no pipeline step.

A video generation is split into submit / status / download rather than one long call
because a take is a database state machine: the runner saves the upstream task id right
after `submit`, and after a restart it carries on with `status` instead of paying twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

# Camera moves a user can pick. Providers map them onto their own camera language
# (Kling's camera_control, Vidu's movement, the offline renderer's pan/zoom).
CAMERA_MOVES: tuple[str, ...] = (
    "static",
    "push_in",
    "pull_out",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "orbit",
)
DURATIONS: tuple[int, ...] = (5, 10)
MODES: tuple[str, ...] = ("std", "pro")

# Kling's documented cap for prompt and negative_prompt (providers.md 1.4).
PROMPT_LIMIT = 2500


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """Simple facts read off a photo, for drafting without a vision model."""

    width: int
    height: int
    orientation: Literal["landscape", "portrait", "square"]
    brightness: float  # 0 (black) .. 1 (white), mean luma
    dominant_colours: tuple[str, ...]  # plain English colour names, most dominant first


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """Everything a drafter may look at to write a clay-animation prompt."""

    description: str
    facts: PhotoFacts | None = None
    photo_jpeg: bytes | None = None  # the video-ready JPEG, for vision models
    # The small copy made at intake; a vision model is sent it as it is, with no decoding.
    photo_llm_jpeg: bytes | None = None
    language: str | None = None  # "zh" or "en"; None: follow the description's language
    camera_move: str | None = None  # a user's explicit choice wins over the drafter's
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """One drafted or refined prompt, as stored in a PromptRevision."""

    prompt: str
    negative_prompt: str
    camera_move: str
    duration: int
    summary: str  # one line, for captions
    language: str  # "zh" or "en"
    drafter: str  # "offline" or "llm:<model>"
    tokens_in: int | None = None
    tokens_out: int | None = None


@dataclass(frozen=True, slots=True)
class RefineStep:
    """One earlier round of refinement, oldest first, so an LLM sees the whole story."""

    instruction: str
    prompt: str


class PromptDrafter(Protocol):
    name: str

    async def draft(self, request: DraftRequest) -> Draft:
        """Write a first prompt from a description (and the photo, if the drafter uses it)."""
        ...

    async def refine(
        self,
        request: DraftRequest,
        previous: Draft,
        instruction: str,
        history: tuple[RefineStep, ...] = (),
    ) -> Draft:
        """Rewrite `previous` following the user's `instruction`."""
        ...


@dataclass(frozen=True, slots=True)
class VideoRequest:
    """One image-to-video generation, reconstructable from the database at any time."""

    external_id: str  # our UUID, unique across the provider account; set before submit
    image_path: Path  # the video-ready JPEG (or the clay still)
    prompt: str
    negative_prompt: str = ""
    model: str = ""
    mode: str = "std"
    duration: int = 5
    camera_move: str = "static"
    cfg_scale: float | None = None
    image_tail_path: Path | None = None
    callback_url: str | None = None


TaskState = Literal["submitted", "processing", "succeed", "failed"]


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """Where an upstream task stands. `succeed` is Kling's spelling, kept on purpose."""

    state: TaskState
    progress: float | None = None  # 0..1 when the provider reports it
    message: str | None = None  # provider's failure reason (never shown raw to users)
    result_url: str | None = None
    content_rejected: bool = False  # failed on moderation: tell the user, never retry


@dataclass(frozen=True, slots=True)
class ClipInfo:
    path: Path
    size_bytes: int
    duration_s: float
    width: int
    height: int
    preview: bool = False  # made by the offline renderer: always labelled a preview


ProgressCallback = Callable[[float], None]


class VideoProvider(Protocol):
    name: str  # "kling", "vidu", "offline"
    model: str  # default model name for takes

    async def submit(self, request: VideoRequest) -> str:
        """Create the upstream task and return its id. Raises ProviderError."""
        ...

    async def find(self, request: VideoRequest) -> str | None:
        """The task id made for request.external_id, if a create call ever got through."""
        ...

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        """Poll once."""
        ...

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> ClipInfo:
        """Fetch (or, offline, render) the finished clip to `dest` and check it decodes."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class CancellableProvider(Protocol):
    """A provider with an endpoint to stop a task (Vidu); Kling has none."""

    async def cancel(self, task_id: str) -> bool:
        """Ask the provider to stop `task_id`; False when it refused or could not be asked."""
        ...


async def cancel_upstream(provider: VideoProvider, task_id: str) -> bool:
    """Stop an upstream task where the provider allows; otherwise it is only dropped here."""
    if isinstance(provider, CancellableProvider):
        return await provider.cancel(task_id)
    return False


class ErrorKind(StrEnum):
    """What a failure means for the user and for the retry policy."""

    AUTH = "auth"  # our keys are wrong: operator problem
    BALANCE = "balance"  # account out of credit: operator problem, never retried
    PERMISSION = "permission"  # model or API not allowed for this account
    RATE_LIMITED = "rate_limited"  # retry with backoff
    BUSY = "busy"  # concurrency cap reached: retry with backoff
    INVALID = "invalid"  # request rejected: fix or report, not retried as-is
    CONTENT = "content"  # moderation: tell the user in plain words, never retried
    TRANSIENT = "transient"  # 5xx, timeouts, connection errors: bounded retries
    EXPIRED = "expired"  # the result URL is gone
    TIMEOUT = "timeout"  # the task did not finish within our deadline
    TOO_LARGE = "too_large"  # the finished clip is over the chat's upload limit
    REJECTED = "rejected"  # Telegram refused the finished clip (a Bad Request): not retried
    UNKNOWN = "unknown"


RETRYABLE_KINDS = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.BUSY, ErrorKind.TRANSIENT})


@dataclass(slots=True)
class ProviderError(Exception):
    """A provider call failed. `detail` is for operators' logs; users see `kind` rendered."""

    kind: ErrorKind
    detail: str = ""
    code: int | None = None
    retry_after: float | None = None
    may_have_created: bool = False  # a create that timed out: look up by external id first
    extra: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        code = f" code={self.code}" if self.code is not None else ""
        return f"{self.kind.value}{code}: {self.detail}"

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS
