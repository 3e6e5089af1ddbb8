"""What moves in a preview besides the camera: the hero action's direction, read from words.

The offline preview cannot animate objects, but it can show which way the main action
goes: boats, cars and trams drift sideways (a band of the picture slides), laundry and
flags sway, water and lights shimmer (rows ripple), smoke, steam and lanterns rise and
rain and snow fall (little clay puffs, glowing lanterns or flakes cross the picture).
The first motion the prompt names wins, since drafts put the hero action first. Words
are matched in English and Chinese; a prompt with none leaves only the camera moving.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

MotionKind = Literal["drift", "rise", "fall", "sway", "shimmer"]


@dataclass(frozen=True, slots=True)
class Motion:
    """A moving element: what kind of motion, which way (x right, y down), and where."""

    kind: MotionKind
    dx: float  # -1 left .. 1 right
    dy: float  # -1 up .. 1 down
    band: tuple[float, float]  # rows of the picture that move, as shares of its height
    glow: bool = False  # what rises or falls are lights (lanterns), not puffs or flakes


# Where each motion happens: vehicles and boats cross the lower part of a view, flags
# and laundry hang in the middle, water shimmers near the bottom; puffs rise from the
# lower middle; rain and snow fall everywhere.
_BANDS: dict[MotionKind, tuple[float, float]] = {
    "drift": (0.6, 0.92),
    "rise": (0.3, 0.95),
    "fall": (0.0, 1.0),
    "sway": (0.2, 0.7),
    "shimmer": (0.55, 1.0),
}
_GLOWING = "lantern, lanterns, sky lantern, 灯笼, 孔明灯, 河灯"


# Words that name a motion, by kind, comma-separated. English words match as whole
# words; Chinese ones match anywhere, as Chinese has no spaces between words.
_WORDS: dict[MotionKind, str] = {
    "rise": (
        "rise, rising, rises, float up, floats up, drift up, drifts up, curl up, curls up, "
        "ascend, ascends, billow, billows, puff, puffs, steam, smoke, incense, lantern, "
        "lanterns, balloon, balloons, "
        "升, 冒, 袅袅, 飘起, 腾起, 蒸汽, 热气, 炊烟, 香烟, 烟雾, 灯笼, 孔明灯, 气球"
    ),
    "fall": (
        "fall, falls, falling, rain, rains, raining, snow, snows, snowing, petals, "
        "falling leaves, "
        "落, 下雨, 下雪, 雨, 雪, 飘落, 花瓣"
    ),
    "sway": (
        "sway, sways, swaying, flap, flaps, flapping, flutter, flutters, fluttering, "
        "laundry, flag, flags, swing, swings, fan turns, turning fan, "
        "摇, 摆, 飘扬, 飘动, 晃, 晾, 旗, 扇"
    ),
    "shimmer": (
        "shimmer, shimmers, shimmering, sparkle, sparkles, sparkling, twinkle, twinkles, "
        "twinkling, glitter, glitters, ripple, ripples, rippling, flicker, flickers, "
        "flickering, glow, glows, neon, lights come on, lights up, light up, "
        "闪, 粼粼, 波光, 涟漪, 荡漾, 霓虹, 灯光, 亮起, 点亮"
    ),
    "drift": (
        "glide, glides, gliding, sail, sails, sailing, drive, drives, driving, pass, "
        "passes, passing, cross, crosses, crossing, ride, rides, riding, roll, rolls, "
        "rolling, walk, walks, walking, stroll, strolls, hurry, hurries, boat, boats, ferry, "
        "tram, trams, car, cars, bus, train, bicycle, "
        "bicycles, bike, rickshaw, traffic, crowd, "
        "驶, 开过, 穿过, 经过, 划, 行驶, 走过, 行走, 骑, 船, 轮渡, 电车, 汽车, 车, 公交, 火车, "
        "自行车, 黄包车, 人群, 行人"
    ),
}
_LEFT = (
    "to the left, leftward, leftwards, right to left, towards the left, toward the left, "
    "moves left, drifts left, goes left, heads left, "
    "向左, 往左, 从右到左, 从右向左, 自右向左"
)
_RIGHT = (
    "to the right, rightward, rightwards, left to right, towards the right, "
    "toward the right, moves right, drifts right, goes right, heads right, "
    "向右, 往右, 从左到右, 从左向右, 自左向右"
)


def _is_cjk(word: str) -> bool:
    return any(ord(ch) > 0x2E7F for ch in word)


def _pattern(words: str) -> re.Pattern[str]:
    """One regex for a word list: whole words for English, substrings for Chinese."""
    parts = []
    for word in sorted((w.strip() for w in words.split(",")), key=len, reverse=True):
        escaped = re.escape(word).replace(r"\ ", r"\s+")
        parts.append(escaped if _is_cjk(word) else rf"\b{escaped}\b")
    return re.compile("|".join(parts), re.IGNORECASE)


_KIND_PATTERNS = {kind: _pattern(words) for kind, words in _WORDS.items()}
_GLOW_PATTERN = _pattern(_GLOWING)
_LEFT_PATTERN = _pattern(_LEFT)
_RIGHT_PATTERN = _pattern(_RIGHT)
# "no smoke", "没有雨": the word is named, but not asked for.
_NEGATION = re.compile(r"\b(?:no|not|without|never)\s+(?:\w+\s+){0,2}$|[不没无别]$", re.I)
# Sentences about the camera move the camera, not the scene; and some phrases use a
# motion word for something else ("night falls", "日落" is a sunset).
_CAMERA = re.compile(r"\bcamera\b|镜头|机位", re.I)
_CLAUSES = re.compile(r"[.!?;:,\n。！？；：，、]+")
_NOT_MOTION = _pattern(
    "dusk falls, night falls, darkness falls, evening falls, silence falls, falls asleep, "
    "falls silent, 日落, 落日, 夜幕降临, 雪白"
)


def motion_from_prompt(prompt: str) -> Motion | None:
    """The motion of the first moving thing the prompt names, or None when nothing moves."""
    clauses = (c for c in _CLAUSES.split(prompt) if not _CAMERA.search(c))
    prompt = _NOT_MOTION.sub(" ", " . ".join(clauses))
    first: tuple[int, MotionKind, str] | None = None
    for kind, pattern in _KIND_PATTERNS.items():
        for match in pattern.finditer(prompt):
            if _NEGATION.search(prompt[max(0, match.start() - 20) : match.start()]):
                continue
            if first is None or match.start() < first[0]:
                first = (match.start(), kind, match.group())
            break
    if first is None:
        return None
    kind = first[1]
    band = _BANDS[kind]
    if kind in ("rise", "fall"):
        glow = bool(_GLOW_PATTERN.search(first[2])) or (
            kind == "rise" and bool(_GLOW_PATTERN.search(prompt))
        )
        return Motion(kind, 0.0, -1.0 if kind == "rise" else 1.0, band, glow)
    if kind == "shimmer":
        return Motion(kind, 0.0, 0.0, band)
    return Motion(kind, _sideways(prompt), 0.0, band)


def _sideways(prompt: str) -> float:
    """-1 when the prompt says the action goes left, else 1 (left to right reads forward)."""
    prompt = " . ".join(c for c in _CLAUSES.split(prompt) if not _CAMERA.search(c))
    left = _LEFT_PATTERN.search(prompt)
    right = _RIGHT_PATTERN.search(prompt)
    if left and (right is None or left.start() < right.start()):
        return -1.0
    return 1.0


# How far an element travels over the whole clip, as a share of the frame: a slow,
# readable move that stays within the margin the camera leaves around the picture.
_DRIFT = 0.08
_SWAY = 0.012
_SWAY_CYCLES = 2.5
_FEATHER = 0.05  # the band's soft top and bottom edges, as a share of the height
_RIPPLE_CYCLES = 3.0


def moved(frame: np.ndarray, motion: Motion, t: float, seed: int = 0) -> np.ndarray:
    """`frame` (HxWx3 uint8) with the moving element where it is at time `t` (0..1).

    Drift and sway slide a band sideways, shimmer ripples it row by row (the edge a
    band leaves open is filled with its mirror image, so no empty stripe appears); rise
    and fall send puffs, lanterns or flakes across the picture. `seed` picks where.
    """
    if motion.kind in ("rise", "fall"):
        return _particles(frame, motion, t, seed)
    h, w = frame.shape[:2]
    top, bottom = round(motion.band[0] * h), round(motion.band[1] * h)
    feather = max(1, round(_FEATHER * h))
    lo, hi = max(0, top - feather), min(h, bottom + feather)
    if hi - lo < 2:
        return frame
    rows = np.arange(lo, hi)
    alpha = np.clip(np.minimum(rows - (top - feather), (bottom + feather) - rows) / feather, 0, 1)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smooth in and out
    band = frame[lo:hi]
    if motion.kind == "drift":
        shifted = _shift_x(band, round(motion.dx * _DRIFT * w * t))
    elif motion.kind == "sway":
        swing = math.sin(2 * math.pi * _SWAY_CYCLES * t)
        shifted = _shift_x(band, round(motion.dx * _SWAY * w * swing))
    else:  # shimmer
        shifted = _ripple(band, t, min(h, w) / 720.0)
    out = frame.copy()
    inner = alpha >= 1.0  # rows fully in the band are copied; only the feather is blended
    out[lo:hi][inner] = shifted[inner]
    blend = alpha[~inner][:, None, None].astype(np.float32)
    mixed = band[~inner] * (1 - blend) + shifted[~inner] * blend + 0.5
    out[lo:hi][~inner] = mixed.astype(np.uint8)
    return out


def _shift_x(band: np.ndarray, dx: int) -> np.ndarray:
    """The band slid `dx` pixels right (left when negative), mirrored in at the edge."""
    w = band.shape[1]
    dx = max(-(w - 1), min(w - 1, dx))
    if dx == 0:
        return band
    if dx > 0:
        return np.concatenate([band[:, :dx][:, ::-1], band[:, : w - dx]], axis=1)
    return np.concatenate([band[:, -dx:], band[:, w + dx :][:, ::-1]], axis=1)


def _ripple(band: np.ndarray, t: float, unit: float) -> np.ndarray:
    """Each row slid a little left or right by a travelling wave: water's shimmer."""
    rows = band.shape[0]
    amplitude = max(1.0, 2.5 * unit)
    wavelength = max(6.0, 16.0 * unit)
    phase = 2 * math.pi * _RIPPLE_CYCLES * t
    wave = amplitude * np.sin(np.arange(rows) * (2 * math.pi / wavelength) + phase)
    shifts = np.round(wave).astype(int)
    out = np.empty_like(band)
    for shift in np.unique(shifts):  # a handful of distinct shifts: one slide each
        at = shifts == shift
        out[at] = _shift_x(band[at], int(shift))
    return out


