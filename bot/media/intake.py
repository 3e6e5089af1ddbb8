"""Turn whatever photo a user sends into one video-ready JPEG, or say plainly why not.

Image-to-video models want an RGB JPEG of at most 10 MB, at least 300 px a side, with an
aspect ratio between 1:2.5 and 2.5:1. Users send HEIC from iPhones, PNG screenshots with
alpha, panoramas, stickers, PDFs and half-uploaded files. `prepare_photo` normalises the
good ones and refuses the rest with an `IntakeError` whose code is an i18n key, so a
handler can answer in the user's language and never shows a traceback.

The work is ordered so that the expensive steps see as few pixels as possible: every
refusal that the header can decide happens before decoding, JPEGs are decoded at a
reduced DCT scale when the output allows it, crop and downscale are one resample, and the
EXIF rotation is applied to the small result instead of the 12-megapixel original.

Memory is decided from the header too: what the file, decoding, converting and resampling
will hold at most is estimated before a pixel is decoded (MAX_DECODE_BYTES), a JPEG that
would cost too much is decoded at a smaller DCT scale, and anything else is refused.

A photo that is already what the models want (what Telegram makes of a compressed photo:
a baseline RGB JPEG, right-sized, with no metadata) is kept byte for byte: it is still
decoded in full, at 1/8 scale, so a damaged file is refused like any other, but it is not
re-encoded (a second generation of JPEG loss, and most of intake's time).

Intake also makes the small JPEG a vision LLM is sent (`llm_jpeg`), once, from pixels it
has decoded anyway: drafting and every refinement then send those bytes as they are, and
never decode a photo on the event loop. A passed-through photo's check decode is made at
the scale that copy needs instead of 1/8.
"""

from __future__ import annotations

import colorsys
import io
import logging
import math
import re
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageStat, UnidentifiedImageError

from bot.domain.types import PhotoFacts
from bot.i18n import has, t

# Once, at import: HEIC/HEIF from iPhones opens like any other Pillow format.
pillow_heif.register_heif_opener()

# Pillow format name -> the name we report. iPhone JPEGs with a depth map open as MPO.
ACCEPTED_FORMATS: dict[str, str] = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WEBP",
    "HEIF": "HEIF",
    "HEIC": "HEIF",
}
# Formats whose extra frames mean animation. MPO and HEIF extra frames are depth maps,
# bursts or thumbnails: we take the primary image and ignore them.
ANIMATION_FORMATS = frozenset({"GIF", "PNG", "WEBP"})

# The video models' aspect-ratio window, as an exact fraction: 2.5:1 either way.
RATIO_NUM, RATIO_DEN = 5, 2
RATIO_LABEL = "2.5"

JPEG_QUALITIES = (92, 85, 75, 65, 50, 35)
MEGABYTE = 1024 * 1024

# EXIF orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
EXIF_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = frozenset({5, 6, 7, 8})

# JPEG header facts Pillow reports that change nothing about the pixels. Anything else
# (EXIF with its GPS position, XMP, ICC profiles, comments, progressive scans) means the
# photo is re-encoded rather than passed on as it is.
PASSTHROUGH_INFO = frozenset({"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"})

# Magic numbers of the formats we accept: a file that starts like one but will not open
# is a damaged photo ("intake.corrupt"), not something else ("intake.not_image").
_IMAGE_SIGNATURES: tuple[bytes, ...] = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")

# What one photo may cost in memory, estimated from its header before a pixel is decoded:
# the file (and a codec's copy of it), the decode with the codec's own buffers, the
# conversion to a mode Pillow resamples, the resampling pass and its result. The factors
# are measured (bench/bench_intake_memory.py) and keep the peak under about 100 MiB.
MAX_DECODE_BYTES = 100 * MEGABYTE
# Bytes Pillow keeps per decoded pixel; every mode not named here is stored as four.
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Modes resampled as decoded: any other is converted at full size first (to RGB(A)/L/LA).
_RESAMPLED_AS_DECODED = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F"})
# Per decoded pixel, what the codec holds besides Pillow's copy: libheif only while it
# decodes (its RGB and YUV planes), libwebp still while we resample.
_CODEC_BYTES_WHILE_LOADING = {"HEIF": 4.0, "HEIC": 4.0}
_CODEC_BYTES_HELD = {"WEBP": 8.5}
# The file itself is held throughout; pillow_heif reads a second copy of it.
_INPUT_COPIES = {"HEIF": 2, "HEIC": 2}

