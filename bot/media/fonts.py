"""Fonts for every picture with text in it, found on this machine at run time.

Chinese titles and captions need a CJK font, and a font without the glyphs draws empty
boxes rather than failing. So a font counts as CJK only after it has drawn a few Chinese
characters as distinct, non-empty glyphs unlike its missing-glyph box. The search order:
the `CLAYMATE_CJK_FONT` setting (handed over at start-up with `use_cjk_font`), then
fontconfig's choice for Chinese (`fc-match`), then the usual install paths of Noto Sans
CJK, Source Han Sans, WenQuanYi and the macOS and Windows system fonts.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

# Characters a CJK font must draw, each differently: common, and in every Chinese font.
PROBE_TEXT = "黏土动画"
# Code points no font has a glyph for (a private-use one and a noncharacter): what they
# draw is the font's missing-glyph box.
_MISSING = ("\ue000", "\U0010fffd")


@dataclass(frozen=True, slots=True)
class FontFile:
    """A font file and the face inside it (a .ttc collection holds several)."""

    path: Path
    index: int = 0


# Noto Sans CJK collections hold JP, KR, SC, TC, HK in that order: face 2 draws Chinese
# the way mainland readers expect.
_KNOWN_CJK = (
    FontFile(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"), 2),
    FontFile(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    FontFile(Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"), 2),
    FontFile(Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"), 2),
    FontFile(Path("/usr/share/fonts/opentype/source-han-sans/SourceHanSansSC-Regular.otf")),
    FontFile(Path("/usr/share/fonts/adobe-source-han-sans/SourceHanSansCN-Regular.otf")),
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")),
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")),
    FontFile(Path("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc")),
    FontFile(Path("/System/Library/Fonts/PingFang.ttc")),
    FontFile(Path("/System/Library/Fonts/STHeiti Medium.ttc")),
    FontFile(Path("C:/Windows/Fonts/msyh.ttc")),
)
_LATIN = (
    FontFile(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")),
    FontFile(Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")),
)

_configured: Path | None = None


def use_cjk_font(path: Path | None) -> None:
    """Prefer the font at `path` (the `CLAYMATE_CJK_FONT` setting) for Chinese text."""
    global _configured  # set once at start-up, read by every picture that draws text
    if path != _configured:
        _configured = path
        cjk_font.cache_clear()


@lru_cache(maxsize=1)
def cjk_font() -> FontFile | None:
    """The font that draws Chinese here, or None when this machine has none."""
    found = find_cjk_font(_configured)
    if found is None:
        log.warning("no CJK font found: Chinese text in pictures will show as boxes")
    return found


def find_cjk_font(configured: Path | None = None) -> FontFile | None:
    """The first font that really draws Chinese: configured, fontconfig's, known paths."""
    if configured is not None:
        if draws_chinese(FontFile(configured)):
            return FontFile(configured)
        log.warning("CLAYMATE_CJK_FONT=%s does not draw Chinese; looking elsewhere", configured)
    for candidate in (*_fontconfig_choice(), *_KNOWN_CJK):
        if candidate.path.is_file() and draws_chinese(candidate):
            return candidate
    return None


def _fontconfig_choice() -> list[FontFile]:
    """fontconfig's best font for Simplified Chinese, when fc-match is installed."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return []
    try:
        result = subprocess.run(
            [fc_match, "--format=%{file}\\n%{index}", ":lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    lines = result.stdout.splitlines()
    if result.returncode != 0 or not lines or not lines[0]:
        return []
    index = int(lines[1]) if len(lines) > 1 and lines[1].strip().isdigit() else 0
    return [FontFile(Path(lines[0]), index)]


Glyph = tuple[tuple[int, int], bytes]


def glyph_bitmap(font: Font, char: str) -> Glyph:
    """The 1-bit picture `font` draws for `char`, cropped to its ink: size and bits."""
    left, top, right, bottom = (int(v) for v in font.getbbox(char))
    size = (max(1, right - left), max(1, bottom - top))
    image = Image.new("1", size, 0)
    ImageDraw.Draw(image).text((-left, -top), char, font=font, fill=1)
    return size, image.tobytes()


def draws_chinese(font_file: FontFile, text: str = PROBE_TEXT) -> bool:
    """Whether the font draws each character of `text` as a real, distinct glyph."""
    try:
        font = ImageFont.truetype(str(font_file.path), 32, index=font_file.index)
    except OSError:
        return False
    missing = {glyph_bitmap(font, char) for char in _MISSING}
    glyphs = [glyph_bitmap(font, char) for char in text]
    inked = all(any(bits) for _, bits in glyphs)
    return inked and len(set(glyphs)) == len(glyphs) and not missing & set(glyphs)


def needs_cjk(text: str) -> bool:
    """Whether `text` has characters beyond Latin, Greek and Cyrillic (CJK, kana, ...)."""
    return any(ord(ch) > 0x2E7F for ch in text)


def load_font(size: int, text: str = "") -> Font:
    """A font that can draw `text` at `size` px: the CJK font when it needs one."""
    cjk = cjk_font()
    candidates = [*_LATIN, *([cjk] if cjk else [])]
    if needs_cjk(text) and cjk is not None:
        candidates = [cjk, *_LATIN]
    for candidate in candidates:
        font = _truetype(candidate, size)
        if font is not None:
            return font
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # an old Pillow, or one built without FreeType
        return ImageFont.load_default()


@lru_cache(maxsize=64)
def _truetype(font_file: FontFile, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(str(font_file.path), size, index=font_file.index)
    except OSError:
        return None
