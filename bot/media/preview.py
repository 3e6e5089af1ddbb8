"""The offline preview: a short clay-animation clip rendered on the CPU from one photo.

Design, so the clip feels hand-made yet renders faster than real time on one core:

* Stylise once. The photo becomes plasticine (`clay.clay_layers`) at `_MARGIN` times the
  output size, so the camera has room to move inside it.
* Boil from a few takes. Hand-made animation never holds perfectly still: between two
  poses the animator's hands leave the clay a little different. We light the clay with
  `_TAKES` fresh patterns of fingertip marks (`clay.retouch`) and warp each with a small
  random mesh displacement and exposure nudge; every pose picks one of these takes at
  random (never the same twice running).
* Move what the prompt moves. When the prompt's main action has a direction (boats
  drift, smoke rises, water shimmers: `motion.motion_from_prompt`), a band of the
  picture moves that way over the clip (`motion.moved`), on top of the camera move.
* Animate "on twos". Stop-motion is shot at 12 poses a second, each held for two frames of
  a 24 fps film. `fps` is poses per second; up to 15 the stream runs at twice that and
  frames 2k and 2k+1 are the same picture; above 15 each pose is one frame ("on ones").
  `frame_plan` is the exact rule, and the tests hold it to it. The held frame is coded
  as an all-skip P-frame (x264 zones force QP 51 on it, and B-frames are off so nothing
  is interpolated between two poses), so decoders show exactly the same picture twice
  and a held frame costs about 26 bytes.
* Move the camera by a crop window path over the take (`camera_window`): push in, pull
  out, pan, tilt, or an orbit-like arc with a slight roll. Crop, scale and the RGB to
  YUV conversion happen in one swscale call; only the rolling orbit needs a Pillow warp.
* Encode with PyAV/libx264 the way phones like it: yuv420p, even sizes, H.264 High,
  moov atom first (faststart), CRF with a bitrate cap.
* Label it. A small "PREVIEW" tag is burnt into the corner of every frame and the MP4's
  title/comment say so, so a preview is never mistaken for a video-model clip.

No global state: `render_preview` is safe to run in worker threads, several at once.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageOps

from bot.domain.aspect import canvas
from bot.domain.types import CAMERA_MOVES, ClipInfo
from bot.media.clay import clay_layers, retouch
from bot.media.fonts import load_font
from bot.media.motion import Motion, motion_from_prompt, moved
from bot.media.probe import probe_mp4

PREVIEW_TITLE = "Claymate PREVIEW"
PREVIEW_COMMENT = "PREVIEW: offline clay look, not the video model"
LABEL_TEXT = "PREVIEW"

_MARGIN = 1.2  # the stylised frame is this much larger than the output
_EDGE_PAD = 0.01  # share of the frame the camera window keeps clear of, on each side
_MESH_CELL = 64  # boil mesh cell size, in stylised-frame pixels
_TAKES = 4  # boil takes the poses choose from
_BOIL_PX = 1.3  # boil displacement at 720p, in output pixels
_FLICKER = 0.012  # exposure difference between takes, +/- share
_CRF = 23
_PRESET = "superfast"  # veryfast costs ~0.5 s more per 5 s clip for ~30% fewer bytes
_MAXRATE = "4M"  # caps a busy photo: 5 s stays a few MB at most

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class FramePlan:
    """How poses map onto encoded frames."""

    stream_fps: int  # frames per second in the file
    hold: int  # encoded frames per pose (2 = on twos)
    frames: int  # encoded frames in total
    poses: int  # distinct pictures in total


def frame_plan(duration_s: float, fps: int) -> FramePlan:
    """Poses at `fps` a second; on twos (each pose held 2 frames) up to 15 poses a second."""
    if fps < 1:
        raise ValueError("fps must be at least 1")
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    hold = 2 if fps <= 15 else 1
    stream_fps = fps * hold
    frames = max(hold, round(duration_s * stream_fps))
    return FramePlan(stream_fps, hold, frames, math.ceil(frames / hold))


def output_size(width: int, height: int, out_height: int) -> tuple[int, int]:
    """Width following the photo's aspect at `out_height`; both even (yuv420p needs it)."""
    if out_height < 16:
        raise ValueError("height too small")
    h = out_height - out_height % 2
    w = max(2, round(h * width / height / 2) * 2)
    return w, h


