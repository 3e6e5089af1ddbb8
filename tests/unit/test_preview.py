"""The offline preview clip, the sample photo, and the offline video provider.

Clips are rendered small (240p and below, 1-2 s) and decoded with PyAV, so every claim
about the file (codec, sizes, frame pattern, faststart, label) is checked on real bytes.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import CAMERA_MOVES, ClipInfo, VideoRequest
from bot.media.preview import (
    LABEL_TEXT,
    Window,
    camera_window,
    frame_plan,
    label_patches,
    output_size,
    render_preview,
)
from bot.media.probe import probe_mp4
from bot.media.sample import sample_photo
from bot.providers.offline.video import OfflineVideoProvider

DURATION = 2
HEIGHT = 240


@dataclass
class Rendered:
    path: Path
    info: ClipInfo
    progress: list[float]
    frames: list[np.ndarray]  # decoded yuv420p planes, stacked as PyAV gives them


@pytest.fixture(scope="module")
def photo() -> bytes:
    return sample_photo(width=320, height=240)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


def _luma(frame: np.ndarray, height: int) -> np.ndarray:
    return frame[:height].astype(np.float32)


@pytest.fixture(scope="module")
def push_in(photo: bytes, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    path = tmp_path_factory.mktemp("preview") / "push_in.mp4"
    progress: list[float] = []
    info = render_preview(
        photo,
        path,
        duration_s=DURATION,
        height=HEIGHT,
        camera_move="push_in",
        on_progress=progress.append,
    )
    return Rendered(path, info, progress, _decode(path))


# --- the file ------------------------------------------------------------------------------


def test_stream_is_h264_yuv420p_at_the_asked_height(push_in: Rendered) -> None:
    with av.open(str(push_in.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.codec_context.height == HEIGHT
        assert stream.codec_context.width == 320  # 4:3 photo at 240 px high
        assert stream.codec_context.width % 2 == 0
        assert stream.average_rate == 24
        assert stream.frames == DURATION * 24


def test_clip_info_matches_the_file(push_in: Rendered) -> None:
    facts = probe_mp4(push_in.path)
    info = push_in.info
    assert info.preview is True
    assert info.path == push_in.path
    assert info.size_bytes == push_in.path.stat().st_size == facts.size_bytes
    assert (info.width, info.height) == (facts.width, facts.height) == (320, HEIGHT)
    assert info.duration_s == pytest.approx(DURATION, abs=0.05)
    assert not push_in.path.with_name(push_in.path.name + ".part").exists()


def test_frame_count_is_exactly_the_plan(push_in: Rendered) -> None:
    plan = frame_plan(DURATION, 12)
    assert (plan.stream_fps, plan.hold) == (24, 2)
    assert len(push_in.frames) == plan.frames == DURATION * 24


def test_poses_are_held_on_twos(push_in: Rendered) -> None:
    """Frames 2k and 2k+1 decode to the very same picture; every new pose differs."""
    frames = push_in.frames
    for k in range(0, len(frames), 2):
        assert np.array_equal(frames[k], frames[k + 1]), f"pose at frame {k} not held"
    for k in range(1, len(frames) - 1, 2):
        changed = np.abs(_luma(frames[k], HEIGHT) - _luma(frames[k + 1], HEIGHT)) > 12
        assert changed.mean() > 0.005, f"frame {k + 1} repeats the previous pose"


def test_moov_atom_comes_first(push_in: Rendered) -> None:
    data = push_in.path.read_bytes()
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    assert moov != -1 and mdat != -1
    assert moov < mdat


def test_container_metadata_marks_a_preview(push_in: Rendered) -> None:
    with av.open(str(push_in.path)) as container:
        assert "PREVIEW" in container.metadata.get("title", "")
        assert "PREVIEW" in container.metadata.get("comment", "")


def test_label_is_burnt_into_every_frame(push_in: Rendered) -> None:
    width = push_in.info.width
    luma_patch = label_patches((width, HEIGHT))[0]
    text = (luma_patch.value > 150) & (luma_patch.alpha > 0.6)  # the letters
    box = (luma_patch.alpha > 0.3) & (luma_patch.alpha < 0.45) & (luma_patch.value < 40)
    assert text.sum() > 30 and box.sum() > 30
    h, w = luma_patch.alpha.shape
    for frame in push_in.frames[:: len(push_in.frames) // 4]:
        region = _luma(frame, HEIGHT)[
            luma_patch.y : luma_patch.y + h, luma_patch.x : luma_patch.x + w
        ]
        assert region[text].mean() > 140  # light letters (small text blurs a little in H.264)
        assert region[text].mean() - region[box].mean() > 60
    assert LABEL_TEXT == "PREVIEW"


def test_push_in_zooms_towards_the_centre(push_in: Rendered) -> None:
    first = _luma(push_in.frames[0], HEIGHT)
    last = _luma(push_in.frames[-1], HEIGHT)
    assert np.abs(first - last).mean() > 5

    def error(zoom: float) -> float:
        h, w = first.shape
        cw, ch = w / zoom, h / zoom
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
        grown = Image.fromarray(first).resize((w, h), Image.Resampling.BILINEAR, box=box)
        margin = 12  # leave the corner label out of the comparison
        diff = np.abs(np.asarray(grown, np.float32) - last)[margin:-margin, margin:-margin]
        return float(diff[: h // 2].mean())

    zooms = [1.0 + 0.02 * i for i in range(16)]
    best = min(zooms, key=error)
    assert best >= 1.12  # the window shrinks by 1/1.22 over the clip
    assert error(best) < error(1.0) / 2


def test_progress_grows_to_one(push_in: Rendered) -> None:
    progress = push_in.progress
    assert progress[0] == 0.0
    assert progress[-1] == 1.0
    assert all(b > a for a, b in zip(progress, progress[1:], strict=False))
    assert len(progress) > 10  # a bar that moves, not just start and end


# --- camera moves --------------------------------------------------------------------------


@pytest.mark.parametrize("move", CAMERA_MOVES)
def test_every_move_renders_and_moves(photo: bytes, tmp_path: Path, move: str) -> None:
    info = render_preview(
        photo, tmp_path / f"{move}.mp4", duration_s=1, height=144, camera_move=move
    )
    frames = _decode(info.path)
    assert len(frames) == 24
    first, last = _luma(frames[0], 144), _luma(frames[-1], 144)
    moved = np.abs(first - last).mean()
    if move == "static":
        assert moved < 4  # only the boil
    else:
        assert moved > 4


FRAME = (1152, 864)
ASPECT = 4 / 3


def _window(move: str, t: float) -> Window:
    return camera_window(move, t, FRAME, ASPECT)


def test_camera_windows_move_the_right_way() -> None:
    assert _window("static", 0) == _window("static", 1)
    assert _window("push_in", 1).half_w < _window("push_in", 0).half_w
    assert _window("pull_out", 1).half_w > _window("pull_out", 0).half_w
    assert _window("pan_left", 1).cx < _window("pan_left", 0).cx
    assert _window("pan_right", 1).cx > _window("pan_right", 0).cx
    assert _window("tilt_up", 1).cy < _window("tilt_up", 0).cy
    assert _window("tilt_down", 1).cy > _window("tilt_down", 0).cy
    orbit0, orbit1 = _window("orbit", 0), _window("orbit", 1)
    assert orbit0.angle * orbit1.angle < 0  # rolls through level
    assert orbit0.cx != orbit1.cx


@pytest.mark.parametrize("move", CAMERA_MOVES)
def test_camera_windows_stay_inside_the_frame(move: str) -> None:
    for step in range(11):
        w = _window(move, step / 10)
        assert w.half_w / w.half_h == pytest.approx(ASPECT)
        ca, sa = abs(math.cos(w.angle)), abs(math.sin(w.angle))
        ext_x = w.half_w * ca + w.half_h * sa
        ext_y = w.half_w * sa + w.half_h * ca
        assert w.cx - ext_x >= 0 and w.cx + ext_x <= FRAME[0]
        assert w.cy - ext_y >= 0 and w.cy + ext_y <= FRAME[1]


def test_unknown_camera_move_is_refused(photo: bytes, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="camera move"):
        render_preview(photo, tmp_path / "x.mp4", duration_s=1, height=144, camera_move="zoom")
    assert not (tmp_path / "x.mp4").exists()


# --- frame plan and sizes --------------------------------------------------------------------


def test_frame_plan() -> None:
    assert frame_plan(5, 12) == frame_plan(5.0, 12)
    plan = frame_plan(5, 12)
    assert (plan.stream_fps, plan.hold, plan.frames, plan.poses) == (24, 2, 120, 60)
    plan = frame_plan(10, 12)
    assert (plan.frames, plan.poses) == (240, 120)
    plan = frame_plan(5, 24)
    assert (plan.stream_fps, plan.hold, plan.frames, plan.poses) == (24, 1, 120, 120)
    plan = frame_plan(2.5, 15)
    assert (plan.stream_fps, plan.hold, plan.frames, plan.poses) == (30, 2, 75, 38)
    with pytest.raises(ValueError):
        frame_plan(0, 12)
    with pytest.raises(ValueError):
        frame_plan(5, 0)


def test_output_size_follows_the_aspect_with_even_sides() -> None:
    assert output_size(1600, 1200, 720) == (960, 720)
    assert output_size(1920, 1080, 720) == (1280, 720)
    assert output_size(1080, 1920, 720) == (404, 720)
    assert output_size(1000, 1000, 481) == (480, 480)
    for w, h in ((333, 777), (1001, 999), (2500, 1000)):
        ow, oh = output_size(w, h, 241)
        assert ow % 2 == 0 and oh == 240
        assert ow / oh == pytest.approx(w / h, abs=2 / oh)


def test_portrait_photo_on_ones(tmp_path: Path) -> None:
    """fps above 15 is animated on ones: every frame is a new pose."""
    portrait = sample_photo(width=180, height=320)
    info = render_preview(
        portrait,
        tmp_path / "p.mp4",
        duration_s=1,
        fps=24,
        height=161,
        camera_move="tilt_up",
        seed=4,
    )
    assert (info.width, info.height) == (90, 160)
    with av.open(str(info.path)) as container:
        assert container.streams.video[0].average_rate == 24
    frames = _decode(info.path)
    assert len(frames) == 24
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))


def test_reads_a_path_and_is_deterministic_across_threads(photo: bytes, tmp_path: Path) -> None:
    """No shared state: concurrent renders give the same bytes as a lone one."""
    source = tmp_path / "photo.jpg"
    source.write_bytes(photo)

    def render(name: str) -> bytes:
        out = tmp_path / f"{name}.mp4"
        render_preview(
            source, out, duration_s=1, height=144, camera_move="orbit", seed=9, threads=1
        )
        return out.read_bytes()

    alone = render("alone")
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(render, ["a", "b", "c"]))
    assert all(clip == alone for clip in together)


def test_five_second_clip_stays_small(photo: bytes, tmp_path: Path) -> None:
    info = render_preview(photo, tmp_path / "five.mp4", height=240, camera_move="pan_left")
    assert info.duration_s == pytest.approx(5, abs=0.05)
    assert probe_mp4(info.path).frames == 120
    assert info.size_bytes < 1_000_000  # 720p lands around 1 MB; 240p far below


# --- the sample photo ------------------------------------------------------------------------


def test_sample_photo_is_a_jpeg_of_the_asked_size(tmp_path: Path) -> None:
    target = tmp_path / "demo" / "bund.jpg"
    data = sample_photo(target, width=400, height=300)
    assert target.read_bytes() == data
    assert data[:2] == b"\xff\xd8"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == (400, 300)
        rgb = np.asarray(image.convert("RGB"))
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 2000
    luma = np.asarray(Image.fromarray(rgb).convert("L"), np.float32)
    sky = luma[: 300 // 10].mean()
    river = luma[int(300 * 0.64) : int(300 * 0.82)].mean()
    assert sky > river + 15
    # the sky is blue and mostly smooth (a gradient with a few cloud edges, not noise)
    top = rgb[:30].astype(np.float32)
    assert top[..., 2].mean() > top[..., 0].mean() + 40
    assert np.median(np.abs(np.diff(top.mean(axis=2), axis=1))) < 1


def test_sample_photo_is_deterministic() -> None:
    assert sample_photo(width=200, height=150) == sample_photo(width=200, height=150)


def test_sample_photo_has_the_pearl_tower() -> None:
    """The pink spheres of the tower sit in the skyline, left of centre."""
    with Image.open(io.BytesIO(sample_photo(width=400, height=300))) as image:
        rgb = np.asarray(image.convert("RGB"), np.int32)
    pink = (rgb[..., 0] > 170) & (rgb[..., 1] < 110) & (rgb[..., 2] > 80) & (rgb[..., 2] < 170)
    ys, xs = np.nonzero(pink[:180])  # above the water line
    assert len(xs) > 100
    assert 0.25 < xs.mean() / 400 < 0.42


# --- the offline provider ----------------------------------------------------------------------


def _request(image: Path, **changes: object) -> VideoRequest:
    values: dict[str, object] = {
        "external_id": "3f1c2a9e-offline-test",
        "image_path": image,
        "prompt": "clay city",
        "duration": 5,
        "camera_move": "pan_right",
    }
    values.update(changes)
    return VideoRequest(**values)  # type: ignore[arg-type]


async def test_offline_provider_round_trip(photo: bytes, tmp_path: Path) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(photo)
    provider = OfflineVideoProvider(fps=12, height=144)
    assert (provider.name, provider.model) == ("offline", "clay-preview")
    request = _request(image)

    task_id = await provider.submit(request)
    assert task_id == "offline-3f1c2a9e-offline-test"
    assert await provider.find(request) == task_id
    status = await provider.status(request, task_id)
    assert status.state == "succeed"

    loop_thread = threading.get_ident()
    seen: list[tuple[float, int]] = []
    dest = tmp_path / "clips" / "take.mp4"
    clip = await provider.download(
        request, task_id, status, dest, lambda share: seen.append((share, threading.get_ident()))
    )
    await provider.aclose()

    assert clip.preview is True
    assert clip.path == dest and dest.exists()
    facts = probe_mp4(dest)
    assert (clip.width, clip.height) == (facts.width, facts.height) == (192, 144)
    assert facts.codec == "h264"
    assert clip.duration_s == pytest.approx(5, abs=0.05)
    assert facts.frames == 120
    shares = [share for share, _ in seen]
    assert shares[0] == 0.0 and shares[-1] == 1.0
    assert all(b > a for a, b in zip(shares, shares[1:], strict=False))
    # the render ran in a worker thread, but every update was handed to the loop's thread
    assert {thread for _, thread in seen} == {loop_thread}


async def test_offline_provider_keeps_the_loop_free(photo: bytes, tmp_path: Path) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(photo)
    provider = OfflineVideoProvider(height=144)
    request = _request(image, duration=5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await provider.download(
            request, "offline-x", await provider.status(request, "x"), tmp_path / "c.mp4"
        )
    finally:
        task.cancel()
    assert ticks >= 3


async def test_offline_provider_reports_a_bad_photo(tmp_path: Path) -> None:
    provider = OfflineVideoProvider(height=144)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    for image in (broken, tmp_path / "missing.jpg"):
        request = _request(image)
        status = await provider.status(request, "offline-x")
        with pytest.raises(ProviderError) as caught:
            await provider.download(request, "offline-x", status, tmp_path / "out.mp4")
        assert caught.value.kind is ErrorKind.INVALID
        assert not caught.value.retryable
    assert not (tmp_path / "out.mp4").exists()
