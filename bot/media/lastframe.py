"""A clip's last frame, where the next shot of a story starts.

Only the end of the clip is decoded: a seek lands on the last keyframe before the final
second, and decoding runs from there to the end. A clip whose seek finds nothing (a
broken index) is decoded from the start instead.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from bot.domain.types import PhotoFacts
from bot.media.intake import llm_jpeg, read_facts
from bot.media.probe import ClipError

JPEG_QUALITY = 95
TAIL_S = 1.0  # seek this far before the end: the final frame is after that point
# A provider's own last frame (Seedance's return_last_frame) is kept beside the clip.
PROVIDER_FRAME_SUFFIX = ".last"


@dataclass(frozen=True, slots=True)
class LastFrame:
    """The frame as JPEG, its size, and how many frames were decoded to find it."""

    jpeg: bytes
    width: int
    height: int
    decoded: int


def provider_frame_path(clip_path: Path) -> Path:
    """Where a clip's provider-made last frame is kept, if its provider returned one."""
    return clip_path.with_name(clip_path.stem + PROVIDER_FRAME_SUFFIX)


def last_frame(path: Path) -> LastFrame:
    """The last frame of the clip at `path` as JPEG; blocking (call it on a thread)."""
    try:
        found = _decode_tail(path, seek=True) or _decode_tail(path, seek=False)
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise ClipError(f"{path.name}: {type(error).__name__}") from error
    if found is None:
        raise ClipError(f"{path.name}: no video frames")
    frame, decoded = found
    image = frame.to_image()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return LastFrame(out.getvalue(), image.width, image.height, decoded)


@dataclass(frozen=True, slots=True)
class StartFrame:
    """A frame as a new shot's photo: its bytes unchanged, and what drafting reads of it."""

    data: bytes
    width: int
    height: int
    source_format: str
    facts: PhotoFacts
    llm_jpeg: bytes


def start_frame(data: bytes) -> StartFrame:
    """Describe a frame's bytes (ours, or a provider's PNG) for a shot that starts there;
    OSError if they are no picture."""
    with Image.open(io.BytesIO(data)) as opened:
        fmt = opened.format or "JPEG"
        image = opened.convert("RGB")
    return StartFrame(data, image.width, image.height, fmt, read_facts(image), llm_jpeg(image))


def _decode_tail(path: Path, *, seek: bool) -> tuple[av.VideoFrame, int] | None:
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if seek:
            end_s = _duration_s(container, stream)
            if end_s is None or end_s <= TAIL_S or stream.time_base is None:
                return None if end_s is None else _decode_tail_from_start(container, stream)
            target = int((end_s - TAIL_S) / stream.time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
        return _decode_tail_from_start(container, stream)


def _decode_tail_from_start(
    container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[av.VideoFrame, int] | None:
    last, decoded = None, 0
    for frame in container.decode(stream):
        last, decoded = frame, decoded + 1
    return None if last is None else (last, decoded)


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
