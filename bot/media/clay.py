"""A plasticine look made with Pillow and numpy, for offline previews and clay stills.

The recipe follows how a clay set is modelled and photographed:

1. *Planes.* A small working copy is flattened with L0 gradient smoothing: the picture
   becomes a few smooth planes with clean edges between them, as if each object were
   pressed out of one lump. Texture (wood grain, skin pores, noise) goes; outlines stay.
2. *Palette.* The planes are pushed a little toward rich colour and quantised to a few
   dozen plasticine colours; specks smaller than a thumb-press merge into their
   neighbours, and the region map is scaled up with rounded, anti-aliased contours.
3. *Form.* Every region is a lump with rounded edges (a bevel as wide as a finger
   presses) where it meets a region of a clearly different colour; neighbours of nearly
   the same colour blend like kneaded clay. Gentle large dents and swells, a fine grain,
   and a few fingerprint whorls are pressed into the surface.
4. *Light.* A broad key light from the top left with wrap-around falloff, soft contact
   shadows in the creases, a gentle waxy highlight, and a studio falloff toward the
   corners. No outline is drawn: edges read only through the light on rounded clay.

All randomness comes from `seed`, so the same photo and seed give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

# Short side of the working copy where shapes are decided: fixed in pixels, so a clay
# still has lumps of the same size relative to the frame at any photo size.
_SHAPE_SIDE = 360
_PALETTE = 24
# L0 smoothing strength (larger: fewer, bigger planes) and its schedule's growth factor
# (larger: fewer FFT passes, slightly rougher planes).
_L0_LAMBDA = 0.01
_L0_KAPPA = 2.0
_L0_KAPPA_FAST = 3.0
_SATURATION = 1.15  # plasticine is dyed: colours a little richer than the photo's
# Colour step at which two regions are two lumps (see `_seam_step`): a change of hue or
# colourfulness counts fully, one of brightness by half, since light and shadow on one
# object change mostly its brightness.
_SEAM = 48.0
_RETOUCH = 0.22  # the most the light on a fresh fingertip dent changes
_DENTS = 24  # fresh dents per take in a square frame


@dataclass(frozen=True, slots=True)
class ClayLayers:
    """The pieces of a stylised image, kept apart so the animator can reuse them."""

    flat: np.ndarray  # HxWx3 float32, the flattened colours (0..255)
    relief: np.ndarray  # HxW float32, height of the clay surface (about 0..1.5)
    shading: np.ndarray  # HxW float32, light multiplier from the relief and key light
    specular: np.ndarray  # HxW float32, highlight added on top (0..1)

    def compose(self, touch: np.ndarray | None = None) -> Image.Image:
        """The final RGB image from the layers; `touch` multiplies the light (see `retouch`)."""
        shading = self.shading if touch is None else self.shading * touch
        rgb = self.flat * shading[..., None] + (self.specular * 255.0)[..., None]
        return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")


def retouch(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A light multiplier (about 1, up to +/- `_RETOUCH`) for a few fresh fingertip dents.

    Between two poses of a stop-motion film the animator's hands leave the clay a little
    different: the surface "boils". This is the key light on a few dozen new shallow
    dents scattered over the picture, to multiply into `ClayLayers.shading` for each
    take. Only the dents change, so a video encoder spends few bits on them.
    """
    h, w = shape
    unit = min(h, w) / 720.0
    count = max(8, round(_DENTS * w / min(h, w)))  # the same share of any frame
    presses = np.zeros(shape, np.float32)
    presses[rng.integers(0, h, count), rng.integers(0, w, count)] = rng.choice([-1.0, 1.0], count)
    dents = box_blur(presses, max(2, round(5 * unit)), passes=2)
    gy = np.diff(dents, axis=0, append=dents[-1:])
    gx = np.diff(dents, axis=1, append=dents[:, -1:])
    facing = 0.42 * gx + 0.5 * gy  # lit from the top left
    facing /= max(float(np.abs(facing).max()), 1e-9)
    return (1.0 + _RETOUCH * facing).astype(np.float32)


