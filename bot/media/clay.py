"""A plasticine look made with Pillow and numpy, for offline previews and clay stills.

The recipe mimics how a clay model is built and lit: colours are few and flat (each is a
lump of plasticine), shapes are simplified with rounded contours, every lump is puffed up
in the middle and pressed into a crease where it meets its neighbour, the surface carries
fine grain and the odd fingerprint, and a soft key light from the top left shades the
relief. All randomness comes from `seed`, so the same photo and seed give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

# Side (short edge) of the working copy the shapes are simplified at: smaller means
# chunkier lumps. Fixed in pixels so a clay still looks the same at any photo size.
_SHAPE_SIDE = 480
_PALETTE = 28


@dataclass(frozen=True, slots=True)
class ClayLayers:
    """The pieces of a stylised image, kept apart so the animator can reuse them."""

    flat: np.ndarray  # HxWx3 float32, the flattened colours (0..255)
    relief: np.ndarray  # HxW float32, height of the clay surface (about 0..1)
    shading: np.ndarray  # HxW float32, light multiplier from the relief and key light
    specular: np.ndarray  # HxW float32, highlight added on top (0..1)

    def compose(self) -> Image.Image:
        """The final RGB image from the layers."""
        rgb = self.flat * self.shading[..., None] + (self.specular * 255.0)[..., None]
        return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def clay_still(image: Image.Image, *, seed: int = 0, fast: bool = False) -> Image.Image:
    """The photo as if sculpted in plasticine, same size, RGB."""
    return clay_layers(image, seed=seed, fast=fast).compose()


def clay_layers(image: Image.Image, *, seed: int = 0, fast: bool = False) -> ClayLayers:
    """Stylise once; `fast` skips the full-size contour vote (for video, ~0.3 s at 720p)."""
    rgb = image.convert("RGB")
    rng = np.random.default_rng(seed)
    flat, labels = flatten(rgb, vote=not fast)
    unit = min(rgb.size) / 720.0  # texture and crease sizes scale with the image
    relief = _relief(labels, flat, unit, rng)
    shading, specular = _light(relief, unit)
    # Soften the colour steps of the upscaled labels: anti-aliased, slightly squashed edges.
    soft = flat.filter(ImageFilter.GaussianBlur(0.45 * max(1.0, min(rgb.size) / _SHAPE_SIDE)))
    return ClayLayers(np.asarray(soft, np.float32), relief, shading, specular)


def flatten(
    rgb: Image.Image, colours: int = _PALETTE, *, vote: bool = True
) -> tuple[Image.Image, np.ndarray]:
    """Few flat colours with rounded contours, and the palette index of every pixel."""
    w, h = rgb.size
    scale = min(1.0, _SHAPE_SIDE / min(w, h))
    small = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    small = _soften(small)
    small = ImageEnhance.Color(small).enhance(1.3)
    # Pick the palette on a thumbnail (k-means is the slow part), then map every pixel.
    thumb = small.reduce(max(1, min(small.size) // 160))
    palette = thumb.quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, kmeans=2, dither=Image.Dither.NONE
    )
    quant = small.quantize(palette=palette, dither=Image.Dither.NONE)
    quant = quant.filter(ImageFilter.ModeFilter(3))
    big = quant.resize((w, h), Image.Resampling.NEAREST)
    k = 2 * round(1.0 / scale) + 1
    if vote and k > 1:
        # A mode filter on the upscaled labels rounds the blocky contours and, unlike
        # resampling colours, never invents an in-between colour along an edge.
        big = big.filter(ImageFilter.ModeFilter(k))
    labels = np.asarray(big, np.uint8)
    return big.convert("RGB"), labels


def _soften(rgb: Image.Image) -> Image.Image:
    """Edge-preserving-ish smoothing: blur where the picture is flat, median near edges."""
    median = rgb.filter(ImageFilter.MedianFilter(3))
    blurred = median.filter(ImageFilter.GaussianBlur(2.5))
    edges = median.convert("L").filter(ImageFilter.FIND_EDGES)
    mask = edges.point(lambda v: min(255, v * 8)).filter(ImageFilter.MaxFilter(3))
    return Image.composite(median, blurred, mask)


def box_blur(a: np.ndarray, radius: int, passes: int = 2) -> np.ndarray:
    """Separable box blur with cumulative sums; repeated passes approach a Gaussian."""
    if radius < 1:
        return a
    out = a.astype(np.float32, copy=True)
    for _ in range(passes):
        for axis in (0, 1):
            out = _box_1d(out, radius, axis)
    return out


def _box_1d(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    padded = np.pad(a, pad, mode="edge")
    c = np.cumsum(padded, axis=axis, dtype=np.float32)
    n = a.shape[axis]
    hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return (hi - lo) / np.float32(2 * r + 1)


def smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in -1..1 with features about `cell` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    img = Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, np.float32)


def _relief(
    labels: np.ndarray, flat: Image.Image, unit: float, rng: np.random.Generator
) -> np.ndarray:
    """Height of the clay: puffed lumps, creased seams, grain and fingerprints."""
    h, w = labels.shape
    colours = np.asarray(flat, np.float32)
    # A seam is as deep as the colours either side differ: two shades of sky blend like
    # kneaded clay, a tower against the sky is a separate lump.
    step_x = np.abs(colours[:, 1:] - colours[:, :-1]).sum(axis=2)
    step_y = np.abs(colours[1:, :] - colours[:-1, :]).sum(axis=2)
    step_x = np.clip((step_x - 30.0) / 90.0, 0, 1)
    step_y = np.clip((step_y - 30.0) / 90.0, 0, 1)
    seam = np.zeros((h, w), np.float32)
    seam[:, 1:] = step_x
    seam[:, :-1] = np.maximum(seam[:, :-1], step_x)
    seam[1:, :] = np.maximum(seam[1:, :], step_y)
    seam[:-1, :] = np.maximum(seam[:-1, :], step_y)
    # Seam density, normalised so a lone seam reads 1: falls to 0 about `r` px away.
    r = max(2, round(6 * unit))
    density = box_blur(seam, r, passes=2) * ((2 * r + 1) / 2.0)
    puff = 1.0 - np.clip(density, 0, 1)
    puff = np.sin(puff * (np.pi / 2))  # rounded shoulders, flat tops like a pressed lump
    big = max(4, round(40 * unit))  # and big lumps dome gently over their whole width
    dome = 1.0 - np.clip(box_blur(seam, big, passes=2) * ((2 * big + 1) / 6.0), 0, 1)
    puff = puff + 0.6 * np.sin(dome * (np.pi / 2))
    luma = colours @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    bulge = box_blur(luma, max(2, round(14 * unit)), passes=2)
    # Features never shrink below a few pixels: on small images they would turn to noise.
    grain = smooth_noise((h, w), max(2.0, 3 * unit), rng)
    dents = smooth_noise((h, w), max(4.0, 14 * unit), rng)
    lumps = smooth_noise((h, w), max(12.0, 60 * unit), rng)
    prints = _fingerprints((h, w), unit, rng)
    return (
        puff + bulge * 0.3 + grain * 0.015 + dents * 0.05 + lumps * 0.15 + prints * 0.04
    ).astype(np.float32)


def _fingerprints(shape: tuple[int, int], unit: float, rng: np.random.Generator) -> np.ndarray:
    """A few faint whorls of ridges, as left by thumbs pressing the clay."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    count = max(3, int(w * h / (220 * 220 * unit * unit) * 0.5))
    period = max(2.6, 3.2 * unit)
    for _ in range(count):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        radius = rng.uniform(25, 55) * max(unit, 0.5)
        stretch = rng.uniform(0.6, 1.0)
        angle = rng.uniform(0, np.pi)
        x0, x1 = int(max(0, cx - radius)), int(min(w, cx + radius + 1))
        y0, y1 = int(max(0, cy - radius)), int(min(h, cy + radius + 1))
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        u, v = xx - cx, yy - cy
        ca, sa = np.cos(angle), np.sin(angle)
        ru, rv = u * ca + v * sa, (v * ca - u * sa) / stretch
        dist = np.sqrt(ru * ru + rv * rv)
        # ridges that wander a little, as skin ridges do, and fade out at the rim
        wobble = smooth_noise(dist.shape, max(3.0, 6 * unit), rng) * period * 0.6
        window = np.clip(1.0 - dist / radius, 0, 1) ** 1.5
        out[y0:y1, x0:x1] += np.sin((dist + wobble) * (2 * np.pi / period)) * window
    return out


