"""Fit a picture to a project's shape by cropping around its subject, never by stretching.

The subject is found cheaply: edge strength on a thumbnail (a subject has detail, a sky or
a wall has little), weighted towards the middle, summed along the axis the crop may move
on; the window of the shape that holds the most of it wins. Only one axis is ever cut,
the largest window of the shape is kept, and the result has exactly the shape's
proportions (whole multiples of 16:9, 9:16 or 1:1).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from bot.domain.aspect import matching_aspect, units

_THUMB_SIDE = 192  # the saliency map's long side: a few milliseconds on any photo
_CENTRE_PULL = 0.5  # how much less an edge at the photo's border counts than one at its middle
PREVIEW_SIDE = 512  # the crop's preview in the chat
JPEG_QUALITY = 92


@dataclass(frozen=True, slots=True)
class Framed:
    """A photo cropped to a shape: the picture, its JPEG, and where it was cut from."""

    image: Image.Image
    jpeg: bytes
    box: tuple[int, int, int, int]


def window(width: int, height: int, aspect: str) -> tuple[int, int]:
    """The largest whole-unit window of `aspect` inside `width`×`height`."""
    uw, uh = units(aspect)
    k = min(width // uw, height // uh)
    if k < 1:
        raise ValueError(f"a {width}x{height} picture is too small for {aspect}")
    return uw * k, uh * k


def subject_box(image: Image.Image, aspect: str) -> tuple[int, int, int, int]:
    """Where to cut `image` to `aspect` so that its subject stays in the picture."""
    width, height = image.size
    crop_w, crop_h = window(width, height, aspect)
    if (crop_w, crop_h) == (width, height):
        return 0, 0, width, height
    along_x = width - crop_w >= height - crop_h
    profile = _saliency_profile(image, along_x)
    full, kept = (width, crop_w) if along_x else (height, crop_h)
    start = _best_start(profile, full, kept)
    if along_x:
        top = (height - crop_h) // 2
        return start, top, start + crop_w, top + crop_h
    left = (width - crop_w) // 2
    return left, start, left + crop_w, start + crop_h


def crop_to_aspect(image: Image.Image, aspect: str, *, min_side: int = 0) -> Image.Image:
    """`image` cut around its subject to exactly `aspect`, enlarged if the cut leaves a side
    under `min_side` (the video models refuse small pictures); never stretched."""
    box = subject_box(image, aspect)
    cropped = image.crop(box)
    short = min(cropped.size)
    if min_side and short < min_side:
        uw, uh = units(aspect)
        k = math.ceil(min_side / min(uw, uh))
        cropped = cropped.resize((uw * k, uh * k), Image.Resampling.LANCZOS)
    return cropped


def centre_crop(image: Image.Image, aspect: str) -> Image.Image:
    """`image` cut to exactly `aspect` about its centre: for a picture drawn from an
    already-framed photo (a still), whose subject is where the photo had it."""
    width, height = image.size
    crop_w, crop_h = window(width, height, aspect)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


def frame_photo(jpeg: bytes, aspect: str, *, min_side: int = 300) -> Framed | None:
    """The video-ready JPEG cut to `aspect`, or None when it already has that shape."""
    with Image.open(io.BytesIO(jpeg)) as opened:
        if matching_aspect(*opened.size) == aspect:
            return None
        image = opened.convert("RGB")
    box = subject_box(image, aspect)
    framed = crop_to_aspect(image, aspect, min_side=min_side)
    return Framed(framed, encode(framed), box)


def fit_still(jpeg: bytes, aspect: str) -> bytes:
    """A still an image model drew at its nearest size, cut to the shot's exact shape."""
    with Image.open(io.BytesIO(jpeg)) as opened:
        if opened.size == window(*opened.size, aspect):
            return jpeg
        image = opened.convert("RGB")
    return encode(centre_crop(image, aspect))


def preview(image: Image.Image, side: int = PREVIEW_SIDE) -> bytes:
    """A small JPEG of the framed picture, so the chat sees what the clips will show."""
    small = image.copy()
    small.thumbnail((side, side))
    return encode(small, quality=85)


def encode(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _saliency_profile(image: Image.Image, along_x: bool) -> np.ndarray:
    """Edge strength summed across the fixed axis, one value per thumbnail column (or row),
    with the middle counting more than the borders."""
    thumb = image.convert("L")
    thumb.thumbnail((_THUMB_SIDE, _THUMB_SIDE), Image.Resampling.BILINEAR)
    edges = np.asarray(thumb.filter(ImageFilter.FIND_EDGES), dtype=np.float32)
    edges[0, :] = edges[-1, :] = 0  # FIND_EDGES sees the frame's own border as an edge
    edges[:, 0] = edges[:, -1] = 0
    profile = edges.sum(axis=0 if along_x else 1)
    n = profile.shape[0]
    offsets = np.abs(np.arange(n, dtype=np.float32) - (n - 1) / 2) / max(1.0, n / 2)
    weights = 1.0 - _CENTRE_PULL * offsets**2
    return profile * weights + 1e-3 * weights  # a blank photo keeps to the middle


def _best_start(profile: np.ndarray, full: int, kept: int) -> int:
    """The window start (in full-size pixels) holding the most of `profile`."""
    n = profile.shape[0]
    span = max(1, min(n, round(kept * n / full)))
    sums = np.concatenate(([0.0], np.cumsum(profile)))
    totals = sums[span:] - sums[:-span]
    best = int(np.argmax(totals))
    start = round(best * full / n)
    return max(0, min(full - kept, start))