@dataclass(frozen=True, slots=True)
class _Look:
    """How one kind of particle is drawn."""

    count_per_megapixel: float
    radius: float  # at 720p, in pixels
    colour: tuple[int, int, int]
    opacity: float
    travel: tuple[float, float]  # share of the height each one covers over the clip


_PUFF = _Look(30, 16.0, (238, 234, 228), 0.55, (0.25, 0.45))  # steam, smoke, incense
_LANTERN = _Look(18, 12.0, (255, 176, 72), 0.95, (0.15, 0.3))
_FLAKE = _Look(240, 3.2, (240, 240, 246), 0.85, (0.3, 0.5))  # snow, rain, petals


def _particles(frame: np.ndarray, motion: Motion, t: float, seed: int) -> np.ndarray:
    """Soft round clay bits moving up or down through the band, fading at its far end.

    The same bits at every `t` (they come from `seed`), so consecutive poses show one
    bit travelling, as stop-motion moves one object a little per frame.
    """
    h, w = frame.shape[:2]
    look = _FLAKE if motion.kind == "fall" else _LANTERN if motion.glow else _PUFF
    rng = np.random.default_rng(seed)
    unit = min(h, w) / 720.0
    top, bottom = motion.band[0] * h, motion.band[1] * h
    count = max(4, round(look.count_per_megapixel * w * h / 1e6))
    x0 = rng.uniform(0, w, count)
    start = rng.uniform(0, 1, count)  # where in its trip each bit is at t = 0
    travel = rng.uniform(*look.travel, count) * h
    size = rng.uniform(0.6, 1.3, count) * max(1.0, look.radius * unit)
    wobble = rng.uniform(0, 2 * math.pi, count)
    span = bottom - top
    # Each bit loops through the band; rising ones start low, falling ones high.
    progress = (start + travel * t / max(span, 1.0)) % 1.0
    y = bottom - progress * span if motion.dy < 0 else top + progress * span
    x = x0 + 4 * unit * np.sin(wobble + 2 * math.pi * t)
    fade = np.sin(progress * math.pi)  # appear and melt away at the band's ends
    grow = 1.0 + (0.8 * progress if look is _PUFF else 0.0)  # puffs spread as they rise
    radius = size * grow
    opacity = fade * look.opacity
    colour = np.array(look.colour, np.float32)
    out = frame.copy()
    if float(radius.max()) > 4:
        for px, py, r, a in zip(x, y, radius, opacity, strict=True):
            _stamp(out, px, py, r, a, colour)
        return out
    cx, cy = np.round(x).astype(np.intp), np.round(y).astype(np.intp)
    reach = math.ceil(float(radius.max()))
    # Many small flakes: stamp all at once, one offset from their centres at a time.
    for oy in range(-reach, reach + 1):
        for ox in range(-reach, reach + 1):
            cover = _cover(math.hypot(ox, oy) / radius) * opacity
            px, py = cx + ox, cy + oy
            keep = (cover > 0.01) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
            if not keep.any():
                continue
            px, py, c = px[keep], py[keep], cover[keep][:, None]
            out[py, px] = (out[py, px] * (1 - c) + colour * c + 0.5).astype(np.uint8)
    return out


def _cover(distance: np.ndarray) -> np.ndarray:
    """How much of a round clay bit covers a pixel at `distance` (in radii): soft edged."""
    return np.asarray(np.clip(1.0 - distance, 0.0, 1.0) ** 0.6)


def _stamp(
    out: np.ndarray, cx: float, cy: float, radius: float, opacity: float, colour: np.ndarray
) -> None:
    """Blend one round bit into `out` in place."""
    h, w = out.shape[:2]
    x0, x1 = max(0, int(cx - radius)), min(w, int(cx + radius) + 2)
    y0, y1 = max(0, int(cy - radius)), min(h, int(cy + radius) + 2)
    if x0 >= x1 or y0 >= y1 or opacity <= 0.01:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]
    cover = (_cover(np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / radius) * opacity)[..., None]
    patch = out[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = (patch * (1 - cover) + colour * cover + 0.5).astype(np.uint8)
