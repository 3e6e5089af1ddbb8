"""Photos made acceptable to Kling before upload, so a request is not refused with 1201.

Kling takes JPEG or PNG, at most 10 MB, sides of at least 300 px, aspect within
1:2.5..2.5:1. A photo that fits is sent byte for byte; otherwise we fix what we can.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from bot.domain.errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 300
MAX_ASPECT = 2.5
REENCODE_MAX_SIDE = 3840  # when we must re-encode anyway, no point sending more than 4K
_ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """A frame ready for the create request."""

    b64: str  # raw base64, no data: prefix
    width: int
    height: int
    changed: bool  # re-encoded to satisfy Kling's limits
    reason: str = ""


def _fits_kling(fmt: str | None, size: int, width: int, height: int) -> list[str]:
    problems = []
    if fmt not in _ACCEPTED_FORMATS:
        problems.append(f"format {fmt}")
    if size > MAX_IMAGE_BYTES:
        problems.append(f"{size} bytes")
    if min(width, height) < MIN_IMAGE_SIDE:
        problems.append(f"{width}x{height} too small")
    if max(width, height) > MAX_ASPECT * min(width, height):
        problems.append(f"aspect {width}x{height}")
    return problems


def _crop_to_aspect(img: Image.Image) -> Image.Image:
    w, h = img.size
    if w > MAX_ASPECT * h:
        new_w = math.floor(h * MAX_ASPECT)
        left = (w - new_w) // 2
        return img.crop((left, 0, left + new_w, h))
    if h > MAX_ASPECT * w:
        new_h = math.floor(w * MAX_ASPECT)
        top = (h - new_h) // 2
        return img.crop((0, top, w, top + new_h))
    return img


def _rescale(img: Image.Image) -> Image.Image:
    w, h = img.size
    if min(w, h) < MIN_IMAGE_SIDE:
        scale = MIN_IMAGE_SIDE / min(w, h)
    elif max(w, h) > REENCODE_MAX_SIDE:
        scale = REENCODE_MAX_SIDE / max(w, h)
    else:
        return img
    size = (max(MIN_IMAGE_SIDE, math.ceil(w * scale)), max(MIN_IMAGE_SIDE, math.ceil(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _encode_jpeg_under_limit(img: Image.Image) -> bytes:
    """JPEG at the best quality that fits 10 MB, shrinking the picture if quality can't."""
    while True:
        for quality in (92, 85, 75, 65):
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= MAX_IMAGE_BYTES:
                return buf.getvalue()
        w, h = img.size
        img = img.resize((max(MIN_IMAGE_SIDE, int(w * 0.8)), max(MIN_IMAGE_SIDE, int(h * 0.8))))


def _flatten_to_rgb(img: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite transparent pictures onto white instead of black."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def prepare_image(path: Path) -> PreparedImage:
    """Read a frame and make it acceptable to Kling: jpg/png, <= 10 MB, sides >= 300 px,
    aspect within 1:2.5..2.5:1. A file that already fits is sent byte for byte; otherwise
    we fix what we can (crop to the aspect limit, upscale small, downscale and re-encode
    big) rather than let Kling reject the request with 1201.
    """
    try:
        raw = path.read_bytes()
        with Image.open(io.BytesIO(raw)) as probe:
            fmt, (width, height) = probe.format, probe.size
        problems = _fits_kling(fmt, len(raw), width, height)
        if not problems:
            return PreparedImage(base64.b64encode(raw).decode("ascii"), width, height, False)
        with Image.open(io.BytesIO(raw)) as img:
            fixed = _flatten_to_rgb(ImageOps.exif_transpose(img))
            fixed = _rescale(_crop_to_aspect(fixed))
            data = _encode_jpeg_under_limit(fixed)
            with Image.open(io.BytesIO(data)) as out:
                width, height = out.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(
            ErrorKind.INVALID, f"cannot read image {path.name}: {type(exc).__name__}"
        ) from exc
    reason = ", ".join(problems)
    log.info("kling: re-encoded %s for upload (%s) -> %dx%d", path.name, reason, width, height)
    return PreparedImage(base64.b64encode(data).decode("ascii"), width, height, True, reason)
