"""The keyless video provider: renders a labelled clay preview on this machine.

It plays the same submit / status / download game as the real providers so the runner,
the database state machine and the handlers need no special case. The "task" is a pure
function of the request, so it always exists, is always finished, and `find` can always
name it: a restart simply renders again.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from pathlib import Path

from PIL import UnidentifiedImageError

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import ClipInfo, ProgressCallback, TaskStatus, VideoRequest
from bot.media.preview import render_preview
from bot.media.probe import ClipError


class OfflineVideoProvider:
    """A VideoProvider whose clips are CPU-rendered clay previews (always `preview=True`)."""

    name = "offline"
    model = "clay-preview"
    renders_locally = True  # the runner says "rendering", not "downloading"

    def __init__(self, *, fps: int = 12, height: int = 720, encoder_threads: int = 0) -> None:
        self.fps = fps
        self.height = height
        self.encoder_threads = encoder_threads

    async def submit(self, request: VideoRequest) -> str:
        """Nothing to create upstream: the id is derived from our own external id."""
        return self._task_id(request)

    async def find(self, request: VideoRequest) -> str | None:
        return self._task_id(request)

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        return TaskStatus(state="succeed", progress=1.0)

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> ClipInfo:
        """Render the preview in a worker thread; the clip is checked with probe_mp4.

        The CPU work runs in `asyncio.to_thread`, so the event loop keeps serving other
        chats. Progress is produced in that worker thread but `on_progress` is always
        called on the event loop's thread (each update is handed over with
        `call_soon_threadsafe`), in order, and all of them before this method returns;
        the callback may therefore touch asyncio objects, and should be quick.
        """
        loop = asyncio.get_running_loop()
        forward: ProgressCallback | None = None
        if on_progress is not None:
            # Calls call_soon_threadsafe(on_progress, fraction); mypy loses *args in partial.
            forward = functools.partial(loop.call_soon_threadsafe, on_progress)  # type: ignore[assignment,arg-type]
        try:
            clip = await asyncio.to_thread(
                render_preview,
                request.image_path,
                dest,
                duration_s=request.duration,
                fps=self.fps,
                height=self.height,
                camera_move=request.camera_move,
                seed=zlib.crc32(request.external_id.encode()),
                on_progress=forward,
                threads=self.encoder_threads,
                prompt=request.prompt,
                aspect=request.aspect,
            )
        except (FileNotFoundError, UnidentifiedImageError, ValueError, ClipError) as exc:
            raise ProviderError(
                ErrorKind.INVALID, f"offline render of {task_id}: {type(exc).__name__}: {exc}"
            ) from exc
        except OSError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"offline render of {task_id}: {type(exc).__name__}: {exc}"
            ) from exc
        # render_preview has already opened the file with probe_mp4 and decoded a frame.
        return clip

    async def aclose(self) -> None:
        return None

    @staticmethod
    def _task_id(request: VideoRequest) -> str:
        return f"offline-{request.external_id}"
