"""The values that cross the application's boundaries: requests, drafts, statuses, clips,
and the views of stored rows that handlers render.

Plain dataclasses with no Telegram, SQL or HTTP in them, so services, media functions,
providers and handlers can all share them. Views hold rows as the read-only records of
bot.domain.records, never as storage's models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from bot.domain.records import (
    ProjectRecord,
    RevisionRecord,
    ShotRecord,
    TakeRecord,
)
from bot.domain.states import TakeState

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


def offered_durations(accepted: tuple[int, ...]) -> tuple[int, ...]:
    """The durations ⚙️ offers for a model that accepts `accepted` seconds: the usual 5
    and 10 where it takes them, and its longest where that is longer (15 s on Kling 3.0).
    A phone's keyboard has room for three; every second in between would not help."""
    usual = tuple(d for d in DURATIONS if d in accepted)
    longest = max(accepted, default=0)
    extra = (longest,) if longest > max(DURATIONS) or not usual else ()
    return usual + extra


def nearest_duration(wanted: int, offered: tuple[int, ...]) -> int:
    """The offered duration closest to `wanted` (the shorter on a tie: never dearer)."""
    return min(offered, key=lambda d: (abs(d - wanted), d)) if offered else wanted


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
    sound: bool = False  # native audio, where the model makes it (Kling v2-6, v3)
    # The shot's shape ("16:9", "9:16", "1:1"); None: the photo's own, as before shapes.
    aspect: str | None = None


TaskState = Literal["submitted", "processing", "succeed", "failed"]


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """Where an upstream task stands. `succeed` is Kling's spelling, kept on purpose."""

    state: TaskState
    progress: float | None = None  # 0..1 when the provider reports it
    message: str | None = None  # provider's failure reason (never shown raw to users)
    result_url: str | None = None
    content_rejected: bool = False  # failed on moderation: tell the user, never retry
    # The clip's last frame where the provider returns it (Seedance): a later shot can start
    # from it, so shots chain without a visible cut.
    last_frame_url: str | None = None
    # What the provider says it actually charged for a finished task (Kling's
    # final_unit_deduction, resource-pack units); None when it doesn't say.
    charged_units: float | None = None


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


# --- what a use case answers with ---------------------------------------------------------


class Verdict(Enum):
    """The allowlist's answer for one sender."""

    ADMIT = "admit"
    REFUSE = "refuse"  # tell them once
    SILENT = "silent"  # already told


@dataclass(frozen=True, slots=True)
class ProjectShape:
    """The shape of a chat's current project as one update found it.

    The gate reads it with the chat's row, so a photo's intake, which cuts the photo to
    it before the draft, needs no transaction of its own to learn it.
    """

    aspect: str | None  # None: no project yet, or one that keeps each photo's own shape


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer for one update, before any handler runs."""

    duplicate: bool  # Telegram delivered it before (a restart, a second instance)
    verdict: Verdict = Verdict.ADMIT
    actor: Actor | None = None  # the sender, recorded, when the gate was asked to
    shape: ProjectShape | None = None  # read with the sender's chat, when it was recorded


@dataclass(frozen=True, slots=True)
class Allowance:
    """What Generate would cost and what the tightest quota leaves (None: unlimited)."""

    cost: float
    left: float | None

    @property
    def enough(self) -> bool:
        return self.left is None or self.cost <= self.left + 1e-9


@dataclass(frozen=True, slots=True)
class DraftView:
    """What a draft message shows, read in one unit of work: the revision, its shot and
    project, what 🎬 Generate would cost, and whether a clay still comes first."""

    revision: RevisionRecord
    shot: ShotRecord
    project: ProjectRecord
    allowance: Allowance
    still_first: bool = False  # the chat shows a clay still for approval before paying
    # The project's sound choice, where the draft's model makes sound; None: no toggle.
    sound: bool | None = None
    # What ⚙️ offers for the draft's model (Kling 3.0: up to 15 s and 4K).
    durations: tuple[int, ...] = DURATIONS
    modes: tuple[str, ...] = MODES


@dataclass(slots=True)
class ShotOutcome:
    """A photo taken in: its shot, its first draft if it had words, and intake's notes."""

    shot: ShotRecord
    draft: DraftView | None  # None: the photo waits for its description
    notes: tuple[tuple[str, dict[str, Any]], ...] = ()
    framed: bytes | None = None  # a small JPEG of the photo as cut to the project's shape

    @property
    def revision(self) -> RevisionRecord | None:
        return self.draft.revision if self.draft else None


@dataclass(frozen=True, slots=True)
class Recaption:
    """What an edited photo caption did to its shot."""

    shot: ShotRecord
    revision: RevisionRecord | None  # a new draft; None: only the description changed
    changed: bool  # False: the new caption was empty, so nothing changed


@dataclass(frozen=True, slots=True)
class StillChoice:
    """🎬 Animate this / 📷 Use the original: the picture a take of the shot animates."""

    shot_id: int
    path: str | None  # None: the original photo


@dataclass(frozen=True, slots=True)
class TakeRequest:
    """🎬 Generate's answer: the take, and whether this press made it."""

    take: TakeRecord
    created: bool  # False when an identical request was already queued (double tap)


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """One step of a take as its status message shows it."""

    phase: TakeState  # queued, submitted, rendering, downloading or delivering
    elapsed_s: float
    progress: float | None = None
    queue_position: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a finished clip went in the chat (None for both: nowhere, as on the CLI)."""

    message_id: int | None
    file_id: str | None


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """A line of /projects: a project and how much is in it."""

    project: ProjectRecord
    shots: int
    clips: int


@dataclass(slots=True)
class ShotView:
    """One shot of an opened project, with its clips."""

    shot: ShotRecord
    revision: RevisionRecord | None
    kept: TakeRecord | None
    delivered: list[TakeRecord] = field(default_factory=list)


@dataclass(slots=True)
class ProjectView:
    """An opened project: its shots in order."""

    project: ProjectRecord
    shots: list[ShotView]


@dataclass(frozen=True, slots=True)
class BoardShot:
    """One shot as the board shows it."""

    shot: ShotRecord
    image_path: Path  # the chosen clay still, else the photo
    words: str  # a short summary of its action (its draft's caption line, or description)
    clip: TakeRecord | None  # kept take, else the latest delivered one
    kept: bool
    stars: int | None  # ⭐ votes for its clip, None where votes are not kept
    frame_clip: Path | None = None  # the kept take's clip: its first frame is the tile

    @property
    def number(self) -> int:
        return self.shot.position


@dataclass(frozen=True, slots=True)
class Board:
    """The story as a whole: a project's shots in order."""

    project: ProjectRecord
    shots: list[BoardShot]
