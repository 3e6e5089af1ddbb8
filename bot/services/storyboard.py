"""The story as a whole: the shots in order on one contact sheet, reordering, and the film.

The creator of the film that inspired Claymate ordered his shots "from large to small, with
small details of life between"; this is where a user does the same. A shot's clip in the
film is its ⭐ kept take, or its latest delivered take where none is kept.
"""

from __future__ import annotations

import asyncio
import io
import sys
import uuid
from argparse import Namespace
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.config import Settings
from bot.domain.errors import StudioError
from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.files import make_private, private_dir
from bot.i18n import t
from bot.media.film import FilmError, FilmResult, assemble_film
from bot.media.fonts import load_font
from bot.services.studio import Studio
from storage.models import Project, Shot, Take
from storage.uow import UnitOfWork

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

BOARD_WIDTH = 1080
BOARD_MARGIN = 24
TILE_GAP = 18
THUMB_ASPECT = 9 / 16  # thumbnails are cropped to 16:9, the shape of most clips
PROMPT_WORDS = 8
FILM_CROSSFADE_S = 0.3


@dataclass(frozen=True, slots=True)
class BoardShot:
    """One shot as the board shows it."""

    shot: Shot
    image_path: Path  # the chosen clay still, else the photo
    words: str  # the first words of its current prompt (or its description)
    clip: Take | None  # kept take, else the latest delivered one
    kept: bool
    stars: int | None  # ⭐ votes for its clip, None where votes are not kept

    @property
    def number(self) -> int:
        return self.shot.position


@dataclass(frozen=True, slots=True)
class Board:
    project: Project
    shots: list[BoardShot]