# The copy a vision LLM is sent: "low" detail looks at 512 px anyway, so a reduced decode
# keeps at least LLM_MIN_SIDE and the copy is at most LLM_MAX_SIDE on its long side.
LLM_MAX_SIDE = 768
LLM_MIN_SIDE = 512
LLM_JPEG_QUALITY = 85
LLM_SUFFIX = ".llm.jpg"

_log = logging.getLogger(__name__)
_OPEN_LOCK = threading.Lock()
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


class IntakeError(Exception):
    """A photo we refuse; `code` is the i18n key that explains why to the user."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code

    def message(self, lang: str | None) -> str:
        return render_message(self.code, self.params, lang)


Note = tuple[str, dict[str, object]]


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """The video-ready JPEG and what we learned and changed on the way."""

    jpeg: bytes
    width: int
    height: int
    source_format: str  # "JPEG", "PNG", "WEBP" or "HEIF"
    source_width: int  # as the user sees it, after EXIF orientation
    source_height: int
    cropped: bool
    downscaled: bool
    facts: PhotoFacts
    notes: tuple[Note, ...]  # (i18n key, params); render with note_messages()
    llm_jpeg: bytes | None = None  # the small copy a vision LLM is sent, when asked for

    def note_messages(self, lang: str | None) -> tuple[str, ...]:
        return tuple(render_message(key, params, lang) for key, params in self.notes)


def render_message(key: str, params: dict[str, object], lang: str | None) -> str:
    """Render `key`; a param that is itself a catalogue key (a shape word) is translated too."""
    values = {
        name: t(value, lang) if isinstance(value, str) and has(value) else value
        for name, value in params.items()
    }
    return t(key, lang, **values)


@dataclass(frozen=True, slots=True)
class _Geometry:
    """Where to crop (in stored, unrotated pixels) and how big the result should be."""

    crop: tuple[int, int, int, int]
    size: tuple[int, int]

    @property
    def cropped_size(self) -> tuple[int, int]:
        left, top, right, bottom = self.crop
        return right - left, bottom - top


# A JPEG decodes at 1/2, 1/4 or 1/8 scale for a fraction of the work. When the output
# would be only slightly larger than such a scale (a 4032 px phone photo and max_side 2048
# want 0.508), it is worth giving up those few pixels: 2016 px decodes about 4x faster.
DRAFT_SNAP_TOLERANCE = 0.95


def plan_geometry(
    width: int, height: int, *, max_side: int, min_side: int, draft_snap: bool = False
) -> _Geometry:
    """Planned from the header alone, so the JPEG decoder can be told how small it may go."""
    # Centre crop on the long axis only: the same region before or after the EXIF rotation.
    left, top, right, bottom = 0, 0, width, height
    if width * RATIO_DEN > height * RATIO_NUM:
        kept = height * RATIO_NUM // RATIO_DEN
        left = (width - kept) // 2
        right = left + kept
    elif height * RATIO_DEN > width * RATIO_NUM:
        kept = width * RATIO_NUM // RATIO_DEN
        top = (height - kept) // 2
        bottom = top + kept
    crop_w, crop_h = right - left, bottom - top
    scale = min(1.0, max_side / max(crop_w, crop_h))
    # If max_side and the ratio together would take the short side under min_side, the
    # short side wins: the video model refuses anything smaller.
    scale = min(1.0, max(scale, min_side / min(crop_w, crop_h)))
    if draft_snap and scale < 1.0:
        for factor in (8, 4, 2):
            snapped = 1 / factor
            near = factor * DRAFT_SNAP_TOLERANCE <= 1 / scale < factor
            if near and min(crop_w, crop_h) * snapped >= min_side:
                scale = snapped
                break
    out_w = max(1, min(crop_w, round(crop_w * scale)))
    out_h = max(1, min(crop_h, round(crop_h * scale)))
    # Rounding must not nudge the result outside the window: grow the short side by a pixel
    # where the crop allows, else trim the long side.
    if out_w * RATIO_DEN > out_h * RATIO_NUM:
        out_h = min(crop_h, -(-out_w * RATIO_DEN // RATIO_NUM))
        out_w = min(out_w, out_h * RATIO_NUM // RATIO_DEN)
    elif out_h * RATIO_DEN > out_w * RATIO_NUM:
        out_w = min(crop_w, -(-out_h * RATIO_DEN // RATIO_NUM))
        out_h = min(out_h, out_w * RATIO_NUM // RATIO_DEN)
    return _Geometry(crop=(left, top, right, bottom), size=(out_w, out_h))


def prepare_photo(
    data: bytes,
    *,
    max_side: int = 2048,
    max_bytes: int = 20 * MEGABYTE,
    min_side: int = 300,
    max_pixels: int = 64_000_000,
    max_jpeg_bytes: int = 10 * MEGABYTE,
    max_decode_bytes: int = MAX_DECODE_BYTES,
    with_llm_jpeg: bool = False,
) -> PreparedPhoto:
    """Make the video-ready JPEG (and the LLM's copy); CPU-bound: callers use a thread."""
    if min(max_side, max_bytes, min_side, max_pixels, max_jpeg_bytes, max_decode_bytes) <= 0:
        raise ValueError("intake limits must be positive")
    if not data:
        raise IntakeError("intake.empty")
    if len(data) > max_bytes:
        raise IntakeError(
            "intake.too_large",
            size_mb=_megabytes(len(data), up=True),
            limit_mb=_megabytes(max_bytes, up=False),
        )

    try:
        decoded = _decode(
            data,
            max_side=max_side,
            min_side=min_side,
            max_pixels=max_pixels,
            max_jpeg_bytes=max_jpeg_bytes,
            max_decode_bytes=max_decode_bytes,
            check_side=LLM_MIN_SIDE if with_llm_jpeg else 0,
        )
    except IntakeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise IntakeError("intake.bomb", megapixels=_bomb_megapixels(str(exc))) from None
    except UnidentifiedImageError:
        code = "intake.corrupt" if _looks_like_image(data) else "intake.not_image"
        raise IntakeError(code) from None
    except Exception as exc:
        # Hostile or damaged files make Pillow's parsers raise OSError, SyntaxError,
        # ValueError, EOFError, struct.error, IndexError... all mean the same to us.
        _log.debug("photo refused as corrupt: %r", exc, exc_info=True)
        raise IntakeError("intake.corrupt") from None

    if decoded.passthrough:
        width, height = decoded.raw_size
        return PreparedPhoto(
            jpeg=data,
            width=width,
            height=height,
            source_format=decoded.source_format,
            source_width=width,
            source_height=height,
            cropped=False,
            downscaled=False,
            facts=read_facts(decoded.image, size=decoded.raw_size),
            notes=(),
            llm_jpeg=llm_jpeg(decoded.image) if with_llm_jpeg else None,
        )

    source_w, source_h = decoded.source_size
    crop_w, crop_h = decoded.geometry.cropped_size
    cropped = (crop_w, crop_h) != decoded.raw_size
    orientation, icc_profile = decoded.orientation, decoded.icc_profile
    image = _resample(decoded.image, decoded.box, decoded.geometry.size)
    source_format = decoded.source_format
    del decoded  # the full-size decode: the largest thing intake holds, free it first
    image = _resampleable(image)
    image = _with_exif_orientation(image, orientation)
    image = _to_srgb(image, icc_profile)
    jpeg, image = _encode_jpeg(
        image, max_jpeg_bytes=max_jpeg_bytes, min_side=min_side, source_bytes=len(data)
    )

    notes: list[Note] = []
    if cropped:
        wide = source_w > source_h
        notes.append(
            (
                "intake.cropped",
                {
                    "shape": "intake.shape.wide" if wide else "intake.shape.tall",
                    "ratio": f"{RATIO_LABEL}:1" if wide else f"1:{RATIO_LABEL}",
                },
            )
        )
    return PreparedPhoto(
        jpeg=jpeg,
        width=image.width,
        height=image.height,
        source_format=source_format,
        source_width=source_w,
        source_height=source_h,
        cropped=cropped,
        downscaled=max(image.size) < max(crop_w, crop_h),
        facts=read_facts(image),
        notes=tuple(notes),
        llm_jpeg=llm_jpeg(image) if with_llm_jpeg else None,
    )


def llm_jpeg(image: Image.Image) -> bytes:
    """The small JPEG a vision LLM is sent, from an upright sRGB image intake decoded anyway."""
    image = image if image.mode == "RGB" else image.convert("RGB")
    if max(image.size) > LLM_MAX_SIDE:
        scale = LLM_MAX_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # reducing_gap: a box reduction first, then a bilinear pass; cheap, and fine at 768 px.
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=LLM_JPEG_QUALITY)
    return buffer.getvalue()


