"""A drawn Bund-at-dusk photo, so the demo and tests have a recognisable scene without assets.

Everything is placed in fractions of the canvas and drawn at twice the size, then
downsampled, so edges are anti-aliased and the picture is the same bytes on every run.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

_SUPERSAMPLE = 2
_HORIZON = 0.60  # far bank / water line, as a fraction of the height
_WALL_TOP = 0.86  # top of the near embankment wall

Colour = tuple[int, int, int]


def sample_photo(path: Path | None = None, *, width: int = 1600, height: int = 1200) -> bytes:
    """JPEG bytes of the scene; also written to `path` when given, for `make demo`."""
    if width < 64 or height < 64:
        raise ValueError("sample photo needs at least 64x64 pixels")
    image = draw_scene(width, height)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, optimize=True)
    data = buffer.getvalue()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data


def draw_scene(width: int, height: int) -> Image.Image:
    """The scene as an RGB image of exactly `width` x `height`."""
    big_w, big_h = width * _SUPERSAMPLE, height * _SUPERSAMPLE
    rng = random.Random(1843)  # the year the Bund opened; any constant keeps it stable
    canvas = Image.fromarray(_sky(big_w, big_h), "RGB")
    _sun_and_clouds(canvas, rng)
    skyline = Image.new("RGBA", (big_w, big_h), (0, 0, 0, 0))
    _far_bank(skyline, rng)
    canvas.paste(skyline, (0, 0), skyline)
    _river(canvas, skyline, rng)
    _boat(canvas)
    _embankment(canvas, rng)
    return canvas.resize((width, height), Image.Resampling.LANCZOS)


def _sky(w: int, h: int) -> np.ndarray:
    horizon = int(h * _HORIZON)
    t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
    top = np.array([78, 134, 204], np.float32)
    mid = np.array([146, 190, 230], np.float32)
    low = np.array([250, 204, 150], np.float32)
    upper = top + (mid - top) * np.clip(t / 0.6, 0, 1)
    rows = np.where(t < 0.6, upper, mid + (low - mid) * np.clip((t - 0.6) / 0.4, 0, 1))
    sky = np.empty((h, w, 3), np.uint8)
    sky[:horizon] = np.broadcast_to(rows[:, None, :], (horizon, w, 3)).astype(np.uint8)
    sky[horizon:] = low.astype(np.uint8)
    return sky


def _sun_and_clouds(canvas: Image.Image, rng: random.Random) -> None:
    w, h = canvas.size
    s = min(w / 3200, h / 2400)
    glow = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    g = ImageDraw.Draw(glow)
    sx, sy = w * 0.80, h * 0.16
    for radius, alpha in ((260, 40), (180, 70), (120, 120)):
        r = radius * s
        g.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 236, 170, alpha))
    glow = glow.filter(ImageFilter.GaussianBlur(60 * s))
    canvas.paste(glow, (0, 0), glow)
    d = ImageDraw.Draw(canvas)
    r = 78 * s
    d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 246, 210))

    clouds = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    c = ImageDraw.Draw(clouds)
    banks = ((0.36, 0.07, 0.5), (0.18, 0.12, 1.0), (0.50, 0.22, 0.8), (0.93, 0.30, 0.6))
    for cx, cy, span in banks:  # top to bottom, so clearing below one spares the others
        base_y = h * cy
        puffs = []
        for _ in range(9):
            px = w * cx + rng.uniform(-260, 260) * span * s * 1.6
            py = base_y + rng.uniform(-60, 10) * s
            rx = rng.uniform(110, 220) * span * s * 1.4
            puffs.append((px, py, rx, rx * rng.uniform(0.35, 0.55)))
        for px, py, rx, ry in puffs:  # grey-lavender underside
            c.ellipse((px - rx, py - ry, px + rx, py + ry), fill=(214, 210, 230, 235))
        for px, py, rx, ry in puffs:  # sunlit tops
            c.ellipse(
                (px - rx * 0.9, py - ry * 1.1, px + rx * 0.9, py + ry * 0.6),
                fill=(255, 255, 255, 240),
            )
        half = 720 * span * s
        c.rectangle(
            (w * cx - half, base_y + 14 * s, w * cx + half, base_y + 200 * s), fill=(0, 0, 0, 0)
        )
    clouds = clouds.filter(ImageFilter.GaussianBlur(6 * s))
    canvas.paste(clouds, (0, 0), clouds)


def _windows(
    d: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    rng: random.Random,
    s: float,
    lit: float = 0.45,
) -> None:
    """A grid of windows, some lit warm, most dark-glass blue."""
    x0, y0, x1, y1 = box
    step_x, step_y = 20 * s, 26 * s
    y = y0 + 12 * s
    while y + 12 * s < y1:
        x = x0 + 8 * s
        while x + 10 * s < x1:
            if rng.random() < lit:
                colour: Colour = (255, 214, 120) if rng.random() < 0.8 else (255, 244, 200)
            else:
                colour = (70, 92, 120)
            d.rectangle((x, y, x + 10 * s, y + 13 * s), fill=colour)
            x += step_x
        y += step_y


def _tower(d: ImageDraw.ImageDraw, x: float, base: float, s: float) -> None:
    """A tower of stacked spheres on three legs, like the Oriental Pearl."""
    pink = (214, 64, 120)
    pink_light = (240, 120, 160)
    steel = (196, 198, 210)
    big_y = base - 300 * s
    small_y = base - 640 * s
    top_y = base - 800 * s
    # legs: a central shaft and two splayed ones
    d.polygon(
        [(x - 14 * s, big_y), (x + 14 * s, big_y), (x + 10 * s, base), (x - 10 * s, base)],
        fill=steel,
    )
    for side in (-1, 1):
        d.polygon(
            [
                (x + side * 6 * s, big_y + 40 * s),
                (x + side * 22 * s, big_y + 40 * s),
                (x + side * 92 * s, base),
                (x + side * 70 * s, base),
            ],
            fill=(170, 172, 186),
        )
    # three columns between the spheres
    for dx in (-20, 0, 20):
        d.rectangle((x + (dx - 7) * s, small_y, x + (dx + 7) * s, big_y), fill=steel)
    for i in range(5):  # small pearls along the columns
        py = big_y - (90 + i * 55) * s
        r = 16 * s
        d.ellipse((x - r, py - r, x + r, py + r), fill=pink)
    for cy, r in ((big_y, 92 * s), (small_y, 58 * s)):
        d.ellipse((x - r, cy - r, x + r, cy + r), fill=pink)
        hr = r * 0.45
        d.ellipse(
            (x - r * 0.55 - hr * 0.3, cy - r * 0.6, x - r * 0.55 + hr, cy - r * 0.6 + hr),
            fill=pink_light,
        )
        d.rectangle((x - r, cy - 6 * s, x + r, cy + 6 * s), fill=(120, 40, 80))
    d.rectangle((x - 10 * s, top_y, x + 10 * s, small_y - 40 * s), fill=steel)
    d.ellipse((x - 22 * s, top_y - 22 * s, x + 22 * s, top_y + 22 * s), fill=pink)
    d.polygon([(x - 5 * s, top_y), (x + 5 * s, top_y), (x, top_y - 150 * s)], fill=steel)


def _far_bank(layer: Image.Image, rng: random.Random) -> None:
    """Pudong seen across the river: towers, the pearl tower, low-rise along the water."""
    w, h = layer.size
    s = min(w / 3200, h / 2400)
    d = ImageDraw.Draw(layer)
    base = h * _HORIZON
    # hazy background blocks
    for i in range(26):
        x = w * (i / 26) + rng.uniform(-20, 20) * s
        top = base - rng.uniform(120, 330) * s
        d.rectangle((x, top, x + rng.uniform(70, 140) * s, base), fill=(150, 160, 182))
    # generic glass skyscrapers with lit windows
    for fx, bw, bh, colour in (
        (0.06, 150, 520, (92, 118, 150)),
        (0.14, 120, 430, (120, 132, 150)),
        (0.50, 140, 560, (84, 110, 140)),
        (0.58, 110, 470, (134, 140, 156)),
        (0.66, 150, 690, (76, 104, 138)),
        (0.86, 160, 500, (110, 124, 146)),
        (0.94, 120, 380, (96, 116, 140)),
    ):
        x0 = w * fx
        box = (x0, base - bh * s, x0 + bw * s, base)
        d.rectangle(box, fill=colour)
        d.rectangle((x0, base - bh * s, x0 + 10 * s, base), fill=(200, 214, 230))
        _windows(d, box, rng, s)
    # a twisting, tapering super-tall (Shanghai Tower-like)
    tx = w * 0.76
    d.polygon(
        [
            (tx - 95 * s, base),
            (tx - 70 * s, base - 900 * s),
            (tx - 30 * s, base - 1180 * s),
            (tx + 40 * s, base - 1140 * s),
            (tx + 80 * s, base - 880 * s),
            (tx + 95 * s, base),
        ],
        fill=(150, 178, 196),
    )
    d.polygon(
        [
            (tx + 10 * s, base),
            (tx + 30 * s, base - 1000 * s),
            (tx + 40 * s, base - 1140 * s),
            (tx + 80 * s, base - 880 * s),
            (tx + 95 * s, base),
        ],
        fill=(112, 140, 166),
    )
    # a tall slab with a trapezoid opening at the top (the "bottle opener")
    ox = w * 0.68
    d.polygon(
        [
            (ox - 70 * s, base),
            (ox - 40 * s, base - 980 * s),
            (ox + 40 * s, base - 980 * s),
            (ox + 70 * s, base),
        ],
        fill=(168, 184, 200),
    )
    d.polygon(
        [
            (ox - 24 * s, base - 950 * s),
            (ox + 24 * s, base - 950 * s),
            (ox + 18 * s, base - 900 * s),
            (ox - 18 * s, base - 900 * s),
        ],
        fill=(0, 0, 0, 0),
    )
    _windows(d, (ox - 50 * s, base - 860 * s, ox + 50 * s, base), rng, s, lit=0.25)
    # a tiered pagoda-like tower (Jin Mao-like)
    jx = w * 0.61
    for i in range(7):
        half = (62 - i * 7) * s
        y1 = base - i * 115 * s
        d.rectangle((jx - half, y1 - 115 * s, jx + half, y1), fill=(120, 124, 136))
        d.rectangle((jx - half, y1 - 115 * s, jx - half + 12 * s, y1), fill=(170, 174, 186))
        _windows(d, (jx - half + 14 * s, y1 - 110 * s, jx + half, y1), rng, s, lit=0.35)
    d.polygon(
        [(jx - 10 * s, base - 805 * s), (jx + 10 * s, base - 805 * s), (jx, base - 930 * s)],
        fill=(150, 152, 162),
    )
    _tower(d, w * 0.33, base, s)
    # low-rise along the far embankment and a green strip
    for i in range(40):
        x = w * i / 40
        d.rectangle(
            (x, base - rng.uniform(30, 70) * s, x + w / 40 - 4 * s, base),
            fill=(rng.randint(160, 200), rng.randint(150, 180), rng.randint(140, 170)),
        )
    d.rectangle((0, base - 16 * s, w, base), fill=(70, 110, 70))


def _river(canvas: Image.Image, skyline: Image.Image, rng: random.Random) -> None:
    """The river: a darkened, rippled mirror of the far bank over grey-brown water."""
    w, h = canvas.size
    s = min(w / 3200, h / 2400)
    top, bottom = int(h * _HORIZON), int(h * _WALL_TOP)
    t = np.linspace(0, 1, bottom - top, dtype=np.float32)[:, None, None]
    near = np.array([44, 60, 68], np.float32)
    far = np.array([118, 126, 126], np.float32)
    water = (far + (near - far) * t) * np.ones((1, w, 1), np.float32)
    reflection = np.asarray(skyline.transpose(Image.Transpose.FLIP_TOP_BOTTOM), np.float32)
    # flipped row k is row h-1-k: water row top+i mirrors sky row top-1-i
    reflection = reflection[h - top : h - top + (bottom - top)].copy()
    # wobble each row sideways, more further down, for ripples
    rows = np.arange(bottom - top)
    shift = (np.sin(rows * 0.35) * (2 + rows * 0.02) * s * 4).astype(int)
    for i, dx in enumerate(shift):
        reflection[i] = np.roll(reflection[i], dx, axis=0)
    alpha = reflection[..., 3:4] / 255.0 * (0.55 - 0.35 * t)
    mixed = water * (1 - alpha) + reflection[..., :3] * 0.8 * alpha
    # sun glitter column
    sun_x = int(w * 0.80)
    glitter = np.exp(-(((np.arange(w) - sun_x) / (90 * s)) ** 2))[None, :, None]
    mixed += glitter * 60 * (1 - t)
    canvas.paste(Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB"), (0, top))
    d = ImageDraw.Draw(canvas)
    for _ in range(160):  # ripple highlights
        y = rng.uniform(top + 10 * s, bottom)
        x = rng.uniform(0, w)
        length = rng.uniform(20, 90) * s * (0.5 + (y - top) / (bottom - top))
        d.line((x, y, x + length, y), fill=(196, 200, 204), width=max(1, int(3 * s)))


def _boat(canvas: Image.Image) -> None:
    """A river ferry: hull, white cabin, red band, windows, and its wake."""
    w, h = canvas.size
    s = min(w / 3200, h / 2400)
    d = ImageDraw.Draw(canvas)
    x, y = w * 0.30, h * 0.745
    L = 520 * s
    d.polygon(
        [
            (x - 30 * s, y + 40 * s),
            (x + L + 40 * s, y + 40 * s),
            (x + L + 120 * s, y + 44 * s),
            (x + L + 40 * s, y + 52 * s),
            (x - 60 * s, y + 52 * s),
        ],
        fill=(226, 236, 240),
    )  # wake
    d.polygon(
        [(x, y), (x + L + 60 * s, y), (x + L, y + 46 * s), (x + 30 * s, y + 46 * s)],
        fill=(40, 52, 74),
    )
    d.rectangle((x + 10 * s, y - 8 * s, x + L + 40 * s, y + 6 * s), fill=(200, 40, 40))
    d.rectangle((x + 60 * s, y - 80 * s, x + L - 60 * s, y - 8 * s), fill=(240, 240, 232))
    d.rectangle((x + 130 * s, y - 130 * s, x + L - 160 * s, y - 80 * s), fill=(244, 244, 238))
    for i in range(11):
        wx = x + (80 + i * 35) * s
        d.rectangle((wx, y - 64 * s, wx + 22 * s, y - 40 * s), fill=(60, 90, 130))
    d.rectangle((x + 200 * s, y - 190 * s, x + 230 * s, y - 130 * s), fill=(30, 30, 30))
    d.rectangle((x + 200 * s, y - 190 * s, x + 230 * s, y - 176 * s), fill=(200, 40, 40))


def _embankment(canvas: Image.Image, rng: random.Random) -> None:
    """The near bank: granite wall, railing, promenade, trees, lamps and old stone buildings."""
    w, h = canvas.size
    s = min(w / 3200, h / 2400)
    d = ImageDraw.Draw(canvas)
    wall = h * _WALL_TOP
    d.rectangle((0, wall, w, h), fill=(170, 160, 146))
    for i in range(int(w / (140 * s)) + 1):  # granite blocks
        x = i * 140 * s
        d.line((x, wall + 40 * s, x, h), fill=(140, 130, 118), width=max(1, int(4 * s)))
    d.line((0, wall + 40 * s, w, wall + 40 * s), fill=(140, 130, 118), width=max(1, int(5 * s)))
    d.rectangle((0, wall, w, wall + 14 * s), fill=(196, 188, 176))
    for i in range(int(w / (60 * s)) + 1):  # railing posts
        x = i * 60 * s
        d.rectangle((x, wall - 60 * s, x + 8 * s, wall), fill=(60, 60, 64))
    d.rectangle((0, wall - 66 * s, w, wall - 56 * s), fill=(70, 70, 74))
    # old stone buildings on the left, with a clock tower (the Custom House)
    bx = 0.0
    for bw, bh, colour in (
        (300, 520, (196, 176, 140)),
        (260, 430, (176, 160, 132)),
        (220, 360, (206, 190, 160)),
    ):
        top = wall - bh * s
        d.rectangle((bx, top, bx + bw * s, wall - 60 * s), fill=colour)
        d.rectangle((bx, top, bx + bw * s, top + 20 * s), fill=(150, 134, 110))
        for col in range(int(bw / 50)):
            cx = bx + (20 + col * 50) * s
            for row in range(int((bh - 120) / 70)):
                cy = top + (50 + row * 70) * s
                d.rectangle(
                    (cx, cy, cx + 22 * s, cy + 40 * s),
                    fill=(255, 210, 130) if rng.random() < 0.5 else (90, 84, 76),
                )
        bx += bw * s
    cx = 150 * s
    d.rectangle((cx - 45 * s, wall - 820 * s, cx + 45 * s, wall - 520 * s), fill=(190, 170, 134))
    d.ellipse((cx - 30 * s, wall - 770 * s, cx + 30 * s, wall - 710 * s), fill=(250, 244, 226))
    d.line((cx, wall - 740 * s, cx, wall - 762 * s), fill=(30, 30, 30), width=max(1, int(4 * s)))
    d.line(
        (cx, wall - 740 * s, cx + 18 * s, wall - 740 * s),
        fill=(30, 30, 30),
        width=max(1, int(4 * s)),
    )
    d.polygon(
        [(cx - 50 * s, wall - 820 * s), (cx + 50 * s, wall - 820 * s), (cx, wall - 900 * s)],
        fill=(110, 120, 110),
    )
    # trees and street lamps along the promenade
    for i in range(9):
        tx = w * (0.30 + i * 0.085) + rng.uniform(-20, 20) * s
        d.rectangle((tx - 8 * s, wall - 150 * s, tx + 8 * s, wall - 56 * s), fill=(90, 64, 44))
        for _ in range(7):
            r = rng.uniform(50, 80) * s
            px = tx + rng.uniform(-60, 60) * s
            py = wall - 190 * s + rng.uniform(-50, 30) * s
            green = (rng.randint(40, 80), rng.randint(110, 150), rng.randint(50, 80))
            d.ellipse((px - r, py - r, px + r, py + r), fill=green)
        lx = tx + w * 0.042
        d.rectangle((lx - 4 * s, wall - 220 * s, lx + 4 * s, wall - 56 * s), fill=(40, 40, 44))
        d.ellipse((lx - 16 * s, wall - 240 * s, lx + 16 * s, wall - 208 * s), fill=(255, 240, 190))
