"""The story as a whole: /board (contact sheet, ⬆️ ⬇️ to reorder), /move, /drop and /film."""

from __future__ import annotations

import asyncio
from html import escape
from pathlib import Path

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor, Board
from bot.i18n import t
from bot.media.storyboard import render_board
from bot.services.film_cache import FilmOrder
from bot.services.projects import FILM_CROSSFADE_S, Projects
from handlers import callbacks as cb
from handlers.common import (
    Context,
    actor_for,
    button,
    chat_action,
    reply_html,
    services,
    thread_of,
)
from handlers.groups import member_status

CAPTION_LIMIT = 1024
KEYBOARD_SHOTS = 30  # Telegram allows 100 buttons; two per shot, and a board stays legible


def storyboard(context: Context) -> Projects:
    return services(context).projects


async def on_board(update: Update, context: Context) -> None:
    """/board: one picture of the project's shots in order, with ⬆️ ⬇️ to reorder them."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    board = await storyboard(context).board(actor)
    if not board.shots:
        await reply_html(context, message, t("board.empty", actor.lang))
        return
    await _send_board(context, message, board, actor.lang)


async def on_move(update: Update, context: Context) -> None:
    """/move 3 1: shot 3 becomes shot 1."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    args = context.args or []
    if len(args) != 2 or not all(a.isdigit() for a in args):
        await reply_html(context, message, t("board.move_usage", actor.lang))
        return
    try:
        board = await storyboard(context).move(actor, int(args[0]), int(args[1]))
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    await _send_board(context, message, board, actor.lang)


async def on_drop(update: Update, context: Context) -> None:
    """/drop 3: shot 3 leaves the story."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    args = context.args or []
    if len(args) != 1 or not args[0].isdigit():
        await reply_html(context, message, t("board.drop_usage", actor.lang))
        return
    try:
        board = await storyboard(context).drop(
            actor, int(args[0]), fetch_status=member_status(context, actor)
        )
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    if not board.shots:
        await reply_html(context, message, t("board.empty", actor.lang))
        return
    await _send_board(context, message, board, actor.lang)


async def on_film(update: Update, context: Context) -> None:
    """/film: the kept take of every shot, in order, as one video."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    notice = await reply_html(context, message, t("film.assembling", actor.lang))
    # `/film cut`: straight cuts, no title card (a lossless stream copy when clips match).
    cut = bool(context.args and context.args[0].lower() in ("cut", "plain"))
    await _deliver_film(
        context.bot,
        storyboard(context),
        actor,
        notice,
        thread_id=thread_of(message),
        title=not cut,
        crossfade_s=0.0 if cut else FILM_CROSSFADE_S,
    )


async def film_to_chat(bot: Bot, projects: Projects, actor: Actor, project_id: int) -> None:
    """🎞 Make film from the Mini App: the project's chat gets the film as /film sends it."""
    notice = await bot.send_message(
        actor.chat_id, t("film.assembling", actor.lang), parse_mode=ParseMode.HTML
    )
    await _deliver_film(bot, projects, actor, notice, thread_id=None, project_id=project_id)


async def _deliver_film(
    bot: Bot,
    projects: Projects,
    actor: Actor,
    notice: Message,
    *,
    thread_id: int | None,
    title: bool = True,
    crossfade_s: float = FILM_CROSSFADE_S,
    project_id: int | None = None,
) -> None:
    """The film to the chat: re-sent by file_id when nothing it is made of changed since
    Telegram last got it, else assembled (encoded again to fit the upload limit, and the
    chat told so), uploaded and remembered. `notice` says it is coming, and goes after."""
    chat_id = notice.chat_id
    async with chat_action(bot, chat_id, ChatAction.UPLOAD_VIDEO, thread_id=thread_id):
        try:
            order = await projects.film_or_copy(
                actor, title=title, crossfade_s=crossfade_s, project_id=project_id
            )
            if order.sent is not None:
                try:
                    await _send_film(bot, chat_id, thread_id, order, actor.lang)
                    await notice.delete()
                    return
                except BadRequest:  # Telegram no longer has that file: make it again
                    order = await projects.film_copy_refused(order)
        except StudioError as error:
            await notice.edit_text(t(error.key, actor.lang, **error.params), parse_mode="HTML")
            return
        assert order.film is not None
        if order.refitted:
            sizes = {
                "limit_mb": _mb(projects.upload_limit_bytes),
                "size_mb": _mb(order.film.size_bytes),
            }
            await _say(bot, chat_id, t("film.refitted", actor.lang, **sizes), thread_id)
        try:
            sent = await _send_film(bot, chat_id, thread_id, order, actor.lang)
        finally:  # the chat has its copy (or the upload failed): none stays on the server
            await asyncio.to_thread(order.film.path.unlink, missing_ok=True)
        if sent.video is not None:
            await projects.film_sent(order, sent.video.file_id)
    await notice.delete()


