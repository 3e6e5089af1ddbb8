"""The interfaces the services talk to; providers and the chat front end implement them.

Kling, Vidu, the LLM and the offline defaults are interchangeable behind `PromptDrafter`,
`VideoProvider` and `StillMaker`, so adding a provider touches no handler and no service.

A video generation is split into submit / status / download rather than one long call
because a take is a database state machine: the runner saves the upstream task id right
after `submit`, and after a restart it carries on with `status` instead of paying twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.domain.errors import StudioError
from bot.domain.health import ModelAccess
from bot.domain.records import TakeRecord
from bot.domain.types import (
    ClipInfo,
    Delivery,
    Draft,
    DraftRequest,
    ProgressCallback,
    ProgressUpdate,
    RefineStep,
    TaskStatus,
    VideoRequest,
)


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


class DraftRestager(Protocol):
    """Keeps a draft's words in step with ⚙️ settings, whichever drafter wrote them."""

    def __call__(self, draft: Draft, camera_move: str, duration: int) -> Draft:
        """`draft` with its camera and timing words rewritten for changed ⚙️ settings."""
        ...


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


class StillMaker(Protocol):
    """Turns a photo into a clay picture, before a take animates it (🎨 Clay still)."""

    name: str  # "offline", "kling", "openai": also how a still is priced

    async def make(self, photo: Path, seed: int) -> bytes:
        """A clay-style JPEG of `photo`; `seed` varies it (🔄 Another)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class CancellableProvider(Protocol):
    """A provider with an endpoint to stop a task (Vidu); Kling has none."""

    async def cancel(self, task_id: str) -> bool:
        """Ask the provider to stop `task_id`; False when it refused or could not be asked."""
        ...


@runtime_checkable
class ModelRules(Protocol):
    """A provider whose models differ in what one take may ask for (Kling). The bot asks
    it before showing a price, so the take a user pays for is the one that is sent."""

    model: str

    def end_frame_mode(self, model: str, mode: str, sound: bool = False) -> str | None:
        """The mode a take with an end frame must use (`mode` when it takes one, else the
        cheapest that does); None when no mode of the model takes an end frame."""
        ...

    def takes_sound(self, model: str, mode: str) -> bool:
        """Whether the model makes native sound in this mode."""
        ...

    def durations(self, model: str) -> tuple[int, ...]:
        """Every duration in seconds the model accepts."""
        ...

    def modes(self, model: str) -> tuple[str, ...]:
        """The model's modes, cheapest first."""
        ...


def model_rules(provider: VideoProvider | None) -> ModelRules | None:
    """The provider's per-model rules, or None for one whose models all take the same."""
    return provider if isinstance(provider, ModelRules) else None


def take_sound(
    rules: ModelRules | None, model: str, mode: str, *, end_frame: bool, wanted: bool
) -> bool:
    """Whether a take makes native sound: the project wants it and the model makes it in
    this mode. An end frame the model cannot pair with sound (2.6) wins: the take is silent."""
    if not wanted or rules is None or not rules.takes_sound(model, mode):
        return False
    return not end_frame or rules.end_frame_mode(model, mode, True) == mode


async def cancel_upstream(provider: VideoProvider, task_id: str) -> bool:
    """Stop an upstream task where the provider allows; otherwise it is only dropped here."""
    if isinstance(provider, CancellableProvider):
        return await provider.cancel(task_id)
    return False


@runtime_checkable
class CheckedProvider(Protocol):
    """A provider that can say, before any budget is held or request sent, why it would refuse."""

    async def refusal(self, request: VideoRequest) -> StudioError | None:
        """What the user must change for `request` to be accepted; None when nothing."""
        ...


async def refusal_of(provider: VideoProvider, request: VideoRequest) -> StudioError | None:
    """Why `provider` would refuse `request`, where it can tell beforehand; else None."""
    if isinstance(provider, CheckedProvider):
        return await provider.refusal(request)
    return None


@runtime_checkable
class AccessCheckable(Protocol):
    """A provider that can prove its key works with a free call (`claymate doctor`)."""

    async def check_access(self) -> ModelAccess:
        """A cheap authenticated read, never a paid generation; raises ProviderError."""
        ...


class TakeObserver(Protocol):
    """How a take's life is shown to its user: Telegram messages, or the CLI's progress bar."""

    async def on_progress(self, take: TakeRecord, update: ProgressUpdate) -> None: ...

    async def deliver(self, take: TakeRecord) -> Delivery:
        """Hand the finished clip over; raises ProviderError when it cannot be."""
        ...

    async def on_finished(self, take: TakeRecord) -> None: ...


class TakeQueue(Protocol):
    """The job runner as the chat front end sees it: something to nudge when a take is due."""

    def wake(self) -> None:
        """A take was queued: look for work now instead of at the next tick."""
        ...


class Transcriber(Protocol):
    """Speech to text: a voice note becomes the words a user would have typed."""

    async def transcribe(self, audio: bytes, filename: str, language: str | None) -> str:
        """The words said in `audio` (`filename`'s extension names its format)."""
        ...


class Speaker(Protocol):
    """Text to speech: a shot's line read aloud for the film's narration."""

    async def speak(self, text: str, language: str) -> bytes:
        """`text` spoken, as an audio file's bytes (mp3)."""
        ...