def llm_jpeg_of(video_jpeg: bytes) -> bytes | None:
    """The LLM's copy of a stored video-ready JPEG (a shot from before intake made one).

    Stored photos are upright sRGB JPEGs already; they are decoded at a reduced DCT scale.
    None if the file cannot be read: the draft is then written from the text alone.
    """
    try:
        with _open(video_jpeg) as opened:
            width, height = opened.size
            opened.draft("RGB", _check_request(width, height, LLM_MIN_SIDE))
            opened.load()
            return llm_jpeg(opened)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        _log.info("no LLM copy of a stored photo: %s", type(exc).__name__)
        return None


def llm_copy_path(photo_path: Path) -> Path:
    """Where a shot's LLM copy lives: beside its photo (photos/<id>.jpg -> <id>.llm.jpg)."""
    return photo_path.with_name(photo_path.stem + LLM_SUFFIX)


def _check_request(width: int, height: int, keep_side: int) -> tuple[int, int]:
    """The size to ask Pillow's draft for: 1/8 scale, or the smallest keeping `keep_side`."""
    if keep_side <= 0:
        return max(1, width // 8), max(1, height // 8)
    # Pillow picks the largest scale s in 1, 2, 4, 8 with size // request >= s on both axes.
    shrink = max(1.0, max(width, height) / keep_side)
    return max(1, math.ceil(width / shrink)), max(1, math.ceil(height / shrink))


@dataclass(frozen=True, slots=True)
class _Decoded:
    image: Image.Image  # loaded, mode RGB/RGBA/L/LA/CMYK, still in stored orientation
    box: tuple[float, float, float, float]  # the crop, in this image's (maybe reduced) pixels
    geometry: _Geometry
    raw_size: tuple[int, int]  # stored size before any draft reduction
    source_size: tuple[int, int]  # as displayed, after EXIF orientation
    source_format: str
    orientation: int
    icc_profile: bytes | None
    passthrough: bool = False  # `image` is a reduced check decode; keep the original bytes


def _decode(
    data: bytes,
    *,
    max_side: int,
    min_side: int,
    max_pixels: int,
    max_jpeg_bytes: int,
    max_decode_bytes: int,
    check_side: int = 0,
) -> _Decoded:
    """Open, refuse what the header already rules out, then decode as few pixels as we can.

    A passed-through photo is decoded at 1/8 scale, or keeping `check_side` on its long side.
    """
    opened = _open(data)
    pillow_format = (opened.format or "").upper()
    if pillow_format in ANIMATION_FORMATS and getattr(opened, "is_animated", False):
        raise IntakeError("intake.animated")
    if pillow_format not in ACCEPTED_FORMATS:
        raise IntakeError("intake.unsupported_format", format=pillow_format or "?")
    raw_w, raw_h = opened.size
    if raw_w * raw_h > max_pixels:
        raise IntakeError("intake.bomb", megapixels=_format_megapixels(raw_w * raw_h))
    geometry = plan_geometry(
        raw_w,
        raw_h,
        max_side=max_side,
        min_side=min_side,
        draft_snap=pillow_format in ("JPEG", "MPO"),
    )

    passthrough = _passes_through(opened, geometry, len(data), max_jpeg_bytes)
    reduction = 1.0
    is_jpeg = pillow_format in ("JPEG", "MPO")
    if passthrough:
        # Every block is still entropy-decoded, so truncation and corruption still raise.
        opened.draft("RGB", _check_request(raw_w, raw_h, check_side))
    elif is_jpeg:
        factor = _jpeg_factor_within(opened, geometry, max_decode_bytes, len(data))
        if factor is not None and factor > _quality_factor(geometry):
            # Decoding at the size the output wants would cost too much: a smaller output
            # from a smaller decode is better than a refusal for a JPEG.
            crop_w, crop_h = geometry.cropped_size
            geometry = plan_geometry(
                raw_w, raw_h, max_side=max(crop_w, crop_h) // factor, min_side=min_side
            )
        reduction = _draft(opened, geometry, at_least=factor or 8)
    cost = _decode_cost(opened, pillow_format, (raw_w, raw_h), geometry, len(data))
    if cost > max_decode_bytes:
        raise IntakeError(
            "intake.too_many_pixels",
            format=ACCEPTED_FORMATS[pillow_format],
            megapixels=_format_megapixels(raw_w * raw_h),
        )
    opened.load()
    # After load, not before: a PNG's EXIF may follow its pixels, and getexif() would load
    # them itself, inside the try that forgives bad EXIF, hiding a truncated file.
    orientation = _exif_orientation(opened)
    source_size = (raw_h, raw_w) if orientation in SWAPS_AXES else (raw_w, raw_h)
    if min(raw_w, raw_h) < min_side:
        raise IntakeError(
            "intake.too_small", width=source_size[0], height=source_size[1], min_side=min_side
        )
    icc_profile = opened.info.get("icc_profile") or None
    # Modes Pillow resamples as they are (16-bit grey among them) are converted after
    # resampling, on the small result: converting first would double the big one.
    needs_conversion = opened.mode not in _RESAMPLED_AS_DECODED or "transparency" in opened.info
    image = _resampleable(opened) if needs_conversion else opened

    left, top, right, bottom = geometry.crop
    box = (left / reduction, top / reduction, right / reduction, bottom / reduction)
    return _Decoded(
        image=image,
        box=box,
        geometry=geometry,
        raw_size=(raw_w, raw_h),
        source_size=source_size,
        source_format=ACCEPTED_FORMATS[pillow_format],
        orientation=orientation,
        icc_profile=icc_profile if isinstance(icc_profile, bytes) else None,
        passthrough=passthrough,
    )


def _passes_through(
    opened: Image.Image, geometry: _Geometry, size_bytes: int, max_jpeg_bytes: int
) -> bool:
    """Is this file already the video-ready JPEG we would make of it?"""
    width, height = opened.size
    return (
        opened.format == "JPEG"
        and opened.mode == "RGB"
        and set(opened.info) <= PASSTHROUGH_INFO
        and geometry.crop == (0, 0, width, height)
        and geometry.size == (width, height)
        and size_bytes <= max_jpeg_bytes
    )


def _open(data: bytes) -> Image.Image:
    """Pillow checks its own pixel limit in open(): turn that warning into a refusal too."""
    # catch_warnings swaps a process-wide filter list (until Python 3.14): two threads in
    # it at once can restore each other's filters, so only one thread at a time. Parsing a
    # header takes about a millisecond. Our max_pixels check in _decode does not need this.
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # No context manager: closing would free the pixels we return. BytesIO needs no close.
        return Image.open(io.BytesIO(data))


def _draft(image: Image.Image, geometry: _Geometry, at_least: int = 1) -> float:
    """Decode at 1/2, 1/4 or 1/8 scale when the output is that small: far fewer pixels.

    `at_least` is the scale the memory budget needs, whatever the output would like.
    """
    # Pillow picks the largest scale s with size // request >= s on both axes, so asking
    # for ceil(size / r), r being how much the output shrinks the crop, keeps s <= r: the
    # reduced decode is never smaller than the output.
    crop_w, crop_h = geometry.cropped_size
    out_w, out_h = geometry.size
    shrink = min(crop_w / out_w, crop_h / out_h)
    if shrink < 2 and at_least < 2:
        return 1.0
    request = (math.ceil(image.width / shrink), math.ceil(image.height / shrink))
    if at_least > 1:
        # width // (width // f) >= f: Pillow then picks a scale of at least f.
        request = (
            min(request[0], max(1, image.width // at_least)),
            min(request[1], max(1, image.height // at_least)),
        )
    stored_width = image.width
    result = image.draft("RGB", request)
    if result is None:
        return 1.0
    _, (_, _, reduced_width, _) = result
    return stored_width / reduced_width


def _quality_factor(geometry: _Geometry) -> int:
    """The JPEG scale _draft picks for the output alone (1, 2, 4 or 8)."""
    crop_w, crop_h = geometry.cropped_size
    out_w, out_h = geometry.size
    shrink = min(crop_w / out_w, crop_h / out_h)
    return next(factor for factor in (8, 4, 2, 1) if factor <= shrink)


def _jpeg_factor_within(
    image: Image.Image, geometry: _Geometry, budget: int, input_bytes: int
) -> int | None:
    """The smallest JPEG scale (1, 2, 4, 8) whose decode fits the budget, if any does."""
    quality = _quality_factor(geometry)
    width, height = image.size
    out_w, out_h = geometry.size
    for factor in (1, 2, 4, 8):
        if factor < quality:
            continue
        decoded_w, decoded_h = -(-width // factor), -(-height // factor)
        smaller = (min(out_w, decoded_w), min(out_h, decoded_h))
        decoded = (decoded_w, decoded_h)
        if _pixels_cost(image, "JPEG", image.size, decoded, smaller, input_bytes) <= budget:
            return factor
    return None


def _decode_cost(
    image: Image.Image,
    pillow_format: str,
    raw: tuple[int, int],
    geometry: _Geometry,
    input_bytes: int,
) -> int:
    """Bytes decoding and resampling this image will hold at most, from its header."""
    return _pixels_cost(image, pillow_format, raw, image.size, geometry.size, input_bytes)


def _pixels_cost(
    image: Image.Image,
    pillow_format: str,
    raw: tuple[int, int],
    decoded: tuple[int, int],
    output: tuple[int, int],
    input_bytes: int,
) -> int:
    mode = image.mode
    stored = _STORED_BYTES.get(mode, 4) + _CODEC_BYTES_HELD.get(pillow_format, 0.0)
    converted = 4 if mode not in _RESAMPLED_AS_DECODED or "transparency" in image.info else 0
    if "A" in mode or "a" in mode or "transparency" in image.info:
        converted += 4  # Pillow resamples alpha premultiplied: one more full-size copy
    width, height = decoded
    out_w, out_h = output
    pixels = width * height
    loading = pixels * (stored + _CODEC_BYTES_WHILE_LOADING.get(pillow_format, 0.0))
    # Resampling goes through a band as wide as the output and as tall as the decode.
    resampling = pixels * (stored + converted) + 4 * out_w * height + 4 * out_w * out_h
    cost = max(loading, resampling) + _INPUT_COPIES.get(pillow_format, 1) * input_bytes
    if pillow_format in ("JPEG", "MPO") and image.info.get("progressive"):
        cost += _progressive_coefficients(image, raw)
    return int(cost)


def _progressive_coefficients(image: Image.Image, raw: tuple[int, int]) -> int:
    """libjpeg keeps every DCT coefficient of a progressive JPEG, at full size, whatever
    scale it decodes at: two bytes per sample of each component."""
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * len(image.getbands())
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    samples = sum(layer[1] * layer[2] for layer in layers) / (h_max * v_max)
    width, height = raw
    return int(2 * samples * width * height)


def _exif_orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1 when absent or unreadable."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a broken EXIF block must not cost the user an otherwise good photo
        return 1
    return value if isinstance(value, int) and value in EXIF_TRANSPOSE else 1


def _resampleable(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to one Pillow resamples well: RGB, RGBA, L, LA or CMYK."""
    mode = image.mode
    if mode in ("RGB", "L") and "transparency" in image.info:
        return image.convert("RGBA" if mode == "RGB" else "LA")
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode.startswith("I;16") or mode == "I":
        # Pillow's convert("L") clips 16-bit values at 255 instead of scaling them.
        wide = np.asarray(image)
        if wide.dtype.kind != "u" or wide.dtype.itemsize != 2:
            wide = np.clip(wide, 0, 65535)
        return Image.fromarray((wide >> 8).astype(np.uint8))
    if mode in ("1", "F"):
        return image.convert("L")
    if mode in ("La", "RGBa"):
        return image.convert(mode.upper())
    return image.convert("RGB")


def _resample(
    image: Image.Image, box: tuple[float, float, float, float], size: tuple[int, int]
) -> Image.Image:
    """Crop and downscale in one Lanczos pass; a whole-pixel crop at full size is just a crop."""
    whole_box = cast("tuple[int, int, int, int]", tuple(round(edge) for edge in box))
    is_whole = all(abs(edge - whole) < 1e-6 for edge, whole in zip(box, whole_box, strict=True))
    left, top, right, bottom = whole_box
    if is_whole and (right - left, bottom - top) == size:
        return image if whole_box == (0, 0, *image.size) else image.crop(whole_box)
    return image.resize(size, Image.Resampling.LANCZOS, box=box)


def _with_exif_orientation(image: Image.Image, orientation: int) -> Image.Image:
    method = EXIF_TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def _to_srgb(image: Image.Image, icc_profile: bytes | None = None) -> Image.Image:
    """Models assume sRGB: an iPhone's Display P3 looks dull if its profile is just dropped."""
    if image.mode in ("RGBA", "LA"):  # onto white: transparent areas would otherwise go black
        flat = Image.new(image.mode[:-1], image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    if icc_profile and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            if image.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(source).lower():
                return image
            converted = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a profile we cannot use is ignored, never a reason to refuse the photo
    return image if image.mode == "RGB" else image.convert("RGB")


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _encode_jpeg(
    image: Image.Image, *, max_jpeg_bytes: int, min_side: int, source_bytes: int
) -> tuple[bytes, Image.Image]:
    """Encode under the byte cap, stepping quality down; shrinking is a last resort."""
    while True:
        size = 0
        for quality in JPEG_QUALITIES:
            buffer = io.BytesIO()
            # Baseline, not progressive: some upstream decoders still choke on progressive.
            # comment=b"": Pillow would otherwise copy the source's COM marker across.
            image.save(
                buffer, "JPEG", quality=quality, optimize=False, progressive=False, comment=b""
            )
            size = buffer.tell()
            if size <= max_jpeg_bytes:
                return buffer.getvalue(), image
        # Only a cap far below what max_side implies gets here.
        scale = math.sqrt(max_jpeg_bytes / size) * 0.9
        smaller = (int(image.width * scale), int(image.height * scale))
        if min(smaller) < min_side:
            raise IntakeError(
                "intake.too_large",
                size_mb=_megabytes(source_bytes, up=True),
                limit_mb=_megabytes(max_jpeg_bytes, up=False),
            )
        image = image.resize(smaller, Image.Resampling.LANCZOS)


# --- facts --------------------------------------------------------------------------------

# 32 px: median cut takes four times as long on 64 px, and a colour covering DOMINANT_SHARE
# of 768 pixels is as clear as of 3,072; the mean brightness of a box reduction is the same.
FACTS_THUMBNAIL_SIDE = 32
DOMINANT_SHARE = 0.12  # a colour must cover this much of the picture to be named
MAX_DOMINANT_COLOURS = 3


def read_facts(image: Image.Image, size: tuple[int, int] | None = None) -> PhotoFacts:
    """Facts the offline drafter can use without a vision model, from a 32 px thumbnail.

    `size` is the photo's real size when `image` is a reduced decode of it.
    """
    width, height = image.size
    thumb = _resampleable(image)
    scale = FACTS_THUMBNAIL_SIDE / max(width, height, 1)
    if scale < 1:
        thumb_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        thumb = thumb.resize(thumb_size, Image.Resampling.BOX, reducing_gap=2.0)
    thumb = _to_srgb(thumb)
    brightness = ImageStat.Stat(thumb.convert("L")).mean[0] / 255
    width, height = size or (width, height)
    return PhotoFacts(
        width=width,
        height=height,
        orientation=_orientation(width, height),
        brightness=round(brightness, 3),
        dominant_colours=_dominant_colours(thumb),
    )


def _orientation(width: int, height: int) -> Literal["landscape", "portrait", "square"]:
    if width * 100 > height * 105:
        return "landscape"
    if height * 100 > width * 105:
        return "portrait"
    return "square"


def _dominant_colours(thumb: Image.Image) -> tuple[str, ...]:
    quantized = thumb.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    coverage: Counter[str] = Counter()
    # A "P" image counts palette indexes, not colour tuples.
    for count, index in cast("list[tuple[int, int]]", quantized.getcolors() or []):
        red, green, blue = palette[3 * index : 3 * index + 3]
        coverage[colour_name(red, green, blue)] += count
    total = sum(coverage.values())
    ranked = [name for name, count in coverage.most_common() if count >= total * DOMINANT_SHARE]
    return tuple(ranked[:MAX_DOMINANT_COLOURS] or [name for name, _ in coverage.most_common(1)])


def colour_name(red: int, green: int, blue: int) -> str:
    """A plain English name a prompt can use ("blue", "brown"), from hue, saturation, value."""
    hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    degrees = hue * 360
    if value < 0.2:
        return "black"
    if saturation < 0.18:
        return "white" if value > 0.85 else "grey"
    if degrees < 15 or degrees >= 345:
        if saturation < 0.5 and value > 0.75:
            return "pink"
        return "brown" if value < 0.45 else "red"
    if degrees < 70 and saturation < 0.4 and value >= 0.7:
        return "beige"  # sand, skin, pale wood: "orange" would mislead a prompt
    if degrees < 45:
        return "brown" if value < 0.6 else "orange"
    if degrees < 70:
        return "brown" if value < 0.55 else "yellow"
    if degrees < 165:
        return "green"
    if degrees < 195:
        return "teal"
    if degrees < 255:
        return "blue"
    if degrees < 290:
        return "purple"
    return "purple" if value < 0.55 else "pink"


# --- small helpers ------------------------------------------------------------------------


def _megabytes(size: int, *, up: bool) -> str:
    """1 decimal, rounded so a file just over the limit never reads as equal to it."""
    tenths = size * 10 / MEGABYTE
    rounded = max(1, math.ceil(tenths) if up else math.floor(tenths)) / 10
    return f"{rounded:g}"


def _format_megapixels(pixels: int) -> str:
    megapixels = pixels / 1_000_000
    return f"{megapixels:.0f}" if megapixels >= 10 else f"{megapixels:.1f}"


def _bomb_megapixels(message: str) -> str:
    match = _BOMB_PIXELS.search(message)
    return _format_megapixels(int(match.group(1))) if match else "?"


_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def _looks_like_image(data: bytes) -> bool:
    """Starts like a JPEG, PNG, WebP or HEIF, whatever comes after."""
    if data.startswith(_IMAGE_SIGNATURES):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS
