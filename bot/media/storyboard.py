"""The contact sheet: a project's shots in order on one picture, readable on a phone.

A function of the board and the image files on disk; the use case that reads the board
from the database is bot.services.projects.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.domain.aspect import ratio
from bot.domain.types import Board, BoardShot
from bot.media.fonts import load_font

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

BOARD_WIDTH = 1080
BOARD_MARGIN = 24
TILE_GAP = 18
THUMB_ASPECT = 9 / 16  # height over width: with no project shape, tiles are 16:9


def first_words(text: str, count: int) -> str:
    """The start of a prompt for a tile: `count` words, or 24 characters of unspaced text."""
    words = text.split()
    if len(words) == 1 and len(text) > 24:  # Chinese has no spaces: cut by characters
        return text[:24] + "…"
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


# --- the contact sheet ------------------------------------------------------------------


def board_columns(count: int) -> int:
    return 2 if count <= 4 else 3 if count <= 30 else 4


@dataclass(frozen=True, slots=True)
class BoardLayout:
    """Where everything goes on the sheet; the thumbnails' boxes in shot order."""

    size: tuple[int, int]
    header_h: int
    text_size: int
    thumbs: list[tuple[int, int, int, int]]  # x, y, width, height


def board_layout(count: int, width: int = BOARD_WIDTH, aspect: str | None = None) -> BoardLayout:
    """Tiles in the project's shape (`aspect`; None: 16:9); tall tiles get one more column,
    so a vertical project's sheet still fits a phone's screen."""
    count = max(1, count)
    columns = board_columns(count)
    tall = aspect is not None and ratio(aspect) < 1
    if tall:
        columns = min(columns + 1, max(2, count))
    tile_w = (width - 2 * BOARD_MARGIN - (columns - 1) * TILE_GAP) // columns
    thumb_h = round(tile_w / ratio(aspect)) if aspect else round(tile_w * THUMB_ASPECT)
    text_size = max(18, tile_w // 14)
    tile_h = thumb_h + text_size * 3 + 12
    rows = -(-count // columns)
    header_h = max(48, width // 16)
    height = header_h + BOARD_MARGIN + rows * tile_h + (rows - 1) * TILE_GAP + BOARD_MARGIN
    thumbs = []
    for index in range(count):
        row, col = divmod(index, columns)
        x = BOARD_MARGIN + col * (tile_w + TILE_GAP)
        y = header_h + BOARD_MARGIN + row * (tile_h + TILE_GAP)
        thumbs.append((x, y, tile_w, thumb_h))
    return BoardLayout((width, height), header_h, text_size, thumbs)


def render_board(board: Board, *, kept_label: str = "KEPT", width: int = BOARD_WIDTH) -> bytes:
    """The contact sheet as a JPEG: a tile per shot in order, readable on a phone."""
    layout = board_layout(len(board.shots), width, board.project.aspect)
    header_h, text_size = layout.header_h, layout.text_size
    sheet = Image.new("RGB", layout.size, (242, 232, 216))
    draw = ImageDraw.Draw(sheet)
    title_font = load_font(header_h * 3 // 5, board.project.title)
    draw.text(
        (BOARD_MARGIN, BOARD_MARGIN // 2),
        _fit(draw, board.project.title, title_font, width - 2 * BOARD_MARGIN),
        font=title_font,
        fill=(90, 50, 30),
    )
    all_words = " ".join(i.words for i in board.shots)
    font = load_font(text_size, all_words)
    bold = load_font(round(text_size * 1.2), "")
    for item, (x, y, tile_w, thumb_h) in zip(board.shots, layout.thumbs, strict=False):
        sheet.paste(_tile_picture(item, (tile_w, thumb_h)), (x, y))
        if item.kept:
            draw.rectangle(
                (x, y, x + tile_w - 1, y + thumb_h - 1), outline=(230, 160, 20), width=6
            )
            badge = f"★ {kept_label}"
            bw = draw.textlength(badge, font=font) + 16
            draw.rectangle((x + 6, y + 6, x + 6 + bw, y + 6 + text_size + 10), fill=(230, 160, 20))
            draw.text((x + 14, y + 10), badge, font=font, fill=(255, 255, 255))
        number = str(item.number)
        nw = draw.textlength(number, font=bold) + 18
        draw.rectangle(
            (x + tile_w - nw - 6, y + 6, x + tile_w - 6, y + 12 + text_size * 1.2),
            fill=(90, 50, 30),
        )
        draw.text((x + tile_w - nw + 3, y + 8), number, font=bold, fill=(255, 255, 255))
        line_y = y + thumb_h + 6
        for line in _wrap(draw, item.words, font, tile_w, lines=2):
            draw.text((x, line_y), line, font=font, fill=(60, 40, 30))
            line_y += text_size + 4
        if item.stars is not None:
            draw.text((x, line_y), f"★ {item.stars}", font=font, fill=(200, 130, 10))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def _tile_picture(item: BoardShot, size: tuple[int, int]) -> Image.Image:
    """The kept take's first frame; else (or if the clip will not decode) the still or photo."""
    if item.frame_clip is not None:
        frame = first_frame(item.frame_clip)
        if frame is not None:
            return ImageOps.fit(frame, size)
    return _thumbnail(item.image_path, size)


def first_frame(clip: Path) -> Image.Image | None:
    """A clip's first picture, as RGB; None when the file is missing or not a video."""
    try:
        with av.open(str(clip)) as container:
            if not container.streams.video:
                return None
            for frame in container.decode(container.streams.video[0]):
                return frame.to_image().convert("RGB")
    except (av.FFmpegError, OSError, ValueError):
        return None
    return None


def _thumbnail(path: Path, size: tuple[int, int]) -> Image.Image:
    try:
        with Image.open(path) as image:
            return ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), size)
    except (OSError, ValueError):  # a photo deleted from disk still gets its tile
        return Image.new("RGB", size, (180, 170, 160))


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: Font, width: float, *, lines: int
) -> list[str]:
    """Greedy wrap by words (by characters for text without spaces), at most `lines`."""
    tokens = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    out: list[str] = []
    current = ""
    for token in tokens:
        candidate = f"{current}{joiner}{token}" if current else token
        if draw.textlength(candidate, font=font) <= width:
            current = candidate
            continue
        out.append(current)
        current = token
        if len(out) == lines:
            break
    if len(out) < lines and current:
        out.append(current)
    elif len(out) == lines and current:
        out[-1] = _fit(draw, out[-1] + joiner + current, font, width)
    return out[:lines]