class Storyboard:
    """Board, reorder, drop and film for the chat's current project."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.films_dir = studio.settings.data_dir / "films"

    async def board(self, actor: Actor, project_id: int | None = None) -> Board:
        """The current project's shots (or `project_id`'s, if it belongs to this chat)."""
        project = await self._project(actor, project_id)
        async with self.studio.db.session() as session:
            uow = UnitOfWork(session)
            shots = await uow.projects.project_shots(project.id)
            stars = await uow.takes.take_star_counts([s.id for s in shots])
            items = []
            for shot in shots:
                delivered = [
                    t
                    for t in await uow.takes.shot_takes(shot.id)
                    if t.status == TakeState.DELIVERED
                ]
                kept = next((t for t in delivered if t.id == shot.kept_take_id), None)
                clip = kept or (delivered[-1] if delivered else None)
                revision = (
                    await uow.projects.get_revision(shot.current_revision_id)
                    if shot.current_revision_id
                    else None
                )
                text = revision.prompt if revision else (shot.description or "")
                items.append(
                    BoardShot(
                        shot=shot,
                        image_path=Path(shot.still_path or shot.photo_path),
                        words=first_words(text, PROMPT_WORDS),
                        clip=clip,
                        kept=kept is not None,
                        stars=stars.get(clip.id, 0) if clip else None,
                    )
                )
        return Board(project, items)

    async def move(self, actor: Actor, number: int, to: int) -> Board:
        """/move 3 1: shot 3 becomes shot 1, the others close up behind it."""
        board = await self.board(actor)
        ids = [item.shot.id for item in board.shots]
        numbers = [item.number for item in board.shots]
        if number not in numbers:
            raise StudioError("board.no_such_shot", number=number)
        to = max(1, min(to, len(ids)))
        shot_id = ids.pop(numbers.index(number))
        ids.insert(to - 1, shot_id)
        await self._reorder(board.project.id, ids)
        return await self.board(actor)

    async def nudge(self, actor: Actor, shot_id: int, step: int) -> Board:
        """⬆️ / ⬇️ on the board: one place earlier or later."""
        shot = await self.studio.shot_by_id(actor, shot_id)
        return await self.move(actor, shot.position, shot.position + step)

    async def drop(
        self,
        actor: Actor,
        number: int,
        *,
        fetch_status: Callable[[], Awaitable[str]] | None = None,
    ) -> Board:
        """/drop 3: the shot leaves the story (its takes stay in the history)."""
        board = await self.board(actor)
        item = next((i for i in board.shots if i.number == number), None)
        if item is None:
            raise StudioError("board.no_such_shot", number=number)
        await self.studio.cancel_shot(actor, item.shot.id, fetch_status=fetch_status)
        await self._reorder(board.project.id, [i.shot.id for i in board.shots if i is not item])
        return await self.board(actor)

    async def film(
        self,
        actor: Actor,
        *,
        title: bool = True,
        crossfade_s: float = FILM_CROSSFADE_S,
        out: Path | None = None,
        project_id: int | None = None,
    ) -> tuple[Board, FilmResult]:
        """The kept take of each shot, in order, as one MP4 under the upload limit."""
        board = await self.board(actor, project_id)
        clips = [Path(i.clip.clip_path) for i in board.shots if i.clip and i.clip.clip_path]
        clips = [p for p in clips if p.is_file()]
        if not clips:
            raise StudioError("film.no_clips")
        # A random name, never the project id; the chat's copy is removed once sent.
        dest = out or private_dir(self.films_dir) / f"film-{uuid.uuid4().hex}.mp4"
        try:
            async with self.studio.heavy_work():  # seconds to minutes on a worker thread
                result = await asyncio.to_thread(
                    assemble_film,
                    clips,
                    dest,
                    title=board.project.title if title and not _untitled(board.project) else None,
                    crossfade_s=crossfade_s,
                    limit_bytes=self.studio.settings.upload_limit_bytes,
                )
        except FilmError as error:
            raise StudioError("film.failed") from error
        if out is None:
            make_private(result.path)
        return board, result

    async def find_project(self, chat_id: int, ref: str) -> Project | None:
        """A project by id, or by title within `chat_id` (the command line's lookup)."""
        async with self.studio.db.session() as session:
            uow = UnitOfWork(session)
            if ref.isdigit() and (project := await uow.projects.get_project(int(ref))) is not None:
                return project
            return await uow.projects.find_project(chat_id, ref)

    async def _project(self, actor: Actor, project_id: int | None) -> Project:
        if project_id is None:
            return await self.studio.current_project(actor)
        async with self.studio.db.session() as session:
            project = await UnitOfWork(session).projects.get_project(project_id)
        if project is None or project.chat_id != actor.chat_id:
            raise StudioError("project.not_found")
        return project

    async def _reorder(self, project_id: int, shot_ids: list[int]) -> None:
        async with self.studio.db.session() as session:
            await UnitOfWork(session).projects.reorder_shots(project_id, shot_ids)


def _untitled(project: Project) -> bool:
    """A project nobody named ("Untitled <date>", see Studio) gets no title card."""
    return project.title.startswith("Untitled ")


def first_words(text: str, count: int) -> str:
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


def board_layout(count: int, width: int = BOARD_WIDTH) -> BoardLayout:
    count = max(1, count)
    columns = board_columns(count)
    tile_w = (width - 2 * BOARD_MARGIN - (columns - 1) * TILE_GAP) // columns
    thumb_h = round(tile_w * THUMB_ASPECT)
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
    layout = board_layout(len(board.shots), width)
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
        sheet.paste(_thumbnail(item.image_path, (tile_w, thumb_h)), (x, y))
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


async def film_from_cli(settings: Settings, args: Namespace, chat_id: int, user_id: int) -> int:
    """`claymate film PROJECT [--out FILE]`: the same film /film sends, written to a file."""
    from bot.wiring import build_services

    services = await build_services(settings)
    try:
        board = Storyboard(services.studio)
        project = await board.find_project(chat_id, args.project)
        if project is None:
            print(f"claymate: {t('cli.no_such_project', name=args.project)}", file=sys.stderr)
            return 1
        actor = Actor(user_id=user_id, chat_id=project.chat_id, chat_type="cli")
        try:
            _, film = await board.film(
                actor,
                title=not args.no_title,
                crossfade_s=args.crossfade,
                out=args.out,
                project_id=project.id,
            )
        except StudioError as error:
            print(f"claymate: {t(error.key, None, **error.params)}", file=sys.stderr)
            return 1
        print(f"film: {film.path}")
        print(
            f"      {film.clips} clips, {film.width}x{film.height}, {film.duration_s:.1f} s, "
            f"{film.size_bytes / 1e6:.1f} MB ({film.method})"
        )
        return 0
    finally:
        await services.aclose()
