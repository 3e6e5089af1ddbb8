"""The values that cross the application's boundaries: requests, drafts, statuses, clips.

Plain frozen dataclasses with no Telegram, SQL or HTTP in them, so services, media
functions and providers can all share them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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


@dataclass(frozen=True, slots=True)
class Still:
    """A clay still made of a shot's photo: numbered, priced, ready to 🎬 Animate."""

    shot_id: int
    revision_id: int  # the draft it was made for; its buttons name this
    number: int
    path: Path
    maker: str  # the StillMaker's name
    cost_units: float


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking, and in which chat."""

    user_id: int
    chat_id: int
    chat_type: str = "private"
    lang: str = "en"

    @property
    def is_group(self) -> bool:
        return self.chat_type in ("group", "supergroup")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a photo came from in the chat, so every answer can reply to it."""

    chat_id: int | None = None
    message_id: int | None = None
    thread_id: int | None = None
    file_id: str | None = None
    media_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent an update and where, as Telegram describes them."""

    user_id: int
    chat_id: int
    chat_type: str = "private"
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None
    chat_title: str | None = None
