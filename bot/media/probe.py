"""Facts about finished clips, read with PyAV, so we never hand users a file that won't play."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


class ClipError(Exception):
    """The file is not a playable video."""


@dataclass(frozen=True, slots=True)
class VideoFacts:
    duration_s: float
    width: int
    height: int
    codec: str
    fps: float
    frames: int  # as declared by the container (0 when unknown)
    size_bytes: int


def probe_mp4(path: Path, *, decode_first_frame: bool = True) -> VideoFacts:
    """Open `path` as a video and read its stream facts; decode one frame to prove it plays."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ClipError("no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = 0.0
            if decode_first_frame:
                next(container.decode(stream))
            rate = stream.average_rate or stream.guessed_rate
            return VideoFacts(
                duration_s=round(duration, 3),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
                fps=float(rate) if rate else 0.0,
                frames=stream.frames or 0,
                size_bytes=path.stat().st_size,
            )
    except ClipError:
        raise
    except (av.FFmpegError, StopIteration, OSError, ValueError) as exc:
        raise ClipError(f"not a playable video: {type(exc).__name__}") from exc