async def _say(bot: Bot, chat_id: int, text: str, thread_id: int | None) -> Message:
    """A plain HTML message in the film's chat and topic (not a reply: the Mini App has none)."""
    return await bot.send_message(
        chat_id, text, parse_mode=ParseMode.HTML, message_thread_id=thread_id
    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


async def _send_film(
    bot: Bot, chat_id: int, thread_id: int | None, order: FilmOrder, lang: str
) -> Message:
    """Send the kept copy by file_id, or upload the new film straight from disk (the HTTP
    client streams the file).

    The cover, what the chat shows before the film plays, is the first kept shot's clay
    still (or its photo): a picture of the story, not a title card's first frame.
    """
    board = order.cut.board
    title = escape(board.project.title)
    if order.sent is not None:
        sent = order.sent
        seconds = round(sent.duration_s)
        return await bot.send_video(
            chat_id,
            video=sent.file_id,
            duration=seconds or None,
            width=sent.width,
            height=sent.height,
            supports_streaming=True,
            caption=t("film.caption", lang, title=title, clips=sent.clips, seconds=seconds),
            parse_mode=ParseMode.HTML,
            message_thread_id=thread_id,
        )
    film = order.film
    assert film is not None
    cover_path = next((item.image_path for item in board.shots if item.clip), None)
    cover = await asyncio.to_thread(_picture, cover_path) if cover_path else None
    handle = await asyncio.to_thread(film.path.open, "rb")
    with handle:
        return await bot.send_video(
            chat_id,
            video=InputFile(
                handle, filename=f"{board.project.id}-film.mp4", read_file_handle=False
            ),
            cover=InputFile(cover, filename="cover.jpg") if cover else None,
            duration=round(film.duration_s) or None,
            width=film.width,
            height=film.height,
            supports_streaming=True,
            caption=t(
                "film.caption",
                lang,
                title=title,
                clips=film.clips,
                seconds=round(film.duration_s),
            ),
            parse_mode=ParseMode.HTML,
            message_thread_id=thread_id,
            reply_parameters=None,
            read_timeout=300,
            write_timeout=300,
        )


def _picture(path: Path) -> bytes | None:
    """The cover's bytes, or None if the file has gone (the film is sent without one)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


@button
async def on_nudge_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """⬆️ / ⬇️ on the board: move a shot one place, and redraw the board."""
    step = -1 if data.action == cb.MOVE_UP else 1
    board = await storyboard(context).nudge(actor, data.row_id, step)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    picture = await asyncio.to_thread(render_board, board, kept_label=t("board.kept", actor.lang))
    await message.edit_media(
        InputMediaPhoto(
            picture, caption=board_caption(board, actor.lang), parse_mode=ParseMode.HTML
        ),
        reply_markup=board_keyboard(board),
    )
    return None


async def _send_board(context: Context, message: Message, board: Board, lang: str) -> None:
    picture = await asyncio.to_thread(render_board, board, kept_label=t("board.kept", lang))
    await context.bot.send_photo(
        message.chat_id,
        photo=InputFile(picture, filename="board.jpg"),
        caption=board_caption(board, lang),
        parse_mode=ParseMode.HTML,
        message_thread_id=thread_of(message),
        reply_markup=board_keyboard(board),
    )


def board_caption(board: Board, lang: str) -> str:
    lines = [t("board.title", lang, title=escape(board.project.title), shots=len(board.shots))]
    for item in board.shots:
        mark = " ⭐" if item.kept else (" 🎞" if item.clip else "")
        lines.append(f"{item.number}. {escape(item.words[:60])}{mark}")
    hint = t("board.hint", lang)
    text = "\n".join(lines)
    room = CAPTION_LIMIT - len(hint) - 2
    if len(text) > room:
        text = text[: room - 1].rsplit("\n", 1)[0] + "\n…"
    return f"{text}\n{hint}"


def board_keyboard(board: Board) -> InlineKeyboardMarkup | None:
    rows = []
    shots = board.shots[:KEYBOARD_SHOTS]
    for index, item in enumerate(shots):
        row = []
        if index > 0:
            row.append(_button(f"⬆️ {item.number}", cb.MOVE_UP, item.shot.id))
        if index < len(board.shots) - 1:
            row.append(_button(f"⬇️ {item.number}", cb.MOVE_DOWN, item.shot.id))
        if row:
            rows.append(row)
    return InlineKeyboardMarkup(rows) if rows else None


def _button(text: str, action: str, row_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=cb.encode(action, row_id))


COMMANDS = {"board": on_board, "move": on_move, "drop": on_drop, "film": on_film}
BUTTONS = {cb.MOVE_UP: on_nudge_pressed, cb.MOVE_DOWN: on_nudge_pressed}


def register(app: Application) -> None:
    """/board, /move, /drop and /film, and the board's ⬆️ ⬇️."""
    for name, command in COMMANDS.items():
        app.add_handler(CommandHandler(name, command))
    for action, handler in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
