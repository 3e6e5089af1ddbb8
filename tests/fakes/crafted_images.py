"""Photos built to hurt intake: each one small on the wire, costly if decoded naively.

Used by the intake tests and by bench/bench_intake_memory.py. Run as a module with a file
path, it measures what intake costs in memory for that one file, in a fresh process:

    python -m tests.fakes.crafted_images PATH   ->  one JSON line
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import bot.media.intake  # noqa: F401  (registers the HEIF codec with Pillow)

KIB = 1024


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def streamed_png(
    width: int,
    height: int,
    *,
    bit_depth: int = 8,
    colour_type: int = 2,
    row: Callable[[int], bytes] | None = None,
    extra_chunks: tuple[bytes, ...] = (),
) -> bytes:
    """A real PNG written row by row, so a huge one never exists in memory here either."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = (width * channels * bit_depth + 7) // 8
    blank = b"\x00" * row_bytes
    compressor = zlib.compressobj(6)
    parts = []
    for y in range(height):
        parts.append(compressor.compress(b"\x00" + (row(y) if row else blank)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + b"".join(extra_chunks)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header that claims a size no phone takes, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def gray16_png(width: int = 8000, height: int = 8000) -> bytes:
    """16-bit grayscale: about 120 KiB that a naive decode makes into gigabytes."""
    ramp = np.linspace(0, 65535, width).astype(">u2").tobytes()
    return streamed_png(width, height, bit_depth=16, colour_type=0, row=lambda _y: ramp)


def palette_png(width: int = 6000, height: int = 6000) -> bytes:
    palette = bytes(value for index in range(256) for value in (index, 255 - index, 128))
    stripes = bytes(x // 24 % 256 for x in range(width))
    return streamed_png(
        width,
        height,
        colour_type=3,
        row=lambda _y: stripes,
        extra_chunks=(_chunk(b"PLTE", palette),),
    )


def rgba_png(width: int = 7000, height: int = 7000) -> bytes:
    pixel = bytes((200, 120, 40, 180))
    line = pixel * width
    return streamed_png(width, height, colour_type=6, row=lambda _y: line)


def huge_png(side: int = 30000) -> bytes:
    """30000x30000 grey: 900 megapixels that compress to under a megabyte."""
    return streamed_png(side, side, colour_type=0)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _scene(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    pixels = np.broadcast_to(ramp, (height, width))
    image = Image.fromarray(np.ascontiguousarray(pixels)).convert("RGB")
    return image.convert(mode) if mode != "RGB" else image


def cmyk_jpeg(size: tuple[int, int] = (8000, 8000)) -> bytes:
    return _encode(_scene(size, "CMYK"), "JPEG", quality=80)


def big_jpeg(size: tuple[int, int] = (8000, 8000)) -> bytes:
    return _encode(_scene(size), "JPEG", quality=80)


def progressive_jpeg(size: tuple[int, int] = (8000, 8000)) -> bytes:
    return _encode(_scene(size), "JPEG", quality=80, progressive=True)


def big_heic(size: tuple[int, int] = (4032, 3024)) -> bytes:
    return _encode(_scene(size), "HEIF", quality=60)


def big_webp(size: tuple[int, int] = (6000, 6000)) -> bytes:
    return _encode(_scene(size), "WEBP", quality=60)


def animated(fmt: str, size: tuple[int, int] = (2000, 2000), count: int = 3) -> bytes:
    frames = [Image.new("RGB", size, (40 * i, 90, 200)) for i in range(count)]
    return _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


def noisy(fmt: str, size: tuple[int, int], mode: str = "RGB", **options: object) -> bytes:
    """Camera-like noise: the file is as big as such a photo really is."""
    width, height = size
    rng = np.random.default_rng(7)
    bands = len(mode)
    pixels = rng.integers(0, 256, (height, width, bands), dtype=np.uint8)
    return _encode(Image.fromarray(pixels, mode), fmt, **options)


def phone_heic() -> bytes:
    """What an iPhone sends as a file: 12 megapixels of smooth detail, about 2.5 MB."""
    rng = np.random.default_rng(7)
    detail = Image.fromarray(rng.integers(0, 256, (378, 504, 3), dtype=np.uint8))
    return _encode(detail.resize((4032, 3024), Image.Resampling.BICUBIC), "HEIF", quality=60)


def crafted() -> dict[str, Callable[[], bytes]]:
    """Every crafted input by name; built on demand (the big ones take a second or two)."""
    return {
        "gray16_png_8000": gray16_png,
        "gray16_png_4000": lambda: gray16_png(4000, 4000),
        "palette_png_6000": palette_png,
        "palette_png_3000": lambda: palette_png(3000, 3000),
        "rgba_png_7000": rgba_png,
        "rgba_png_3500": lambda: rgba_png(3500, 3500),
        "cmyk_jpeg_8000": cmyk_jpeg,
        "rgb_jpeg_8000": big_jpeg,
        "progressive_jpeg_8000": progressive_jpeg,
        "progressive_jpeg_4000": lambda: progressive_jpeg((4000, 3000)),
        "heic_4032x3024": big_heic,
        "webp_6000": big_webp,
        "webp_2000": lambda: big_webp((2000, 2000)),
        "phone_heic_4032x3024": phone_heic,
        "noisy_heic_4032x3024": lambda: noisy("HEIF", (4032, 3024), quality=75),
        "noisy_png_2600x2000_rgba": lambda: noisy("PNG", (2600, 2000), "RGBA"),
        "noisy_jpeg_7000x5000": lambda: noisy("JPEG", (7000, 5000), quality=70),
        "png_30000": huge_png,
        "png_claiming_65535": lambda: png_claiming(65535, 65535),
        "animated_gif": lambda: animated("GIF"),
        "animated_webp": lambda: animated("WEBP"),
        "animated_png": lambda: animated("PNG"),
    }


# --- measuring, in the process that runs this module ----------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> None:
    """Start the high-water mark from now (Linux): ru_maxrss would still count the peak of
    whatever forked us, since a child inherits it across exec."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_kib() -> int:
    """The high-water mark since the reset; never below what getrusage says of it."""
    return _status_kib("VmHWM")


def measure(path: Path) -> dict[str, object]:
    """Peak RSS while preparing this one file, over what this process held just before."""
    from bot.media.intake import IntakeError, prepare_photo

    # Warm up: the libraries' own first-use allocations are not the photo's cost.
    prepare_photo(_encode(_scene((640, 480)), "JPEG"))
    baseline = _status_kib("VmRSS")
    _reset_peak()
    data = path.read_bytes()  # the photo's own bytes count too: the bot holds them as well
    try:
        prepared = prepare_photo(data)
        outcome = f"ok {prepared.width}x{prepared.height} from {prepared.source_format}"
    except IntakeError as error:
        outcome = f"refused {error.code}"
    peak = _peak_kib()
    return {"bytes": len(data), "outcome": outcome, "peak_delta_mib": (peak - baseline) / KIB}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))))
