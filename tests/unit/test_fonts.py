"""Chinese in pictures: a font is found at run time and draws real glyphs, not boxes.

Where the machine has no CJK font the glyph tests skip, saying so; CI installs one and
sets CLAYMATE_REQUIRE_CJK_FONT=1, which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.config import ConfigError, load_settings
from bot.media import fonts
from bot.media.film import title_card
from bot.media.fonts import FontFile, draws_chinese, find_cjk_font, glyph_bitmap, load_font

CHINESE = "外滩黄昏电车驶过"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


@pytest.fixture(autouse=True)
def no_configured_font() -> Iterator[None]:
    """Each test starts from the run-time search, as a fresh process does."""
    fonts.use_cjk_font(None)
    yield
    fonts.use_cjk_font(None)


@pytest.fixture(scope="module")
def cjk() -> FontFile:
    found = find_cjk_font()
    if found is None:
        if os.environ.get("CLAYMATE_REQUIRE_CJK_FONT") == "1":
            pytest.fail("no CJK font installed, and CLAYMATE_REQUIRE_CJK_FONT=1 requires one")
        pytest.skip("no CJK font on this machine (apt-get install fonts-wqy-microhei)")
    return found


def test_the_found_font_draws_every_character_as_its_own_glyph(cjk: FontFile) -> None:
    font = ImageFont.truetype(str(cjk.path), 40, index=cjk.index)
    glyphs = [glyph_bitmap(font, char) for char in CHINESE]
    missing = glyph_bitmap(font, "\ue000")  # a private-use code point: the missing-glyph box
    assert all(any(bits) for _, bits in glyphs), "a character drew no ink"
    assert len(set(glyphs)) == len(set(CHINESE)), "two characters drew the same picture"
    assert missing not in glyphs, "a character drew the missing-glyph box"


def test_chinese_text_picks_the_cjk_font(cjk: FontFile) -> None:
    font = load_font(30, "黏土 Bund")
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert Path(font.path) == cjk.path
    assert draws_chinese(FontFile(Path(font.path), font.index), CHINESE)


def test_a_rendered_line_of_chinese_has_one_shape_per_character(cjk: FontFile) -> None:
    """Drawn as a line, the characters stay apart and differ: no run of equal boxes."""
    font = load_font(48, CHINESE)
    image = Image.new("L", (48 * len(CHINESE) + 40, 80), 0)
    ImageDraw.Draw(image).text((20, 10), CHINESE, font=font, fill=255)
    ink = np.asarray(image) > 128
    columns = ink.any(axis=0)
    edges = np.flatnonzero(np.diff(columns.astype(int)) == 1)
    assert len(edges) >= len(CHINESE) - 2  # a few characters may touch their neighbour
    cells = [ink[:, 20 + i * 48 : 20 + (i + 1) * 48] for i in range(len(CHINESE))]
    assert len({cell.tobytes() for cell in cells}) == len(CHINESE)


def test_title_cards_of_two_chinese_titles_differ_where_the_letters_are(cjk: FontFile) -> None:
    one = np.asarray(title_card("外滩黄昏", (640, 360)), np.float32)
    two = np.asarray(title_card("黏土动画", (640, 360)), np.float32)
    letters = (slice(140, 220), slice(200, 440))
    assert np.abs(one[letters] - two[letters]).mean() > 8


def test_a_latin_font_is_not_taken_for_a_cjk_one() -> None:
    if not DEJAVU.is_file():
        pytest.skip("DejaVu Sans is not installed here")
    assert not draws_chinese(FontFile(DEJAVU))


def test_a_missing_file_draws_nothing(tmp_path: Path) -> None:
    assert not draws_chinese(FontFile(tmp_path / "nothing.ttf"))


def test_the_setting_wins_when_it_draws_chinese(cjk: FontFile, tmp_path: Path) -> None:
    copy = tmp_path / "my-cjk-font.ttc"
    copy.write_bytes(cjk.path.read_bytes())
    fonts.use_cjk_font(copy)
    assert fonts.cjk_font() == FontFile(copy)
    font = load_font(20, "外滩")
    assert isinstance(font, ImageFont.FreeTypeFont) and Path(font.path) == copy


def test_a_setting_that_cannot_draw_chinese_falls_back_to_the_search(cjk: FontFile) -> None:
    if not DEJAVU.is_file():
        pytest.skip("DejaVu Sans is not installed here")
    assert find_cjk_font(DEJAVU) == find_cjk_font()


def test_the_setting_must_name_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CLAYMATE_CJK_FONT"):
        load_settings(CLAYMATE_CJK_FONT=str(tmp_path / "missing.ttc"))
    font = tmp_path / "font.ttc"
    font.write_bytes(b"")
    assert load_settings(CLAYMATE_CJK_FONT=str(font)).cjk_font == font
    assert load_settings(CLAYMATE_CJK_FONT="").cjk_font is None


def test_without_any_font_latin_text_still_gets_a_font() -> None:
    assert load_font(16, "PREVIEW") is not None
