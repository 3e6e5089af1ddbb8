"""Voice notes replying to a draft: heard, shown, and used as the reply's words.

A voice note (or a short audio message) in reply to a draft, or to the question about a
waiting photo, goes the way a typed reply goes, once written down. Anything else keeps
its old meaning: an audio file is the film's music (handlers/music.py), and a voice note
that replies to nothing of ours gets the usual "send a photo" answer.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from html import escape

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, MessageHandler, filters

from bot.domain.errors import StudioError
from bot.i18n import t
from bot.services.voice import MAX_VOICE_SECONDS
from handlers.common import Context, actor_for, chat_action, reply_html, services, thread_of
from handlers.drafts import answer_reply
from handlers.fallbacks import on_other_media
from handlers.music import on_song

log = logging.getLogger(__name__)

# What a reply's words can change: a draft, a delivered clip's draft, a waiting photo.
_WORDS_FOR = frozenset({"draft", "clip", "ask", "album"})


async def on_voice_reply(update: Update, context: Context) -> None:
    """A voice note replying to a draft: refine it with what was said."""
    message = update.message
    if message is None or not await _for_a_draft(context, message):
        await _as_before(update, context)
        return
    media = message.voice or message.audio
    assert media is not None
    seconds = _seconds(media.duration)
    if message.audio is not None and seconds > MAX_VOICE_SECONDS:
        await on_song(update, context)  # a whole song replying to a draft is music
        return
    actor = await actor_for(update, context)
    voice = services(context).voice
    try:
        voice.check(seconds, media.file_size)
        data = await _download(context, media.file_id)
        if data is None:
            await reply_html(context, message, t("error.download", actor.lang))
            return
        async with chat_action(context.bot, message.chat_id, thread_id=thread_of(message)):
            text = await voice.transcribe(actor, data, _filename(message))
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    await reply_html(context, message, t("voice.heard", actor.lang, text=escape(text)))
    await answer_reply(update, context, text)


async def _for_a_draft(context: Context, message: Message) -> bool:
    replied = message.reply_to_message
    if replied is None:
        return False
    ref = await services(context).drafting.message_ref(message.chat_id, replied.message_id)
    return ref is not None and ref.kind in _WORDS_FOR


async def _as_before(update: Update, context: Context) -> None:
    """Not for a draft: an audio file is music, a voice note is answered as media."""
    message = update.effective_message
    if message is not None and message.audio is not None:
        await on_song(update, context)
    else:
        await on_other_media(update, context)


def _seconds(duration: int | timedelta | None) -> float:
    """Telegram's duration, an int or (newer PTB settings) a timedelta."""
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    return float(duration or 0)


# What an audio message's type means as a file name the transcription endpoint accepts.
_SUFFIXES = {
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mp4": "m4a", "audio/x-m4a": "m4a",
    "audio/aac": "m4a", "audio/wav": "wav", "audio/x-wav": "wav", "audio/flac": "flac",
    "audio/webm": "webm", "audio/ogg": "ogg",
}  # fmt: skip


def _filename(message: Message) -> str:
    """A name whose extension tells the endpoint the format (voice notes are ogg/opus)."""
    audio = message.audio
    if audio is None:
        return "voice.ogg"
    if audio.file_name and "." in audio.file_name:
        return audio.file_name
    return f"audio.{_SUFFIXES.get(audio.mime_type or '', 'ogg')}"


async def _download(context: Context, file_id: str) -> bytes | None:
    try:
        telegram_file = await context.bot.get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())
    except TelegramError as error:
        # Never log the file URL: it contains the bot token.
        log.warning("voice note download failed: %s", type(error).__name__)
        return None


def register(app: Application) -> None:
    """Voice notes and audio replying to a message: before music takes audio files."""
    app.add_handler(
        MessageHandler(filters.REPLY & (filters.VOICE | filters.AUDIO), on_voice_reply)
    )