def _light(relief: np.ndarray, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """Lambert shading from a key light at the top left, soft fill, vignette, highlights."""
    h, w = relief.shape
    # Relief features scale with `unit`, so slopes shrink by 1/unit: scale them back.
    gy, gx = np.gradient(relief * (3.0 * unit))
    # normal = (-gx, -gy, 1); light from top-left, in front
    lx, ly, lz = -0.5, -0.6, 0.62
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    lambert = (-gx * lx - gy * ly + lz) / norm
    ambient = 0.45
    shading = ambient + (1 - ambient) * np.clip(lambert / lz, 0, 1.6)
    # the seams sit in shadow: occlusion darkens low ground
    occlusion = 0.75 + 0.25 * np.clip(relief, 0, 1)
    shading *= occlusion
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    key = 1.04 - 0.06 * (xx + yy) / 2  # brighter toward the light
    vignette = 1.0 - 0.18 * np.clip((xx * xx + yy * yy) / 2, 0, 1) ** 1.2
    shading = (shading * key * vignette).astype(np.float32)
    # Blinn half-vector highlight: soft and broad, plasticine is matte-waxy
    hx, hy, hz = lx, ly, lz + 1.0
    hn = np.sqrt(hx * hx + hy * hy + hz * hz)
    spec = np.clip((-gx * hx - gy * hy + hz) / (norm * hn), 0, 1) ** 40
    return shading, (spec * 0.22).astype(np.float32)