def clay_still(image: Image.Image, *, seed: int = 0, fast: bool = False) -> Image.Image:
    """The photo as if sculpted in plasticine, same size, RGB."""
    return clay_layers(image, seed=seed, fast=fast).compose()


def clay_layers(image: Image.Image, *, seed: int = 0, fast: bool = False) -> ClayLayers:
    """Stylise once; `fast` runs fewer smoothing passes (for video and stills)."""
    rgb = image.convert("RGB")
    rng = np.random.default_rng(seed)
    regions = _regions(rgb, _PALETTE, fast=fast)
    unit = min(rgb.size) / 720.0  # bevel, texture and light sizes scale with the image
    colours = regions.lut[regions.labels].astype(np.float32)
    reach = max(3, round(11 * unit))  # how far in from a seam the edge is rounded
    inside = np.clip(seam_distance(colours, reach) / reach, 0.0, 1.0)
    inside = box_blur(inside, max(1, round(1.5 * unit)), passes=2)  # no terraces
    levels = _levels(regions, reach, rgb.size)
    relief = _relief(inside, levels, colours, unit, rng)
    shading, specular = _light(relief, unit, rng)
    kneaded = _upsampled(regions.kneaded, rgb.size)
    return ClayLayers(_knead(colours, kneaded, inside, unit), relief, shading, specular)


def flatten(
    rgb: Image.Image, colours: int = _PALETTE, *, fast: bool = False
) -> tuple[Image.Image, np.ndarray]:
    """Few flat colours with rounded contours, and the palette index of every pixel."""
    regions = _regions(rgb.convert("RGB"), colours, fast=fast)
    return Image.fromarray(regions.lut[regions.labels], "RGB"), regions.labels


@dataclass(frozen=True, slots=True)
class _Regions:
    """The picture as lumps: a palette index per pixel, and how far each lump stands out."""

    labels: np.ndarray  # HxW uint8 at full size
    lut: np.ndarray  # 256x3 uint8, the palette
    elevation: np.ndarray  # hxw float32 at the working size: 0 ground .. 1 small, on top
    kneaded: np.ndarray  # hxwx3 float32 at the working size: each lump's colours blended
    scale: float  # working size / full size


