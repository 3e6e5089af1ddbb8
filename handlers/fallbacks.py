"""What no other handler took: say in a line what to send instead.

Registered last, so each handler here sees only what the others left.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.i18n import language_for, t
from handlers.common import Context, actor_for, reply_html
from handlers.continuity import describe_next_shot
from handlers.groups import addressed_caption, in_group

# Message field -> the answer's i18n key. An animation also carries a `document`, so
# it is named before anything that would read it as a file.
OTHER_KINDS: tuple[tuple[str, str], ...] = (
    ("sticker", "other.sticker"),
    ("animation", "other.animation"),
    ("video_note", "other.video_note"),
    ("video", "other.video"),
    ("voice", "other.voice"),
)


def other_kind(message: Message) -> str | None:
    """The answer's key for a message we cannot use, None for anything else."""
    return next((key for field, key in OTHER_KINDS if getattr(message, field, None)), None)


async def on_other_media(update: Update, context: Context) -> None:
    """A sticker, video, voice note, video note or animation: what to send instead.

    (A song is the film's music: handlers/music.py takes it before this.)
    """
    message = update.message
    if message is None:  # an edit asks for nothing new
        return
    key = other_kind(message)
    if key is None:
        return
    # In a group only when addressed to the bot (/clay, @bot, a reply to it): never chatter.
    if in_group(message) and not addressed_caption(message, context.bot.username)[0]:
        return
    actor = await actor_for(update, context)
    await reply_html(context, message, t(key, actor.lang))


async def on_other_document(update: Update, context: Context) -> None:
    """A file that is not an image: say what we take instead."""
    message = update.message
    if message is None:  # an edited caption on a file asks for nothing new
        return
    if in_group(message) and not addressed_caption(message, context.bot.username)[0]:
        return
    actor = await actor_for(update, context)
    await reply_html(context, message, t("intake.not_image", actor.lang))


async def on_text_outside_flow(update: Update, context: Context) -> None:
    """Text that is not a reply to a draft: a short hint about what to do."""
    if in_group(update.effective_message):
        return  # group chatter is not for us: no hint spam
    actor = await actor_for(update, context)
    assert update.effective_message is not None
    text = update.effective_message.text or ""
    if await describe_next_shot(update, context, actor, text):
        return  # the line for a shot ➡️ Continue started
    await reply_html(context, update.effective_message, t("hint.send_photo", actor.lang))


async def on_unknown_button(update: Update, context: Context) -> None:
    """A button we don't know: answer politely so the user's spinner stops."""
    query = update.callback_query
    assert query is not None
    lang = language_for(query.from_user.language_code if query.from_user else None)
    await query.answer(t("button.stale", lang), show_alert=True)


OTHER_MEDIA = (
    filters.Sticker.ALL
    | filters.ANIMATION
    | filters.VIDEO_NOTE
    | filters.VIDEO
    | filters.VOICE
    | filters.AUDIO
)


def register(app: Application) -> None:
    """Media we cannot use, other files, stray text, and buttons of old versions or forgeries."""
    # An animation also carries a `document`: it is answered as media before any file is.
    app.add_handler(MessageHandler(OTHER_MEDIA, on_other_media))
    app.add_handler(MessageHandler(filters.Document.ALL, on_other_document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text_outside_flow))
    app.add_handler(CallbackQueryHandler(on_unknown_button))
