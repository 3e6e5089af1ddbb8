"""Clay stills as functions of bytes: the offline clay picture, and photos made ready for
the image models that draw one (Kling's image generation, OpenAI's images edit)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from bot.media.clay import clay_still

# What an image model is asked for: the offline look in words.
CLAY_STYLE = (
    "Turn this photo into a handmade claymation set: every surface sculpted from plasticine "
    "with soft rounded edges, visible fingerprints and tool marks, matte clay colours, "
    "warm studio lighting, miniature stop-motion look. Keep the composition, the places and "
    "the objects exactly where they are."
)
OFFLINE_MAX_SIDE = 1280  # the clay look takes under two seconds at this size
REFERENCE_MAX_SIDE = 1536  # what image models look at; more only makes requests bigger
ASPECT_RATIOS = {"16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1.0, "3:4": 3 / 4, "9:16": 9 / 16}


def offline_still(photo: Path, seed: int) -> bytes:
    """The photo as a clay picture drawn here, as JPEG; `seed` varies it."""
    with Image.open(photo) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((OFFLINE_MAX_SIDE, OFFLINE_MAX_SIDE))
    return jpeg(clay_still(upright, seed=seed, fast=True))


def reference_jpeg(photo: Path) -> bytes:
    """The photo upright, at most 1536 px, as the JPEG an image model is sent."""
    with Image.open(photo) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((REFERENCE_MAX_SIDE, REFERENCE_MAX_SIDE))
    return jpeg(upright)


def as_jpeg(data: bytes) -> bytes:
    """Whatever the service returned (PNG, WebP), as the JPEG the video models take."""
    with Image.open(io.BytesIO(data)) as image:
        return jpeg(image)


def aspect_ratio(photo: Path) -> str:
    """The nearest aspect ratio Kling's image endpoint offers (clips come out the same way)."""
    with Image.open(photo) as image:
        width, height = image.size
    ratio = width / height
    return min(ASPECT_RATIOS, key=lambda name: abs(ASPECT_RATIOS[name] - ratio))


def jpeg(image: Image.Image) -> bytes:
    """`image` as an RGB JPEG at quality 92."""
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()