def _regions(rgb: Image.Image, colours: int, *, fast: bool) -> _Regions:
    """Planes, palette, merged specks and lump levels, decided on the working copy."""
    w, h = rgb.size
    scale = min(1.0, _SHAPE_SIDE / min(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(rgb.resize(size, Image.Resampling.BOX), np.float32) / 255.0
    planes = l0_smooth(small, _L0_LAMBDA, kappa=_L0_KAPPA_FAST if fast else _L0_KAPPA)
    dyed = _dye(planes)
    # Pick the palette on a thumbnail (k-means is the slow part), then map every pixel.
    thumb = Image.fromarray(dyed, "RGB")
    thumb = thumb.reduce(max(1, min(thumb.size) // 120))
    palette = thumb.quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, kmeans=3, dither=Image.Dither.NONE
    )
    lut = np.asarray(palette.getpalette() or [], np.uint8)
    lut = np.pad(lut, (0, max(0, 768 - lut.size)))[:768].reshape(256, 3)
    used = len(palette.getcolors() or []) or 1
    small_labels = _nearest(dyed, lut[:used])
    # Corners round off; specks smaller than a thumb-press join their neighbours.
    small_labels = np.asarray(
        Image.fromarray(small_labels, "L").filter(ImageFilter.ModeFilter(3)), np.uint8
    )
    small_labels = _merge_specks(small_labels)
    elevation, kneaded = _lumps(small_labels, lut[:used])
    return _Regions(upscale_labels(small_labels, (w, h)), lut, elevation, kneaded, scale)


def _nearest(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The index of the nearest palette colour for every pixel."""
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    colours = palette.astype(np.float32)
    distance = (
        (pixels * pixels).sum(axis=1)[:, None]
        - 2.0 * pixels @ colours.T
        + (colours * colours).sum(axis=1)[None, :]
    )
    return distance.argmin(axis=1).astype(np.uint8).reshape(rgb.shape[:2])


def _coverage(mask: np.ndarray, radius: int) -> np.ndarray:
    """Share of each pixel's (2r+1)-square window that `mask` covers, 0..1 (8-bit steps)."""
    image = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    return np.asarray(image.filter(ImageFilter.BoxBlur(radius)), np.float32) / 255.0


def _merge_specks(labels: np.ndarray) -> np.ndarray:
    """Small islands of a colour take their surroundings' colour; thin lines stay.

    A pixel whose label covers under a tenth of its 9x9 neighbourhood is a speck (a
    line one pixel wide through the window covers more): it takes the label that
    covers most of that neighbourhood.
    """
    own = np.zeros(labels.shape, np.float32)
    best = np.zeros(labels.shape, np.float32)
    majority = labels.copy()
    for label in np.unique(labels):
        mask = labels == label
        cover = _coverage(mask, 4)
        own[mask] = cover[mask]
        more = cover > best
        best[more] = cover[more]
        majority[more] = label
    return np.where(own < 0.1, majority, labels)


def _lumps(labels: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each region stands out, and its colour as kneaded with its near kin.

    A region's kin are the regions of a colour too close to its own to make a seam
    (`_SEAM`): with them it forms one lump of clay. Kneading blends a region's colour
    with its kin's over a thumb's width, never with another lump's, so the bands of a
    sky or light and shade on a cheek melt together while a lump's edge keeps its own
    colour. A lump stands out (elevation 1) the less of a wide window around it it
    fills, so small things sit on top of the big ones around them.
    """
    colours = palette[labels]
    near = (
        _seam_step(palette[:, None, :].astype(np.float32), palette[None, :, :].astype(np.float32))
        <= _SEAM
    )
    side = max(2, round(min(labels.shape) / 12))  # the window a lump is measured in
    radius = max(2, round(min(labels.shape) / 40))  # a thumb's width
    elevation = np.zeros(labels.shape, np.float32)
    kneaded = np.zeros(colours.shape, np.float32)
    for label in np.unique(labels):
        mask = labels == label
        kin = near[label][labels]
        own = _coverage(mask, side)[mask]
        image = Image.fromarray(np.round(_coverage(kin, side) * mask * 255).astype(np.uint8))
        spread = np.asarray(image.filter(ImageFilter.BoxBlur(side)), np.float32) / 255.0
        elevation[mask] = 1.0 - spread[mask] / np.maximum(own, 1.0 / 255)
        paint = Image.fromarray(colours * kin[..., None], "RGB")
        summed = np.asarray(paint.filter(ImageFilter.BoxBlur(radius)), np.float32)
        share = _coverage(kin, radius)[mask]
        kneaded[mask] = summed[mask] / np.maximum(share, 1.0 / 255)[:, None]
    return np.clip(elevation, 0.0, 1.0), np.clip(kneaded, 0.0, 255.0)


def l0_smooth(image: np.ndarray, lam: float, *, kappa: float = 2.0) -> np.ndarray:
    """L0 gradient minimisation (Xu et al. 2011): piecewise-flat planes, edges kept.

    `image` is HxWx3 in 0..1. Alternates between zeroing every gradient weaker than
    sqrt(lam / beta) and solving for the picture closest to the input with those
    gradients (a screened Poisson problem, one FFT per channel), while beta grows by
    `kappa` each pass. Fewer, larger planes for a larger `lam`.
    """
    h, w = image.shape[:2]
    source = image.astype(np.float32)
    dx = np.zeros((h, w), np.float32)
    dy = np.zeros((h, w), np.float32)
    dx[0, 0], dx[0, -1] = -1.0, 1.0
    dy[0, 0], dy[-1, 0] = -1.0, 1.0
    grad_power = np.abs(np.fft.rfft2(dx)) ** 2 + np.abs(np.fft.rfft2(dy)) ** 2
    source_f = np.fft.rfft2(source, axes=(0, 1))
    out = source
    beta = 2.0 * lam
    while beta < 1e5:
        gx = np.roll(out, -1, axis=1) - out
        gy = np.roll(out, -1, axis=0) - out
        weak = (gx * gx + gy * gy).sum(axis=2) < lam / beta
        gx[weak] = 0.0
        gy[weak] = 0.0
        divergence = (np.roll(gx, 1, axis=1) - gx) + (np.roll(gy, 1, axis=0) - gy)
        spectrum = (source_f + beta * np.fft.rfft2(divergence, axes=(0, 1))) / (
            1.0 + beta * grad_power
        )[..., None]
        out = np.fft.irfft2(spectrum, s=(h, w), axes=(0, 1)).astype(np.float32)
        beta *= kappa
    return np.clip(out, 0.0, 1.0)


def _dye(planes: np.ndarray) -> np.ndarray:
    """Plasticine colours: a little more saturated, no pure black or blown white."""
    luma = planes @ np.array([0.299, 0.587, 0.114], np.float32)
    rich = luma[..., None] + (planes - luma[..., None]) * _SATURATION
    toned = 0.04 + 0.92 * np.clip(rich, 0.0, 1.0)
    return (toned * 255.0 + 0.5).astype(np.uint8)


def upscale_labels(
    labels: np.ndarray, size: tuple[int, int], *, round_off: float = 1.0
) -> np.ndarray:
    """Labels scaled to `size` with smooth, rounded contours and no invented labels.

    Every label's area is blurred by `round_off` source pixels and interpolated
    bilinearly; each output pixel takes, among the labels of its four nearest source
    pixels, the one whose blurred area is strongest there. Contours come out rounded
    instead of stair-stepped, and a pixel only ever gets a label one of its neighbours
    had, so an in-between colour never appears along an edge.
    """
    h, w = labels.shape
    out_w, out_h = size
    if (out_w, out_h) == (w, h):
        return labels.copy()
    present = np.unique(labels)
    index = np.zeros(256, np.intp)
    index[present] = np.arange(len(present))
    blur = ImageFilter.GaussianBlur(round_off)
    areas = np.stack(
        [
            np.asarray(Image.fromarray((labels == k).astype(np.uint8) * 255, "L").filter(blur))
            for k in present
        ]
    )

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(n_out, dtype=np.float32) + 0.5) * (n_in / n_out) - 0.5
        lo = np.clip(np.floor(pos), 0, n_in - 1).astype(np.intp)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, np.clip(pos - lo, 0.0, 1.0).astype(np.float32)

    y0, y1, fy = axis(out_h, h)
    x0, x1, fx = axis(out_w, w)
    corners = [
        (y0[:, None], x0[None, :], (1 - fy)[:, None] * (1 - fx)[None, :]),
        (y0[:, None], x1[None, :], (1 - fy)[:, None] * fx[None, :]),
        (y1[:, None], x0[None, :], fy[:, None] * (1 - fx)[None, :]),
        (y1[:, None], x1[None, :], fy[:, None] * fx[None, :]),
    ]
    best = labels[y0[:, None], x0[None, :]]
    best_score = np.full((out_h, out_w), -1.0, np.float32)
    for cy, cx, _ in corners:
        candidate = labels[cy, cx]
        layer = index[candidate]
        score = np.zeros((out_h, out_w), np.float32)
        for sy, sx, weight in corners:
            score += weight * areas[layer, sy, sx]
        better = score > best_score
        best = np.where(better, candidate, best)
        best_score = np.where(better, score, best_score)
    return best


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
    n = a.shape[axis]
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float32)
    hi: list[slice] = [slice(None)] * a.ndim
    lo: list[slice] = [slice(None)] * a.ndim
    hi[axis] = slice(2 * r + 1, 2 * r + 1 + n)
    lo[axis] = slice(0, n)
    return (c[tuple(hi)] - c[tuple(lo)]) * np.float32(1.0 / (2 * r + 1))


def wide_blur(a: np.ndarray, radius: int) -> np.ndarray:
    """A wide, smooth blur worked out on a smaller copy: for smooth fields only."""
    step = max(1, radius // 4)
    if step == 1:
        return box_blur(a, radius)
    h, w = a.shape[:2]
    ph, pw = -h % step, -w % step
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (a.ndim - 2)
    padded = np.pad(a.astype(np.float32), pad, mode="edge")
    shape = (padded.shape[0] // step, step, padded.shape[1] // step, step, *a.shape[2:])
    small = box_blur(padded.reshape(shape).mean(axis=(1, 3)), max(1, round(radius / step)))
    return _resized(small, (w, h), step)


def _resized(a: np.ndarray, size: tuple[int, int], step: int) -> np.ndarray:
    """A field sampled every `step` pixels, interpolated back to `size` (w, h)."""
    w, h = size
    channels = a[..., None] if a.ndim == 2 else a
    out = np.empty((h, w, channels.shape[2]), np.float32)
    for c in range(channels.shape[2]):
        image = Image.fromarray(np.ascontiguousarray(channels[..., c]), "F")
        box = (0.0, 0.0, w / step, h / step)  # the sampled grid covers the padded size
        resized = image.resize((w, h), Image.Resampling.BILINEAR, box=box)
        out[..., c] = np.asarray(resized, np.float32)
    return out[..., 0] if a.ndim == 2 else out


def smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in -1..1 with features about `cell` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    img = Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, np.float32)


def seam_distance(colours: np.ndarray, reach: int) -> np.ndarray:
    """Pixels from the nearest seam between clearly different colours, capped at `reach`.

    Distance grows by alternating square and diamond steps: an octagonal distance,
    close to round.
    """
    h, w = colours.shape[:2]
    seam = np.zeros((h, w), bool)
    seam[:, 1:] |= _seam_step(colours[:, 1:], colours[:, :-1]) > _SEAM
    seam[1:, :] |= _seam_step(colours[1:, :], colours[:-1, :]) > _SEAM
    free = ~seam
    distance = np.zeros((h, w), np.float32)
    for step in range(reach):
        distance += free
        if not free.any():
            break
        grown = free.copy()  # erode the free area by one step
        grown[1:, :] &= free[:-1, :]
        grown[:-1, :] &= free[1:, :]
        if step % 2 == 0:  # square step: the diagonals too
            free = grown
            grown = free.copy()
        grown[:, 1:] &= free[:, :-1]
        grown[:, :-1] &= free[:, 1:]
        free = grown
    return distance


def _seam_step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How different two colours are as clay: hue and colourfulness over brightness."""
    d = a - b
    luma = 0.299 * d[..., 0] + 0.587 * d[..., 1] + 0.114 * d[..., 2]
    red_green = d[..., 0] - d[..., 1]
    yellow_blue = 0.5 * (d[..., 0] + d[..., 1]) - d[..., 2]
    return 0.5 * np.abs(luma) + np.abs(red_green) + np.abs(yellow_blue)


def _levels(regions: _Regions, reach: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each lump's level and the lowest level within `reach`, both at full size."""
    high = regions.elevation
    span = max(1, round(reach * regions.scale))
    padded = np.pad(high, span, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * span + 1, axis=0)
    low = windows.min(axis=-1)
    windows = np.lib.stride_tricks.sliding_window_view(low, 2 * span + 1, axis=1)
    low = windows.min(axis=-1)

    def full(a: np.ndarray) -> np.ndarray:
        image = Image.fromarray(np.ascontiguousarray(a, np.float32), "F")
        return np.asarray(image.resize(size, Image.Resampling.BICUBIC), np.float32)

    return full(high), full(low)


def _relief(
    inside: np.ndarray,
    levels: tuple[np.ndarray, np.ndarray],
    colours: np.ndarray,
    unit: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Height of the clay: lumps on lumps with rounded edges, swells, grain, fingerprints.

    A lump rises from the level of whatever it lies on to its own with a rounded
    shoulder; the lump underneath runs flat up to it. Lumps at one level meet in a
    shallow crease, as two pieces of clay pressed side by side do.
    """
    h, w = inside.shape
    high, low = levels
    bevel = np.sqrt(1.0 - (1.0 - inside) ** 2)  # a quarter round: rounded shoulder, flat top
    stacked = low + np.clip(high - low, 0.0, None) * bevel
    # Lighter things sit a little proud: gives faces and folds some form.
    luma = colours @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    swell = wide_blur(luma, max(2, round(18 * unit)))
    # Features never shrink below a few pixels: on small images they would turn to noise.
    grain = smooth_noise((h, w), max(1.6, 2.2 * unit), rng)
    dents = smooth_noise((h, w), max(4.0, 16 * unit), rng)
    swells = smooth_noise((h, w), max(12.0, 80 * unit), rng)
    prints = _fingerprints((h, w), unit, rng)
    return (
        stacked * 0.9
        + bevel * 0.3
        + swell * 0.25
        + swells * 0.12
        + dents * 0.035
        + grain * 0.01
        + prints * 0.022
    ).astype(np.float32)


def _knead(
    colours: np.ndarray, kneaded: np.ndarray, inside: np.ndarray, unit: float
) -> np.ndarray:
    """Kneaded colour inside the lumps, each lump's own (barely anti-aliased) at a seam."""
    lumps = Image.fromarray(colours.astype(np.uint8), "RGB")
    crisp = np.asarray(lumps.filter(ImageFilter.GaussianBlur(0.6 * max(1.0, unit))), np.float32)
    mix = inside[..., None]
    return (crisp * (1.0 - mix) + kneaded * mix).astype(np.float32)


def _upsampled(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A smooth HxWx3 field from the working copy, interpolated to `size` (w, h)."""
    out = np.empty((size[1], size[0], a.shape[2]), np.float32)
    for c in range(a.shape[2]):
        image = Image.fromarray(np.ascontiguousarray(a[..., c], np.float32), "F")
        out[..., c] = np.asarray(image.resize(size, Image.Resampling.BILINEAR), np.float32)
    return out


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


def _light(
    relief: np.ndarray, unit: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A broad key light from the top left, soft crease shadows, a waxy highlight."""
    h, w = relief.shape
    # Relief features scale with `unit`, so slopes shrink by 1/unit: scale them back.
    gy, gx = np.gradient(relief * (9.0 * unit))
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    nx, ny, nz = -gx / norm, -gy / norm, 1.0 / norm
    lx, ly, lz = -0.42, -0.5, 0.76  # up-left and well in front: a big soft box
    wrap = 0.45  # light wraps round the rounded edges instead of cutting off
    facing = nx * lx + ny * ly + nz * lz
    diffuse = np.clip((facing + wrap) / (1.0 + wrap), 0.0, None) / ((lz + wrap) / (1.0 + wrap))
    ambient = 0.42
    shading = ambient + (1.0 - ambient) * diffuse
    # Creases and the foot of every lump get less light: a soft contact shadow.
    around = wide_blur(relief, max(2, round(7 * unit)))
    shading *= np.clip(1.0 - 0.9 * np.clip(around - relief, 0.0, None), 0.6, 1.0)
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    key = 1.04 - 0.05 * (xx + yy) / 2  # brighter toward the light
    vignette = 1.0 - 0.16 * np.clip((xx * xx + yy * yy) / 2, 0, 1) ** 1.3
    shading = (shading * key * vignette).astype(np.float32)
    # Blinn half-vector highlight, broad and faint: plasticine is matte-waxy, and the
    # sheen varies a little where fingers polished it.
    hx, hy, hz = lx, ly, lz + 1.0
    hn = np.sqrt(hx * hx + hy * hy + hz * hz)
    spec = np.clip((nx * hx + ny * hy + nz * hz) / hn, 0, 1) ** 24
    flat = (hz / hn) ** 24  # a face turned straight at the camera gets no sheen
    spec = np.clip((spec - flat) / (1.0 - flat), 0.0, 1.0)
    sheen = 0.75 + 0.25 * smooth_noise((h, w), max(8.0, 40 * unit), rng)
    return shading, (spec * sheen * 0.16).astype(np.float32)
