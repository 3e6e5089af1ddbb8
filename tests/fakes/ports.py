"""In-memory fakes of the ports the use cases talk to: a drafter, a video provider, an
observer. Each records what it was asked, so a test can say what the use case did."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class FakeDrafter:
    """Writes a prompt at once: the description for a draft, the old prompt plus the
    instruction for a refinement."""

    name: str = "fake"
    drafts: list[DraftRequest] = field(default_factory=list)
    refinements: list[tuple[str, str, tuple[RefineStep, ...]]] = field(default_factory=list)

    async def draft(self, request: DraftRequest) -> Draft:
        self.drafts.append(request)
        return _draft(f"clay {request.description}", request)

    async def refine(
        self,
        request: DraftRequest,
        previous: Draft,
        instruction: str,
        history: tuple[RefineStep, ...] = (),
    ) -> Draft:
        self.refinements.append((previous.prompt, instruction, history))
        return _draft(f"{previous.prompt}; {instruction}", request)


def _draft(prompt: str, request: DraftRequest) -> Draft:
    return Draft(
        prompt=prompt,
        negative_prompt="blurry",
        camera_move=request.camera_move or "static",
        duration=request.duration or 5,
        summary=prompt[:40],
        language="en",
        drafter="fake",
    )


@dataclass
class FakeVideo:
    """A provider whose tasks finish at once, with a small file as the clip."""

    name: str = "kling"
    model: str = "fake-model"
    submitted: list[str] = field(default_factory=list)  # external ids, in order
    images: list[bytes] = field(default_factory=list)  # each submitted start image
    clip: bytes | None = None  # what a finished task downloads (None: a few fake bytes)

    async def submit(self, request: VideoRequest) -> str:
        self.submitted.append(request.external_id)
        self.images.append(request.image_path.read_bytes())  # noqa: ASYNC240 (a test)
        return f"task-{len(self.submitted)}"

    async def find(self, request: VideoRequest) -> str | None:
        return None

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        return TaskStatus("succeed", progress=1.0, result_url="memory://clip")

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> ClipInfo:
        clip = self.clip or b"\x00\x00\x00\x18ftypmp42" + b"clip" * 64
        dest.write_bytes(clip)  # noqa: ASYNC240 (a few bytes, in a test)
        return ClipInfo(dest, len(clip), 5.0, 640, 480)

    async def aclose(self) -> None:
        return None


@dataclass
class FakeObserver:
    """What a user would have seen of each take: its phases, its clip, how it ended."""

    phases: list[tuple[int, str]] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    finished: dict[int, str] = field(default_factory=dict)

    async def on_progress(self, take: TakeRecord, update: ProgressUpdate) -> None:
        self.phases.append((take.id, update.phase))

    async def deliver(self, take: TakeRecord) -> Delivery:
        self.delivered.append(take.id)
        return Delivery(message_id=100 + take.id, file_id=f"file-{take.id}")

    async def on_finished(self, take: TakeRecord) -> None:
        self.finished[take.id] = take.status
