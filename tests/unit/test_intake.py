"""Media intake: every photo a user might send comes out video-ready or refused in words."""

from __future__ import annotations

import io
import random
import struct
import sys
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from bot.i18n import LANGUAGES
from bot.media import intake
from bot.media.intake import (
    LLM_MAX_SIDE,
    LLM_MIN_SIDE,
    IntakeError,
    PreparedPhoto,
    colour_name,
    llm_copy_path,
    llm_jpeg_of,
    plan_geometry,
    prepare_photo,
    read_facts,
)

RED = (220, 20, 20)
BLUE = (30, 60, 220)
GREEN = (20, 170, 40)


# --- building inputs ---------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def marked(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Blue, with a red square in the stored top-left corner to follow through rotations."""
    image = Image.new(mode, size, BLUE)
    image.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    return image


def exif_with(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    return exif.tobytes()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header that claims a size no phone takes, with almost no pixel data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def frames(fmt: str, **options: object) -> bytes:
    first, second = Image.new("RGB", (320, 320), RED), Image.new("RGB", (320, 320), BLUE)
    return encode(first, fmt, save_all=True, append_images=[second], duration=100, **options)


def swapped_primaries_icc() -> bytes:
    """A minimal ICC v2 RGB profile whose red and blue primaries are swapped.

    Pillow can only create sRGB profiles; this stands in for an iPhone's Display P3 with
    an effect big enough to see: pure "red" in this space is blue in sRGB.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    description = b"swapped\0"
    desc = b"".join(
        [b"desc", bytes(4), struct.pack(">I", len(description)), description, bytes(8 + 3 + 67)]
    )
    gamma = b"".join([b"curv", bytes(4), struct.pack(">IH", 1, 0x0233), bytes(2)])  # 2.2
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),  # sRGB's blue primary (D50)
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),  # sRGB's red primary (D50)
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
        (b"cprt", b"text" + bytes(4) + b"none\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    d50 = s15(0.9642) + s15(1.0) + s15(0.8249)
    header = b"".join(
        [
            bytes(4),  # preferred CMM
            struct.pack(">I", 0x02100000),  # version 2.1
            b"mntr" + b"RGB " + b"XYZ ",  # display profile, RGB data, XYZ connection space
            bytes(12),  # date
            b"acsp",
            bytes(28),  # platform, flags, device, attributes, intent
            d50,
            bytes(48),  # creator, id, reserved
        ]
    )
    total = 4 + len(header) + 4 + len(table) + len(body)
    return struct.pack(">I", total) + header + struct.pack(">I", len(tags)) + table + body


def assert_renders(code: str, params: dict[str, object]) -> None:
    for lang in LANGUAGES:
        text = intake.render_message(code, params, lang)
        assert text.strip()
        assert "{" not in text and "}" not in text
        assert "intake." not in text


# --- what comes out ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [(1, "top_left"), (3, "bottom_right"), (6, "top_right"), (8, "bottom_left")],
)
def test_exif_orientation_is_applied(orientation: int, red_corner: str) -> None:
    data = encode(marked((800, 600)), "JPEG", quality=95, exif=exif_with(orientation))

    photo = prepare_photo(data)

    upright = (600, 800) if orientation in (6, 8) else (800, 600)
    assert (photo.width, photo.height) == upright
    assert (photo.source_width, photo.source_height) == upright
    out = decode(photo.jpeg)
    corners = {
        "top_left": (10, 10),
        "top_right": (out.width - 10, 10),
        "bottom_left": (10, out.height - 10),
        "bottom_right": (out.width - 10, out.height - 10),
    }
    for name, point in corners.items():
        red, _, blue = out.getpixel(point)
        assert (red > 180 and blue < 80) == (name == red_corner), name


def test_orientation_survives_draft_decoding_and_metadata_is_stripped() -> None:
    data = encode(marked((4000, 3000)), "JPEG", quality=90, exif=exif_with(6))

    photo = prepare_photo(data, max_side=1000)

    assert (photo.width, photo.height) == (750, 1000)
    assert photo.downscaled and not photo.cropped
    out = decode(photo.jpeg)
    assert out.getpixel((out.width - 10, 10))[0] > 180  # red now top right
    assert not out.getexif()  # no orientation to apply twice, no phone make, no GPS
    assert "icc_profile" not in out.info
    assert out.format == "JPEG" and out.mode == "RGB"
    assert not out.info.get("progressive") and not out.info.get("progression")


def test_a_video_ready_jpeg_is_kept_byte_for_byte() -> None:
    # What Telegram makes of a compressed photo: baseline RGB JPEG, no metadata, 1280 px.
    image = Image.new("RGB", (1280, 960), BLUE)
    image.paste(RED, (0, 0, 900, 960))
    data = encode(image, "JPEG", quality=87)
    # The same pixels with a comment: not passed through, so the full path's facts.
    reference = prepare_photo(encode(image, "JPEG", quality=87, comment=b"x"))

    photo = prepare_photo(data)

    assert photo.jpeg == data  # no second generation of JPEG loss
    assert (photo.width, photo.height) == (photo.source_width, photo.source_height) == (1280, 960)
    assert not photo.cropped and not photo.downscaled and photo.notes == ()
    assert reference.jpeg != data
    assert (photo.facts.width, photo.facts.height) == (1280, 960)
    assert photo.facts.orientation == reference.facts.orientation == "landscape"
    assert abs(photo.facts.brightness - reference.facts.brightness) < 0.02
    assert photo.facts.dominant_colours[0] == reference.facts.dominant_colours[0] == "red"
    # Still decoded in full: a cut-off copy of it is refused like any other.
    with pytest.raises(IntakeError) as caught:
        prepare_photo(data[: len(data) * 2 // 3])
    assert caught.value.code == "intake.corrupt"


@pytest.mark.parametrize(
    ("why", "options", "limits"),
    [
        ("exif", {"exif": exif_with(1)}, {}),
        ("progressive", {"progressive": True}, {}),
        ("comment", {"comment": b"shot on my phone"}, {}),
        ("larger than max_side", {}, {"max_side": 1000}),
        ("over the byte cap", {}, {"max_jpeg_bytes": 150_000}),
    ],
)
def test_a_jpeg_that_is_not_video_ready_is_re_encoded(
    why: str, options: dict[str, object], limits: dict[str, int]
) -> None:
    data = encode(noise((1280, 960), seed=4), "JPEG", quality=80, **options)

    photo = prepare_photo(data, **limits)

    assert photo.jpeg != data, why
    out = decode(photo.jpeg)
    assert set(out.info) <= intake.PASSTHROUGH_INFO  # the re-encode carries no metadata
    assert out.mode == "RGB" and (out.width, out.height) == (photo.width, photo.height)


def test_greyscale_and_profiled_jpegs_are_re_encoded_as_rgb() -> None:
    grey = encode(Image.new("L", (800, 600), 128), "JPEG")
    profiled = encode(marked((800, 600)), "JPEG", icc_profile=swapped_primaries_icc())

    for data in (grey, profiled):
        photo = prepare_photo(data)
        assert photo.jpeg != data and decode(photo.jpeg).mode == "RGB"
        assert "icc_profile" not in decode(photo.jpeg).info


def test_jpeg_draft_never_decodes_below_the_output_size(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[tuple[int, int], tuple[float, ...], tuple[int, int]]] = []
    real = intake._resample

    def spy(image: Image.Image, box: tuple[float, float, float, float], size: tuple[int, int]):
        seen.append((image.size, box, size))
        return real(image, box, size)

    monkeypatch.setattr(intake, "_resample", spy)
    cases = [((4000, 3000), 1000), ((4032, 3024), 1024), ((4032, 3024), 2048), ((5000, 1000), 800)]
    for size, max_side in cases:
        prepare_photo(encode(Image.new("RGB", size, GREEN), "JPEG"), max_side=max_side)

    reduced = []
    for (decoded_w, _), (left, top, right, bottom), (out_w, out_h) in seen:
        assert right - left >= out_w - 1e-6 and bottom - top >= out_h - 1e-6
        reduced.append(decoded_w)
    # 1/4; 1/4 and 1/2, as 1008 and 2016 are within 5% of 1024 and 2048 (the draft snap);
    # 1/2, as at 1/4 the 2500 px crop would be 625 < 800.
    assert reduced == [1000, 1008, 2016, 2500]


def test_png_alpha_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, 200, 400))

    photo = prepare_photo(encode(image, "PNG"))

    assert photo.source_format == "PNG"
    out = decode(photo.jpeg)
    assert out.mode == "RGB"
    assert out.getpixel((50, 200))[0] > 200 and out.getpixel((50, 200))[2] < 60
    assert min(out.getpixel((350, 200))) > 245


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda: _palette_with_transparency(), (255, 255, 255), id="P+transparency"),
        pytest.param(lambda: Image.new("LA", (320, 320), (90, 0)), (255, 255, 255), id="LA"),
        pytest.param(lambda: Image.new("L", (320, 320), 90), (90, 90, 90), id="L"),
        pytest.param(lambda: Image.new("1", (320, 320), 1), (255, 255, 255), id="1"),
        pytest.param(
            lambda: Image.fromarray(np.full((320, 320), 40000, dtype=np.uint16)),
            (156, 156, 156),
            id="I;16",
        ),
    ],
)
def test_png_modes_become_rgb(
    make: Callable[[], Image.Image], expected: tuple[int, int, int]
) -> None:
    photo = prepare_photo(encode(make(), "PNG"))

    pixel = decode(photo.jpeg).getpixel((160, 160))
    assert all(abs(got - want) <= 3 for got, want in zip(pixel, expected, strict=True))


def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (320, 320), 0)
    image.putpalette([0, 0, 0, *RED])
    image.info["transparency"] = 0
    return image


def test_cmyk_jpeg_becomes_rgb() -> None:
    photo = prepare_photo(encode(Image.new("CMYK", (400, 300), (0, 255, 255, 0)), "JPEG"))

    red, green, blue = decode(photo.jpeg).getpixel((200, 150))
    assert red > 230 and green < 30 and blue < 30


def test_webp() -> None:
    photo = prepare_photo(encode(marked((640, 480)), "WEBP", quality=90))

    assert photo.source_format == "WEBP"
    assert (photo.width, photo.height) == (640, 480)
    assert decode(photo.jpeg).getpixel((10, 10))[0] > 180


def test_heic() -> None:
    data = encode(marked((640, 480)), "HEIF", quality=90)
    assert data[4:12] == b"ftypheic"

    photo = prepare_photo(data)

    assert photo.source_format == "HEIF"
    assert (photo.width, photo.height) == (640, 480)
    assert decode(photo.jpeg).getpixel((10, 10))[0] > 180


def test_heic_rotation_is_applied_once() -> None:
    # pillow-heif applies the rotation while decoding and resets the EXIF tag to 1.
    data = encode(marked((640, 480)), "HEIF", quality=90, exif=exif_with(6))

    photo = prepare_photo(data)

    assert (photo.width, photo.height) == (480, 640)
    out = decode(photo.jpeg)
    assert out.getpixel((out.width - 10, 10))[0] > 180


def test_iphone_mpo_is_a_still_jpeg() -> None:
    depth = Image.new("RGB", (320, 240), GREEN)
    data = encode(marked((640, 480)), "MPO", save_all=True, append_images=[depth])
    assert Image.open(io.BytesIO(data)).format == "MPO"

    photo = prepare_photo(data)

    assert photo.source_format == "JPEG"
    assert decode(photo.jpeg).getpixel((10, 10))[0] > 180


def test_twelve_megapixel_photo_is_downscaled_to_max_side() -> None:
    image = Image.linear_gradient("L").resize((4032, 3024)).convert("RGB")

    photo = prepare_photo(encode(image, "JPEG", quality=90))

    # Snapped to the half-scale JPEG decode: 2016 is within 5% of max_side and 4x cheaper.
    assert (photo.width, photo.height) == (2016, 1512)
    assert (photo.source_width, photo.source_height) == (4032, 3024)
    assert photo.downscaled and not photo.cropped and photo.notes == ()
    assert decode(photo.jpeg).size == (2016, 1512)


def test_only_jpegs_snap_below_max_side() -> None:
    image = Image.linear_gradient("L").resize((4032, 3024)).convert("RGB")
    assert (prepare_photo(encode(image, "PNG")).width) == 2048
    # Far from a draft scale: exactly max_side.
    assert prepare_photo(encode(image.resize((3000, 2250)), "JPEG")).width == 2048


@pytest.mark.parametrize(
    ("size", "shape", "ratio"),
    [((4000, 1000), "wide", "2.5:1"), ((1000, 4000), "tall", "1:2.5")],
)
def test_extreme_ratio_is_centre_cropped_with_a_note(
    size: tuple[int, int], shape: str, ratio: str
) -> None:
    image = Image.new("RGB", size, BLUE)
    long_side = max(size)
    for start in (0, long_side - 700):  # paint the ends the crop must remove
        box = (start, 0, start + 700, 1000) if size[0] > size[1] else (0, start, 1000, start + 700)
        image.paste(RED, box)

    photo = prepare_photo(encode(image, "PNG"))

    assert photo.cropped and photo.downscaled
    assert photo.notes == (("intake.cropped", {"shape": f"intake.shape.{shape}", "ratio": ratio}),)
    assert max(photo.width, photo.height) == 2048
    assert 2.49 <= max(photo.width, photo.height) / min(photo.width, photo.height) <= 2.5
    out = np.asarray(decode(photo.jpeg))
    assert out[..., 0].max() < 100  # no red left anywhere
    for lang in LANGUAGES:
        (text,) = photo.note_messages(lang)
        assert ratio in text and "{" not in text and "intake." not in text
    assert f"very {shape}" in photo.note_messages("en")[0]


def test_geometry_stays_inside_the_ratio_window() -> None:
    for width in range(300, 6000, 97):
        for height in (300, 301, 999, 1000, 2400, 4001):
            for max_side in (300, 1024, 2048):
                plan = plan_geometry(width, height, max_side=max_side, min_side=300)
                out_w, out_h = plan.size
                assert out_w * 2 <= out_h * 5 and out_h * 2 <= out_w * 5, (width, height)
                assert min(out_w, out_h) >= min(300, width, height)
                crop_w, crop_h = plan.cropped_size
                assert out_w <= crop_w and out_h <= crop_h


def test_min_side_wins_over_max_side_for_long_shapes() -> None:
    plan = plan_geometry(3000, 1000, max_side=600, min_side=300)

    assert plan.size == (750, 300)


def test_output_fits_the_jpeg_byte_cap() -> None:
    # Pure noise: about 1.4 MB at quality 92 and still 450 kB at the ladder's lowest rung.
    data = encode(noise((1200, 1200)), "PNG")
    uncapped = prepare_photo(data)
    assert len(uncapped.jpeg) > 1_000_000

    by_quality = prepare_photo(data, max_jpeg_bytes=1_000_000)
    by_shrinking = prepare_photo(data, max_jpeg_bytes=300_000)

    assert len(by_quality.jpeg) <= 1_000_000 and by_quality.width == 1200
    assert not by_quality.downscaled
    assert len(by_shrinking.jpeg) <= 300_000 and by_shrinking.downscaled
    assert min(by_shrinking.width, by_shrinking.height) >= 300
    for photo in (uncapped, by_quality, by_shrinking):
        assert decode(photo.jpeg).size == (photo.width, photo.height)


def test_embedded_colour_profile_is_converted_to_srgb() -> None:
    image = Image.new("RGB", (400, 300), (255, 0, 0))

    photo = prepare_photo(encode(image, "PNG", icc_profile=swapped_primaries_icc()))

    red, _, blue = decode(photo.jpeg).getpixel((200, 150))
    assert blue > 200 and red < 60


def test_unusable_colour_profile_is_ignored() -> None:
    image = Image.new("RGB", (400, 300), RED)

    photo = prepare_photo(encode(image, "JPEG", icc_profile=b"not a profile at all"))

    assert decode(photo.jpeg).getpixel((200, 150))[0] > 200


# --- facts -------------------------------------------------------------------------------


def test_facts_of_a_bright_blue_photo() -> None:
    image = Image.new("RGB", (1200, 800), (120, 180, 250))
    image.paste((240, 140, 20), (0, 600, 300, 800))  # a small orange boat

    photo = prepare_photo(encode(image, "JPEG", quality=90))

    facts = photo.facts
    assert facts.dominant_colours[0] == "blue"
    assert facts.brightness > 0.6
    assert facts.orientation == "landscape"
    assert (facts.width, facts.height) == (photo.width, photo.height)


def test_facts_of_a_dark_split_image() -> None:
    image = Image.new("RGB", (300, 600), (15, 15, 15))
    image.paste((20, 150, 40), (0, 0, 300, 240))

    facts = read_facts(image)

    assert facts.orientation == "portrait"
    assert facts.dominant_colours[:2] == ("black", "green")
    assert facts.brightness < 0.3


def test_facts_accept_any_mode() -> None:
    assert read_facts(Image.new("RGBA", (100, 100), (0, 0, 0, 0))).dominant_colours == ("white",)
    assert read_facts(Image.new("L", (100, 100), 128)).orientation == "square"


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((30, 90, 220), "blue"),
        ((135, 190, 250), "blue"),
        ((240, 140, 20), "orange"),
        ((40, 170, 60), "green"),
        ((220, 30, 30), "red"),
        ((240, 220, 40), "yellow"),
        ((120, 50, 170), "purple"),
        ((120, 70, 30), "brown"),
        ((245, 245, 245), "white"),
        ((10, 10, 10), "black"),
        ((128, 128, 128), "grey"),
        ((250, 150, 200), "pink"),
        ((0, 128, 128), "teal"),
        ((230, 200, 160), "beige"),
    ],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert colour_name(*rgb) == name


# --- refusals ----------------------------------------------------------------------------

Refusal = tuple[bytes, dict[str, int], str, dict[str, object] | None]


def _refusals() -> dict[str, Refusal]:
    """input bytes, prepare_photo limits, expected code, expected params (None: any)."""
    jpeg = encode(noise((640, 480)), "JPEG", quality=90)
    small = Image.new("RGB", (320, 320), BLUE)
    return {
        "empty": (b"", {}, "intake.empty", {}),
        "too_large": (
            jpeg,
            {"max_bytes": 10_000},
            "intake.too_large",
            {"size_mb": f"{-(-len(jpeg) * 10 // (1024 * 1024)) / 10:g}", "limit_mb": "0.1"},
        ),
        "random_bytes": (random.Random(7).randbytes(4096), {}, "intake.not_image", {}),
        "text": (b"Here is my photo of the Bund!\n" * 20, {}, "intake.not_image", {}),
        "pdf": (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", {}, "intake.not_image", {}),
        "truncated_jpeg": (jpeg[: len(jpeg) // 2], {}, "intake.corrupt", {}),
        "truncated_png": (_half(encode(noise((400, 400)), "PNG")), {}, "intake.corrupt", {}),
        "truncated_webp": (_half(encode(noise((400, 400)), "WEBP")), {}, "intake.corrupt", {}),
        "truncated_heic": (_half(encode(noise((400, 400)), "HEIF")), {}, "intake.corrupt", {}),
        "jpeg_header_only": (jpeg[:20], {}, "intake.corrupt", {}),
        "animated_gif": (frames("GIF"), {}, "intake.animated", {}),
        "animated_webp": (frames("WEBP"), {}, "intake.animated", {}),
        "animated_png": (frames("PNG"), {}, "intake.animated", {}),
        "still_gif": (encode(small, "GIF"), {}, "intake.unsupported_format", {"format": "GIF"}),
        "bmp": (encode(small, "BMP"), {}, "intake.unsupported_format", {"format": "BMP"}),
        "tiff": (encode(small, "TIFF"), {}, "intake.unsupported_format", {"format": "TIFF"}),
        "too_small": (
            encode(Image.new("RGB", (250, 800), BLUE), "PNG"),
            {},
            "intake.too_small",
            {"width": 250, "height": 800, "min_side": 300},
        ),
        "too_small_rotated": (
            encode(Image.new("RGB", (800, 250), BLUE), "JPEG", exif=exif_with(6)),
            {},
            "intake.too_small",
            {"width": 250, "height": 800, "min_side": 300},
        ),
        # Over our max_pixels but under Pillow's own limit: our header check refuses.
        "bomb_ours": (png_declaring(9000, 8000), {}, "intake.bomb", {"megapixels": "72"}),
        # Over Pillow's warning limit: the warning is turned into a refusal.
        "bomb_warning": (
            png_declaring(10_000, 10_000),
            {"max_pixels": 200_000_000},
            "intake.bomb",
            {"megapixels": "100"},
        ),
        # Over twice Pillow's limit: DecompressionBombError while opening.
        "bomb_error": (png_declaring(60_000, 60_000), {}, "intake.bomb", {"megapixels": "3600"}),
        "bomb_real_image": (jpeg, {"max_pixels": 100_000}, "intake.bomb", {"megapixels": "0.3"}),
        "jpeg_too_big_to_fit": (
            encode(noise((600, 600)), "PNG"),
            {"max_jpeg_bytes": 2_000},
            "intake.too_large",
            None,
        ),
    }


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


REFUSALS = _refusals()


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals(case: str) -> None:
    data, limits, code, params = REFUSALS[case]

    with pytest.raises(IntakeError) as caught:
        prepare_photo(data, **limits)  # type: ignore[arg-type]

    assert caught.value.code == code
    if params is not None:
        assert caught.value.params == params
    for lang in LANGUAGES:
        text = caught.value.message(lang)
        assert text.strip() and "{" not in text and "}" not in text
    assert caught.value.message("en") != caught.value.message("zh")


def test_byte_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("decoded an oversize upload")

    monkeypatch.setattr(Image, "open", no_decoding)

    with pytest.raises(IntakeError) as caught:
        prepare_photo(b"\xff\xd8\xff" + b"\0" * 5000, max_bytes=5000)

    assert caught.value.code == "intake.too_large"


def test_every_intake_message_renders_in_both_languages() -> None:
    samples: dict[str, dict[str, object]] = {
        "intake.too_large": {"size_mb": "21.5", "limit_mb": "20"},
        "intake.unsupported_format": {"format": "BMP"},
        "intake.bomb": {"megapixels": "100"},
        "intake.too_small": {"width": 250, "height": 800, "min_side": 300},
        "intake.cropped": {"shape": "intake.shape.tall", "ratio": "1:2.5"},
    }
    for code in ("intake.empty", "intake.not_image", "intake.corrupt", "intake.animated"):
        samples[code] = {}
    for code, params in samples.items():
        assert_renders(code, params)
        assert_renders(IntakeError(code, **params).code, IntakeError(code, **params).params)


def test_truncated_images_stay_refused() -> None:
    # Someone setting this globally would turn half-uploaded photos into grey smears.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_concurrent_intake_keeps_results_and_warning_filters_apart() -> None:
    photo = encode(marked((800, 600)), "JPEG", exif=exif_with(6))
    bomb = png_declaring(60_000, 60_000)  # refused by Pillow inside Image.open
    filters_before = list(warnings.filters)

    def outcome(data: bytes) -> str:
        try:
            return f"{prepare_photo(data).width}"
        except IntakeError as error:
            return error.code

    # Switch threads every microsecond so that two catch_warnings blocks really do overlap
    # without the lock (this test fails most runs when _OPEN_LOCK is taken out).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(outcome, [photo, bomb] * 24))
    finally:
        sys.setswitchinterval(interval)

    assert results == ["600", "intake.bomb"] * 24
    assert warnings.filters == filters_before


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_damaged_files_never_raise_anything_but_intake_error(fmt: str) -> None:
    original = encode(marked((320, 320)), fmt, quality=80)  # PNG ignores quality
    rng = random.Random(fmt)
    outcomes: set[str] = set()
    for _ in range(40):
        damaged = bytearray(original)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(1, len(damaged))]
        for _ in range(rng.randrange(1, 12)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            result = prepare_photo(bytes(damaged))
        except IntakeError as error:
            outcomes.add(error.code)
        else:
            assert isinstance(result, PreparedPhoto)
            outcomes.add("accepted")
    assert outcomes - {"accepted"}, "no mutation was refused: the fuzzing is not biting"


# --- memory: what the header says decides before any pixel is decoded -----------------------

# name -> the outcome intake must reach: "ok" or the refusal's i18n key.
CRAFTED_OUTCOMES = {
    "gray16_png_8000": "intake.too_many_pixels",
    "gray16_png_4000": "ok",
    "palette_png_6000": "intake.too_many_pixels",
    "palette_png_3000": "ok",
    "rgba_png_7000": "intake.too_many_pixels",
    "rgba_png_3500": "intake.too_many_pixels",  # premultiplied alpha doubles it
    "cmyk_jpeg_8000": "ok",
    "rgb_jpeg_8000": "ok",
    "progressive_jpeg_8000": "intake.too_many_pixels",
    "progressive_jpeg_4000": "ok",
    "heic_4032x3024": "ok",
    "webp_6000": "intake.too_many_pixels",
    "webp_2000": "ok",
    "phone_heic_4032x3024": "ok",  # 1.8 MB, as an iPhone sends a photo as a file
    "noisy_heic_4032x3024": "intake.too_many_pixels",  # 13 MB of HEIC at 12 megapixels
    "noisy_png_2600x2000_rgba": "ok",  # 20 MB
    "noisy_jpeg_7000x5000": "ok",  # 19 MB, decoded at 1/4
    "png_30000": "intake.bomb",
    "png_claiming_65535": "intake.bomb",
    "animated_gif": "intake.animated",
    "animated_webp": "intake.animated",
    "animated_png": "intake.animated",
}
PEAK_MIB_PER_PHOTO = 100


@pytest.mark.parametrize("name", sorted(CRAFTED_OUTCOMES))
def test_crafted_photo_is_prepared_or_refused_within_memory(
    name: str, tmp_path: pytest.TempPathFactory
) -> None:
    """Each crafted input, in a fresh process: the expected outcome, and peak RSS bounded."""
    import json
    import subprocess
    from pathlib import Path

    from tests.fakes.crafted_images import crafted

    path = Path(str(tmp_path)) / name
    path.write_bytes(crafted()[name]())
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.crafted_images", str(path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])

    expected = CRAFTED_OUTCOMES[name]
    assert report["outcome"].startswith("ok" if expected == "ok" else f"refused {expected}")
    assert report["peak_delta_mib"] <= PEAK_MIB_PER_PHOTO


def test_sixteen_bit_grey_keeps_its_tones() -> None:
    ramp = np.linspace(0, 65535, 600).astype(np.uint16)
    image = Image.fromarray(np.ascontiguousarray(np.broadcast_to(ramp, (400, 600))))
    assert image.mode.startswith("I;16")

    prepared = prepare_photo(encode(image, "PNG"))

    grey = np.asarray(decode(prepared.jpeg).convert("L"), dtype=np.int32)
    assert grey[:, :20].mean() < 10 and grey[:, -20:].mean() > 245  # scaled, not clipped at 255


def test_too_many_pixels_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.crafted_images import palette_png

    loaded: list[str] = []
    real_load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        loaded.append(self.format or "?")
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    with pytest.raises(IntakeError) as caught:
        prepare_photo(palette_png(6000, 6000))

    assert caught.value.code == "intake.too_many_pixels"
    assert caught.value.params == {"format": "PNG", "megapixels": "36"}
    assert not loaded
    assert "36" in caught.value.message("en") and "36" in caught.value.message("zh")


def test_a_big_jpeg_is_decoded_smaller_rather_than_refused() -> None:
    data = encode(noise((640, 480)).resize((6000, 4500)), "JPEG", quality=80)

    prepared = prepare_photo(data, max_side=4000, max_decode_bytes=40 * 1024 * 1024)

    assert max(prepared.width, prepared.height) <= 3000  # a 1/2 decode, not 4000 px
    assert prepared.source_width == 6000


# --- the LLM's copy --------------------------------------------------------------------------


def test_the_llm_copy_is_made_at_intake_small_upright_and_only_when_asked() -> None:
    data = encode(marked((4000, 3000)), "JPEG", quality=90, exif=exif_with(6))

    photo = prepare_photo(data, with_llm_jpeg=True)

    assert photo.llm_jpeg is not None
    copy = decode(photo.llm_jpeg)
    assert copy.format == "JPEG" and copy.mode == "RGB"
    assert copy.size == (576, LLM_MAX_SIDE)  # upright, like the video-ready JPEG (1536x2048)
    assert copy.getpixel((copy.width - 10, 10))[0] > 180  # red top right, as in photo.jpeg
    assert prepare_photo(data).llm_jpeg is None  # an end frame never goes to the LLM


def test_a_passed_through_photo_gets_its_copy_from_the_one_check_decode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = Image.new("RGB", (1280, 960), BLUE)
    image.paste(RED, (0, 0, 900, 960))
    data = encode(image, "JPEG", quality=87)
    loads = []
    real_load = ImageFile.ImageFile.load

    def counted_load(self: ImageFile.ImageFile) -> object:
        if self.tile:  # pixels still to decode: a real decode, not a no-op on loaded pixels
            loads.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted_load)

    photo = prepare_photo(data, with_llm_jpeg=True)

    assert photo.jpeg == data  # still kept byte for byte
    assert loads == [(640, 480)]  # one decode, at half scale: long side >= LLM_MIN_SIDE
    assert photo.llm_jpeg is not None
    copy = decode(photo.llm_jpeg)
    assert copy.size == (640, 480) and LLM_MIN_SIDE <= max(copy.size) <= LLM_MAX_SIDE
    assert copy.getpixel((10, 10))[0] > 180 and copy.getpixel((630, 10))[2] > 180
    assert photo.facts.dominant_colours[0] == "red"
    # The check decode at half scale still reads every block: a cut-off copy is refused.
    with pytest.raises(IntakeError) as caught:
        prepare_photo(data[: len(data) * 2 // 3], with_llm_jpeg=True)
    assert caught.value.code == "intake.corrupt"


def test_a_stored_photo_without_a_copy_gets_one_and_junk_gets_none() -> None:
    stored = prepare_photo(encode(marked((2048, 1536)), "JPEG", quality=90)).jpeg

    copy = llm_jpeg_of(stored)

    assert copy is not None
    assert decode(copy).size == (512, 384)  # a quarter-scale decode keeps LLM_MIN_SIDE
    assert llm_jpeg_of(b"not a photo") is None
    assert llm_jpeg_of(stored[: len(stored) // 2]) is None


def test_the_copy_lives_beside_its_photo() -> None:
    photo = Path("/data/photos/0123abcd.jpg")
    assert llm_copy_path(photo) == Path("/data/photos/0123abcd.llm.jpg")
