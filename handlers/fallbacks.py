"""Messages the bot cannot start a shot from: say in a line what to send instead."""

from __future__ import annotations

from telegram import Message, Update

from bot.i18n import t
from handlers.common import Context, actor_for, reply_html
from handlers.groups import addressed_caption, in_group

# Message field -> the answer's i18n key. An animation also carries a `document`, so
# it is named before anything that would read it as a file.
OTHER_KINDS: tuple[tuple[str, str], ...] = (
    ("sticker", "other.sticker"),
    ("animation", "other.animation"),
    ("video_note", "other.video_note"),
    ("video", "other.video"),
    ("voice", "other.voice"),
    ("audio", "other.audio"),
)


def other_kind(message: Message) -> str | None:
    """The answer's key for a message we cannot use, None for anything else."""
    return next((key for field, key in OTHER_KINDS if getattr(message, field, None)), None)


async def on_other_media(update: Update, context: Context) -> None:
    """A sticker, video, voice note, audio, video note or animation: what to send instead."""
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