@dataclass(frozen=True, slots=True)
class Window:
    """The camera's view of the stylised frame: centre, half-size, roll (radians)."""

    cx: float
    cy: float
    half_w: float
    half_h: float
    angle: float = 0.0


def _ease(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def camera_window(move: str, t: float, frame: tuple[int, int], aspect: float) -> Window:
    """Where the camera looks at time `t` (0..1) for `move`, in stylised-frame pixels."""
    if move not in CAMERA_MOVES:
        raise ValueError(f"unknown camera move {move!r}")
    fw, fh = frame
    # The largest window with the output's aspect that fits, less the edge pad.
    full_h = min(fh, fw / aspect) * (1 - 2 * _EDGE_PAD)
    e = _ease(min(1.0, max(0.0, t)))
    cx, cy, zoom, angle = fw / 2, fh / 2, 1.1, 0.0
    if move == "push_in":
        zoom = 1.0 + 0.22 * e
    elif move == "pull_out":
        zoom = 1.22 - 0.22 * e
    elif move in ("pan_left", "pan_right", "tilt_up", "tilt_down"):
        zoom = 1.16
        sign = -1.0 if move in ("pan_left", "tilt_up") else 1.0
        travel = sign * (2 * e - 1)  # -1 .. 1 across the room the zoom leaves
        if move.startswith("pan"):
            cx += travel * (fw - full_h * aspect / zoom) / 2
        else:
            cy += travel * (fh - full_h / zoom) / 2
    elif move == "orbit":
        # A slow arc around the subject: a sideways sweep, a lift and a slight roll.
        zoom = 1.18
        phase = (2 * e - 1) * (math.pi / 2)
        cx += math.sin(phase) * fw * 0.06
        cy -= math.cos(phase) * fh * 0.025
        angle = math.radians(-2.5) * math.sin(phase)
    half_h = full_h / zoom / 2
    return _clamp(Window(cx, cy, half_h * aspect, half_h, angle), fw, fh)


def _clamp(w: Window, fw: int, fh: int) -> Window:
    """Keep the (rolled) window inside the frame, off the edge pad."""
    ca, sa = abs(math.cos(w.angle)), abs(math.sin(w.angle))
    ext_x = w.half_w * ca + w.half_h * sa
    ext_y = w.half_w * sa + w.half_h * ca
    lo_x, hi_x = ext_x + fw * _EDGE_PAD, fw - ext_x - fw * _EDGE_PAD
    lo_y, hi_y = ext_y + fh * _EDGE_PAD, fh - ext_y - fh * _EDGE_PAD
    cx = fw / 2 if lo_x > hi_x else min(max(w.cx, lo_x), hi_x)
    cy = fh / 2 if lo_y > hi_y else min(max(w.cy, lo_y), hi_y)
    return Window(cx, cy, w.half_w, w.half_h, w.angle)


def boil_takes(
    stills: list[Image.Image], amplitude: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """One take per still, each warped a little differently (mesh jitter, exposure)."""
    w, h = stills[0].size
    cols, rows = max(2, round(w / _MESH_CELL)), max(2, round(h / _MESH_CELL))
    xs, ys = np.linspace(0, w, cols + 1), np.linspace(0, h, rows + 1)
    gx, gy = np.meshgrid(xs, ys)
    takes = []
    for still in stills:
        jx = rng.uniform(-amplitude, amplitude, gx.shape)
        jy = rng.uniform(-amplitude, amplitude, gy.shape)
        jx[:, (0, -1)] = 0  # the frame's own edges stay put: nothing is sampled outside
        jy[(0, -1), :] = 0
        sx, sy = gx + jx, gy + jy
        mesh = []
        for j in range(rows):
            for i in range(cols):
                box = (int(xs[i]), int(ys[j]), int(xs[i + 1]), int(ys[j + 1]))
                corners = ((j, i), (j + 1, i), (j + 1, i + 1), (j, i + 1))
                quad = tuple(float(v) for c in corners for v in (sx[c], sy[c]))
                mesh.append((box, quad))
        take = still.transform((w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
        gain = 1.0 + rng.uniform(-_FLICKER, _FLICKER)
        lut = [min(255, round(v * gain)) for v in range(256)] * 3
        takes.append(np.asarray(take.point(lut)))
    return takes


def pose_frame(take: np.ndarray, window: Window, out: tuple[int, int]) -> av.VideoFrame:
    """The camera's view of one take as a yuv420p frame of size `out`."""
    if window.angle == 0.0:
        return _scaled(take, window.cx, window.cy, window.half_w, window.half_h, out)
    return _rolled(take, window, out)


def _scaled(
    take: np.ndarray, cx: float, cy: float, half_w: float, half_h: float, out: tuple[int, int]
) -> av.VideoFrame:
    """Crop to whole pixels and let swscale scale and convert to YUV in one pass.

    Rounding the crop moves it under half a stylised pixel, which the boil hides.
    """
    fh, fw = take.shape[:2]
    x0, y0 = max(0, round(cx - half_w)), max(0, round(cy - half_h))
    x1 = min(fw, max(x0 + 2, round(cx + half_w)))
    y1 = min(fh, max(y0 + 2, round(cy + half_h)))
    source = av.VideoFrame.from_ndarray(np.ascontiguousarray(take[y0:y1, x0:x1]), format="rgb24")
    ow, oh = out
    return source.reformat(width=ow, height=oh, format="yuv420p", interpolation="BILINEAR")


def _rolled(take: np.ndarray, window: Window, out: tuple[int, int]) -> av.VideoFrame:
    """A rolled camera: scale the window's bounding box to YUV, then rotate each plane.

    Rotating three 8-bit planes (chroma at quarter size) costs about half of rotating
    the RGB picture, which keeps the orbit move faster than real time.
    """
    ow, oh = out
    scale = window.half_w * 2 / ow  # stylised pixels per output pixel
    ca, sa = math.cos(window.angle), math.sin(window.angle)
    ext_x = window.half_w * abs(ca) + window.half_h * abs(sa) + 2 * scale
    ext_y = window.half_w * abs(sa) + window.half_h * abs(ca) + 2 * scale
    bw = 2 * math.ceil(ext_x / scale)  # the box at output scale, even for chroma
    bh = 2 * math.ceil(ext_y / scale)
    box = _scaled(take, window.cx, window.cy, ext_x, ext_y, (bw, bh))
    frame = av.VideoFrame(ow, oh, "yuv420p")
    for index, (src, dst) in enumerate(zip(box.planes, frame.planes, strict=True)):
        f = 1.0 if index == 0 else 0.5
        image = Image.frombuffer(
            "L", (src.line_size, src.height), bytes(src), "raw", "L", 0, 1
        ).crop((0, 0, src.width, src.height))
        w, h = dst.width, dst.height
        # output (x, y) -> box: box centre + rotation * (x - w/2, y - h/2)
        coeffs = (
            ca,
            -sa,
            bw * f / 2 - ca * w / 2 + sa * h / 2,
            sa,
            ca,
            bh * f / 2 - sa * w / 2 - ca * h / 2,
        )
        rotated = image.transform(
            (w, h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR
        )
        # A plane has the buffer protocol; numpy's stub does not see it in PyAV's Buffer class.
        view = np.frombuffer(dst, np.uint8).reshape(h, dst.line_size)  # type: ignore[call-overload]
        view[:, :w] = np.asarray(rotated)
    return frame


@dataclass(frozen=True, slots=True)
class _Patch:
    """The tag on one YUV plane: where, its values, and its opacity."""

    x: int
    y: int
    value: np.ndarray  # float32
    alpha: np.ndarray  # float32, 0..1


def label_patches(out: tuple[int, int]) -> tuple[_Patch, _Patch, _Patch]:
    """The small "PREVIEW" tag for the bottom-right corner, split into Y, U and V patches."""
    ow, oh = out
    size = max(9, round(oh * 0.026))
    font = load_font(size, LABEL_TEXT)
    left, top, right, bottom = map(int, font.getbbox(LABEL_TEXT))  # whole pixels; typed as float
    pad = max(3, size // 3)
    tw, th = right - left + 2 * pad, bottom - top + 2 * pad
    tw, th = tw + tw % 2, th + th % 2  # whole chroma samples
    tag = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tag)
    draw.rounded_rectangle((0, 0, tw - 1, th - 1), radius=pad, fill=(0, 0, 0, 96))
    draw.text((pad - left, pad - top), LABEL_TEXT, font=font, fill=(255, 255, 255, 215))
    margin = max(4, round(oh * 0.02))
    x, y = ow - tw - margin, oh - th - margin
    x, y = max(0, x - x % 2), max(0, y - y % 2)
    rgba = np.asarray(tag, np.float32)
    r, g, b, a = rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] / 255.0
    # BT.601 limited range, as swscale converts rgb24 to yuv420p by default
    luma = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(th // 2, 2, tw // 2, 2).mean(axis=(1, 3))

    a2 = half(a)
    # chroma of a half-transparent pixel is weighted by its opacity
    cb2 = half(cb * a) / np.maximum(a2, 1e-6)
    cr2 = half(cr * a) / np.maximum(a2, 1e-6)
    return (
        _Patch(x, y, luma, a),
        _Patch(x // 2, y // 2, cb2, a2),
        _Patch(x // 2, y // 2, cr2, a2),
    )


def burn_label(frame: av.VideoFrame, patches: tuple[_Patch, _Patch, _Patch]) -> None:
    """Blend the tag into the frame's planes in place."""
    for plane, patch in zip(frame.planes, patches, strict=True):
        # A plane has the buffer protocol; numpy's stub does not see it in PyAV's Buffer class.
        buf = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)  # type: ignore[call-overload]
        region = buf[patch.y : patch.y + patch.alpha.shape[0], patch.x : plane.width]
        region = region[:, : patch.alpha.shape[1]]  # a tag wider than a tiny frame is cut
        ph, pw = region.shape
        alpha, value = patch.alpha[:ph, :pw], patch.value[:ph, :pw]
        blended = region * (1 - alpha) + value * alpha
        region[...] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _open(image: bytes | Path) -> Image.Image:
    return Image.open(io.BytesIO(image) if isinstance(image, bytes) else image)


def _turned(image: Image.Image) -> bool:
    """Whether the EXIF orientation swaps width and height."""
    return image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def _upright_size(image: Image.Image) -> tuple[int, int]:
    w, h = image.size
    return (h, w) if _turned(image) else (w, h)


def _decode(image: Image.Image, size: tuple[int, int], keep_shape: bool = False) -> Image.Image:
    """The photo upright at `size`; JPEG draft mode decodes big photos at a fraction.

    `keep_shape`: `size` may differ in shape from the photo, which is then cut about its
    centre to it rather than stretched."""
    image.draft("RGB", (size[1], size[0]) if _turned(image) else size)
    upright = ImageOps.exif_transpose(image).convert("RGB")
    if not keep_shape:
        return upright.resize(size, Image.Resampling.LANCZOS)
    w, h = upright.size
    scale = min(w / size[0], h / size[1])
    cw, ch = size[0] * scale, size[1] * scale
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return upright.resize(size, Image.Resampling.LANCZOS, box=box)


def render_preview(
    image_jpeg: bytes | Path,
    out: Path,
    *,
    duration_s: float = 5,
    fps: int = 12,
    height: int = 720,
    camera_move: str = "push_in",
    seed: int = 0,
    on_progress: Progress | None = None,
    threads: int = 0,
    prompt: str = "",
    aspect: str | None = None,
) -> ClipInfo:
    """Render the labelled clay preview of a photo to `out` (MP4) and return its facts.

    With a project shape (`aspect`), the clip is exactly that shape with `height` as its
    short side (9:16 at 720: 720x1280, as many pixels as 16:9's 1280x720); a photo of
    another shape is cut about its centre, never stretched. Without one, the clip follows
    the photo at `height`.

    `on_progress` is called in the calling thread with a share of the work that only
    grows and ends at 1.0. `threads` is the encoder's thread count (0: libx264 decides).
    `prompt` is read for the main action's direction of motion only.
    The file appears at `out` only once complete.
    """
    if camera_move not in CAMERA_MOVES:
        raise ValueError(f"unknown camera move {camera_move!r}")
    plan = frame_plan(duration_s, fps)
    report = _Reporter(on_progress)
    report(0.0)

    with _open(image_jpeg) as source:
        if aspect is None:
            ow, oh = output_size(*_upright_size(source), height)
        else:
            ow, oh = canvas(aspect, height)
        frame_size = (round(ow * _MARGIN), round(oh * _MARGIN))
        photo = _decode(source, frame_size, keep_shape=aspect is not None)
    layers = clay_layers(photo, seed=seed, fast=True)
    report(0.15)
    rng = np.random.default_rng(seed + 1)
    touches = [retouch(layers.shading.shape, rng) for _ in range(_TAKES)]
    takes = boil_takes(
        [layers.compose(touch) for touch in touches], _BOIL_PX * oh / 720 * _MARGIN, rng
    )
    del layers, touches  # the float layers are large; the takes are all that is needed
    patches = label_patches((ow, oh))
    report(0.2)

    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    try:
        _encode(
            part,
            takes,
            plan,
            camera_move,
            motion_from_prompt(prompt),
            (ow, oh),
            frame_size,
            patches,
            rng,
            threads,
            lambda share: report(0.2 + 0.78 * share),
        )
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    facts = probe_mp4(out)
    report(1.0)
    return ClipInfo(
        path=out,
        size_bytes=facts.size_bytes,
        duration_s=facts.duration_s,
        width=facts.width,
        height=facts.height,
        preview=True,
    )


def _encode(
    path: Path,
    takes: list[np.ndarray],
    plan: FramePlan,
    camera_move: str,
    motion: Motion | None,
    out: tuple[int, int],
    frame_size: tuple[int, int],
    patches: tuple[_Patch, _Patch, _Patch],
    rng: np.random.Generator,
    threads: int,
    progress: Progress,
) -> None:
    """Write every pose, held `plan.hold` frames, to an H.264 MP4 at `path`."""
    ow, oh = out
    options = {"movflags": "+faststart"}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        container.metadata["title"] = PREVIEW_TITLE
        container.metadata["comment"] = PREVIEW_COMMENT
        stream = container.add_stream("libx264", rate=plan.stream_fps)
        stream.width, stream.height, stream.pix_fmt = ow, oh, "yuv420p"
        tick = Fraction(1, plan.stream_fps)  # the muxer may change stream.time_base later
        stream.time_base = tick
        stream.codec_context.thread_count = threads
        stream.options = {
            "crf": str(_CRF),
            "preset": _PRESET,
            "profile": "high",
            "maxrate": _MAXRATE,
            "bufsize": "8M",
            "g": str(plan.stream_fps * 2),
            "bf": "0",
        }
        if plan.hold > 1:
            zones = "/".join(
                f"{f},{f + plan.hold - 2},q=51" for f in range(1, plan.frames, plan.hold)
            )
            stream.options["x264-params"] = "zones=" + zones
        pts, last = 0, -1
        for pose in range(plan.poses):
            pick = int(rng.integers(len(takes)))
            if pick == last:
                pick = (pick + 1) % len(takes)
            last = pick
            t = pose / max(1, plan.poses - 1)
            window = camera_window(camera_move, t, frame_size, ow / oh)
            take = takes[pick] if motion is None else moved(takes[pick], motion, t)
            frame = pose_frame(take, window, out)
            burn_label(frame, patches)
            for _ in range(min(plan.hold, plan.frames - pts)):
                frame.pts, frame.time_base = pts, tick
                container.mux(stream.encode(frame))
                pts += 1
            progress((pose + 1) / plan.poses)
        container.mux(stream.encode(None))


class _Reporter:
    """Forwards progress only when it grows, so listeners see a monotonic share."""

    def __init__(self, callback: Progress | None) -> None:
        self._callback = callback
        self._last = -1.0

    def __call__(self, share: float) -> None:
        share = min(1.0, max(0.0, share))
        if self._callback is not None and share > self._last:
            self._last = share
            self._callback(share)
