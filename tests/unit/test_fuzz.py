"""Property-based fuzzing of what strangers control: the photos they send, the buttons they
forge. A fixed, derandomized example budget keeps this fast and the same on every run."""

from __future__ import annotations

import io
import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.i18n import LANGUAGES
from bot.media.intake import RATIO_DEN, RATIO_NUM, IntakeError, PreparedPhoto, prepare_photo
from handlers import callbacks as cb

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pillow format -> the modes it can save.
SAVABLE = {
    "JPEG": ("L", "RGB", "CMYK"),
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "WEBP": ("RGB", "RGBA"),
    "GIF": ("L", "P"),
    "BMP": ("1", "L", "P", "RGB"),
    "TIFF": ("1", "L", "RGB", "RGBA", "CMYK", "I;16", "F"),
}


@st.composite
def image_files(draw: st.DrawFn) -> bytes:
    """An encoded image of any savable format/mode/size, maybe truncated or damaged."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2048))
    fmt = draw(st.sampled_from(sorted(SAVABLE)))
    mode = draw(st.sampled_from(SAVABLE[fmt]))
    width = draw(st.integers(1, 900))
    height = draw(st.integers(1, 900))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode if mode not in ("I;16", "I", "F") else "L")
    if mode in ("I;16", "I", "F"):
        image = image.convert("I").point(lambda value: value * 257).convert(mode)
    buffer = io.BytesIO()
    options = {"quality": draw(st.integers(30, 95))} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "JPEG" and draw(st.booleans()):
        options["progressive"] = True
    image.save(buffer, fmt, **options)
    data = buffer.getvalue()
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip" and data:
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]
    return data


@FUZZ
@given(
    data=image_files(), min_side=st.sampled_from([16, 300]), max_side=st.sampled_from([256, 2048])
)
def test_intake_prepares_within_limits_or_refuses_in_words(
    data: bytes, min_side: int, max_side: int
) -> None:
    try:
        prepared = prepare_photo(data, min_side=min_side, max_side=max_side)
    except IntakeError as error:
        for lang in LANGUAGES:
            text = error.message(lang)
            assert text.strip() and "{" not in text
        return
    assert isinstance(prepared, PreparedPhoto)
    assert min_side <= min(prepared.width, prepared.height)
    assert max(prepared.width, prepared.height) <= max(max_side, min_side * RATIO_NUM)
    long_side, short_side = (
        max(prepared.width, prepared.height),
        min(prepared.width, prepared.height),
    )
    assert long_side * RATIO_DEN <= short_side * RATIO_NUM
    assert len(prepared.jpeg) <= 10 * 1024 * 1024
    with Image.open(io.BytesIO(prepared.jpeg)) as result:
        assert result.format == "JPEG" and result.size == (prepared.width, prepared.height)


ACTIONS = [value for name, value in vars(cb).items() if name.isupper() and isinstance(value, str)]


def _fits(data: str) -> bool:
    return len(data.encode("utf-8")) <= cb.MAX_CALLBACK_BYTES


numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.text(alphabet="0123456789-+ ²١٢_xe", max_size=25),
)
callback_data = st.one_of(
    st.text(max_size=64),
    st.builds(
        lambda action, number, arg: f"{action}:{number}" + ("" if arg is None else f":{arg}"),
        st.sampled_from(ACTIONS + ["", "zz", "G"]),
        numbers,
        st.none() | st.text(max_size=20),
    ),
).filter(_fits)


@FUZZ
@given(data=callback_data)
def test_callback_data_parses_to_an_in_range_button_or_is_refused(data: str) -> None:
    button = cb.parse(data)
    if button is None:
        return
    assert re.fullmatch(r"[a-z]{1,3}", button.action)
    assert (0 if button.action == cb.LANG else 1) <= button.row_id <= cb.MAX_ROW_ID
    assert cb.encode(button.action, button.row_id, button.arg) == data  # nothing reinterpreted
    if button.action in ACTIONS:
        assert re.match(cb.pattern(button.action), data)  # its handler will see it


def test_a_row_id_has_one_spelling() -> None:
    # "a:01" and "a:1" would be the same button: only what encode makes is accepted, so
    # a forged spelling never passes for a real one (hypothesis found this one).
    assert cb.parse("a:01") is None and cb.parse("cs:007:x") is None
    assert cb.parse("a:1") == cb.Button("a", 1) and cb.parse("l:0") == cb.Button("l", 0)
