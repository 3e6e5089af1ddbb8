"""The next shot starts from the last frame of the kept take: the very last one, found by
decoding only the clip's end."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bot.media.lastframe import JPEG_QUALITY, last_frame, provider_frame_path
from bot.media.probe import ClipError


def clip_with_keyframes(path: Path, *, frames: int = 120, gop: int = 12) -> Path:
    """A 24 fps clip whose frame `i` is grey level `2 * i`, a keyframe every `gop` frames."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(gop), "keyint_min": str(gop)}
        for index in range(frames):
            image = np.full((240, 320, 3), 2 * index, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 24)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def every_frame_last(path: Path) -> bytes:
    """The last frame found the slow way, decoding everything, encoded as last_frame does."""
    with av.open(str(path)) as container:
        *_, final = container.decode(video=0)
    out = io.BytesIO()
    final.to_image().save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def test_the_last_frame_is_the_clips_final_frame_and_only_the_end_is_decoded(
    tmp_path: Path,
) -> None:
    clip = clip_with_keyframes(tmp_path / "take.mp4")
    frame = last_frame(clip)
    assert frame.jpeg == every_frame_last(clip)
    assert (frame.width, frame.height) == (320, 240)
    grey = np.asarray(Image.open(io.BytesIO(frame.jpeg)).convert("L")).mean()
    assert abs(grey - 2 * 119) < 4  # frame 119, the final one
    # From the last keyframe before the final second: at most 24 + 12 of 120 frames.
    assert 1 <= frame.decoded <= 36


def test_a_clip_shorter_than_the_tail_is_decoded_whole(tmp_path: Path) -> None:
    clip = clip_with_keyframes(tmp_path / "short.mp4", frames=10)
    frame = last_frame(clip)
    assert frame.decoded == 10 and frame.jpeg == every_frame_last(clip)


def test_a_file_that_is_not_a_clip_is_a_clip_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ClipError):
        last_frame(bogus)


def test_a_providers_frame_lives_beside_its_clip() -> None:
    assert provider_frame_path(Path("/data/clips/abc.mp4")) == Path("/data/clips/abc.last")
