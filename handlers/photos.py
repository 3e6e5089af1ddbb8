"""Photos in: a photo (compressed, or sent as a file) starts a shot; an album, several."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from html import escape

from telegram import InputFile, Message, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, MessageHandler, filters

from bot.domain.errors import StudioError
from bot.domain.records import RevisionRecord, ShotRecord
from bot.domain.states import ShotState
from bot.domain.types import Actor, Origin
from bot.i18n import t
from bot.media.intake import IntakeError
from handlers import render
from handlers.common import (
    Context,
    actor_for,
    chat_action,
    reply_html,
    send_html,
    services,
    settings,
    thread_of,
)
from handlers.drafts import show_draft
from handlers.groups import addressed_caption, in_group

log = logging.getLogger(__name__)

# The cloud Bot API's getFile limit; a self-hosted server has none.
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
FRAMED_NOTE = "aspect.cropped"  # intake's note that the photo was cut to the project's shape


async def on_photo(update: Update, context: Context) -> None:
    """A photo with a caption becomes a shot and a draft; without one, we ask for a line."""
    if update.edited_message is not None:
        await on_edited_caption(update, context)
        return
    message = update.effective_message
    assert message is not None
    caption = message.caption
    if in_group(message):
        # In a group only a photo meant for the bot: /clay …, @bot …, or a reply to it.
        addressed, caption = addressed_caption(message, context.bot.username)
        if not addressed:
            return
    actor = await actor_for(update, context)
    data = await _download_photo(context, actor, message)
    if data is None:
        return
    thread = message.message_thread_id if message.is_topic_message else None
    origin = Origin(
        chat_id=message.chat_id,
        message_id=message.message_id,
        thread_id=thread,
        file_id=_file_id(message),
        media_group_id=message.media_group_id,
    )
    if message.media_group_id:
        await _add_album_photo(context, actor, message, data, origin)
        return
    if message.reply_to_message is not None:
        from handlers.stills import try_end_frame  # a reply to a draft sets its end frame

        if await try_end_frame(context, actor, message, data):
            return
    try:
        async with chat_action(context.bot, message.chat_id, thread_id=thread):
            outcome = await services(context).drafting.add_photo(
                actor, data, caption, origin, shape=context.shape
            )
    except IntakeError as error:
        await reply_html(context, message, error.message(actor.lang))
        return
    shown = outcome.notes
    if outcome.framed is not None:
        await _show_framing(context, actor, message, outcome.framed, outcome.notes)
        shown = tuple(note for note in outcome.notes if note[0] != FRAMED_NOTE)
    notes = "\n".join(_note_text(key, params, actor.lang) for key, params in shown)
    if outcome.draft is None:
        ask = await reply_html(
            context,
            message,
            "\n\n".join(filter(None, [notes, t("ask.description", actor.lang)])),
            render.ask_keyboard(outcome.shot, actor.lang),
        )
        await services(context).drafting.remember_message(
            ask.chat_id, ask.message_id, "ask", shot_id=outcome.shot.id
        )
        return
    await show_draft(
        context,
        actor,
        outcome.draft,
        chat_id=message.chat_id,
        thread_id=thread,
        reply_to=message.message_id,
        notes=notes,
    )


async def on_edited_caption(update: Update, context: Context) -> None:
    """A photo's caption edited later: the shot's description changes, never a new shot."""
    message = update.edited_message
    assert message is not None
    caption = message.caption
    if in_group(message):
        addressed, stripped = addressed_caption(message, context.bot.username)
        caption = stripped if addressed else caption
    actor = await actor_for(update, context)
    try:
        outcome = await services(context).drafting.recaption(
            actor, message.chat_id, message.message_id, caption
        )
    except StudioError:
        outcome = None
    if outcome is None:
        if not in_group(message):  # in a group, an edit we know nothing of is not for us
            await reply_html(context, message, t("edit.not_a_shot", actor.lang))
        return
    if not outcome.changed:
        if not (caption or "").strip():
            await reply_html(context, message, t("edit.caption_removed", actor.lang))
        return
    if outcome.revision is not None:
        await show_draft(
            context,
            actor,
            outcome.revision,
            chat_id=message.chat_id,
            thread_id=message.message_thread_id if message.is_topic_message else None,
            reply_to=message.message_id,
            notes="ℹ️ " + t("edit.redrafted", actor.lang),
        )
        return
    await reply_html(
        context,
        message,
        t("edit.description_updated", actor.lang),
        render.redraft_keyboard(outcome.shot, actor.lang),
    )


async def _download_photo(context: Context, actor: Actor, message: Message) -> bytes | None:
    """The largest size of the photo, or None after telling the user why not."""
    size = (
        message.photo[-1].file_size
        if message.photo
        else (message.document.file_size if message.document else None)
    )
    limit = settings(context).max_upload_bytes
    if _uses_cloud_api(context):
        limit = min(limit, CLOUD_DOWNLOAD_LIMIT)
    if size and size > limit:
        await reply_html(
            context,
            message,
            t("intake.too_large", actor.lang, size_mb=_mb(size), limit_mb=_mb(limit)),
        )
        return None
    try:
        telegram_file = await context.bot.get_file(_file_id(message))
        return bytes(await telegram_file.download_as_bytearray())
    except TelegramError as error:
        # Never log the file URL: it contains the bot token.
        log.warning("photo download failed: %s", type(error).__name__)
        await reply_html(context, message, t("error.download", actor.lang))
        return None


def _file_id(message: Message) -> str:
    if message.photo:
        return message.photo[-1].file_id  # Telegram lists sizes smallest first
    assert message.document is not None
    return message.document.file_id


def _uses_cloud_api(context: Context) -> bool:
    from bot.config import DEFAULT_TELEGRAM_API_URL

    return settings(context).telegram_api_url == DEFAULT_TELEGRAM_API_URL


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


async def _show_framing(
    context: Context,
    actor: Actor,
    message: Message,
    framed: bytes,
    notes: tuple[tuple[str, dict], ...],
) -> None:
    """The photo as cut to the project's shape, small, before its draft: what the clips
    will show, so a bad cut is seen before anything is paid for."""
    params = next((p for key, p in notes if key == FRAMED_NOTE), {})
    await context.bot.send_photo(
        message.chat_id,
        photo=InputFile(framed, filename="framed.jpg"),
        caption=escape(_note_text(FRAMED_NOTE, params, actor.lang)),
        parse_mode=ParseMode.HTML,
        message_thread_id=thread_of(message),
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
    )


def _note_text(key: str, params: dict, lang: str) -> str:
    localised = {
        k: t(v, lang) if isinstance(v, str) and v.startswith("intake.") else v
        for k, v in params.items()
    }
    return "ℹ️ " + t(key, lang, **localised)


# --- albums ------------------------------------------------------------------------------


async def _add_album_photo(
    context: Context, actor: Actor, message: Message, data: bytes, origin: Origin
) -> None:
    """One photo of an album: store it now, answer the whole album once it is complete."""
    try:
        await services(context).drafting.add_photo(
            actor, data, message.caption, origin, draft=False, shape=context.shape
        )
    except IntakeError as error:
        await reply_html(context, message, error.message(actor.lang))
    assert message.media_group_id is not None
    await services(context).albums.note_album_photo(message.chat_id, message.media_group_id)
    context.application.create_task(
        _answer_album_when_quiet(context, actor, message, message.media_group_id),
        update=None,
        name=f"album-{message.media_group_id}",
    )


async def _answer_album_when_quiet(
    context: Context, actor: Actor, message: Message, media_group_id: str
) -> None:
    """Telegram sends an album as separate updates; answer once, when no more arrive."""
    debounce = settings(context).album_debounce_s
    await asyncio.sleep(debounce)
    shots = await services(context).albums.claim_album(actor, media_group_id, quiet_for=debounce)
    if not shots:
        return  # more photos came in (a later task answers), or another instance answered
    description = next((s.description for s in shots if s.description), None)
    revisions: dict[int, RevisionRecord] = {}
    if description:
        for shot in shots:
            revisions[shot.id] = await services(context).drafting.describe(
                actor, shot.id, description
            )
    await _send_album_answer(context, actor, message, shots, revisions)


async def _send_album_answer(
    context: Context,
    actor: Actor,
    message: Message,
    shots: Sequence[ShotRecord],
    revisions: dict[int, RevisionRecord],
) -> None:
    project = await services(context).projects.project_of(shots[0])
    answer = await send_html(
        context,
        message.chat_id,
        render.album_text(project, shots, revisions, actor.lang),
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=shots[0].message_id,
        # With still first on (a group's default) each still is approved before paying,
        # so no button spends on the whole album at once.
        markup=render.album_keyboard(
            shots,
            revisions,
            actor.lang,
            generate_all=not (await services(context).chat_settings.view(actor)).still_first,
        ),
    )
    await services(context).drafting.remember_message(
        answer.chat_id, answer.message_id, "album", shot_id=shots[0].id
    )


async def describe_album(
    context: Context, actor: Actor, message: Message, shot_id: int, text: str
) -> None:
    """A reply to an album's answer: that line describes every shot in it."""
    shots = await services(context).albums.album_shots(actor, shot_id)
    revisions: dict[int, RevisionRecord] = {}
    for shot in shots:
        if shot.status == ShotState.CANCELLED:
            continue
        try:
            revisions[shot.id] = await services(context).drafting.describe(actor, shot.id, text)
        except StudioError:
            continue
    live = [s for s in shots if s.id in revisions]
    if live:
        await _send_album_answer(context, actor, message, live, revisions)


def register(app: Application) -> None:
    """A photo, compressed or sent as an image file (its caption edits come here too)."""
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.IMAGE, on_photo))
