"""The film's music and words: /music, /subtitles, /narration, and a song sent to the chat."""

from __future__ import annotations

import logging
from html import escape

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.i18n import t
from bot.services.soundtracks import MAX_SONG_BYTES, FilmSoundView
from handlers.common import Context, actor_for, reply_html, services
from handlers.groups import in_group, member_status

log = logging.getLogger(__name__)


async def on_music(update: Update, context: Context) -> None:
    """/music: what the film plays; /music calm, /music off."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    choice = (context.args or [""])[0].lower()
    soundtracks = services(context).soundtracks
    fetch = member_status(context, actor)
    try:
        if choice == "":
            view = await soundtracks.show(actor)
        elif choice == "calm":
            view = await soundtracks.use_calm(actor, fetch_status=fetch)
        elif choice in ("off", "none"):
            view = await soundtracks.no_music(actor, fetch_status=fetch)
        else:
            await reply_html(context, message, t("music.usage", actor.lang))
            return
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    await reply_html(context, message, music_text(view, actor.lang))


async def on_subtitles(update: Update, context: Context) -> None:
    """/subtitles on|off: each shot's line on the film, or none."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    choice = (context.args or [""])[0].lower()
    soundtracks = services(context).soundtracks
    try:
        if choice in ("on", "off"):
            view = await soundtracks.set_subtitles(
                actor, choice == "on", fetch_status=member_status(context, actor)
            )
        elif choice == "":
            view = await soundtracks.show(actor)
        else:
            await reply_html(context, message, t("subtitles.usage", actor.lang))
            return
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    key = "subtitles.on" if view.subtitles else "subtitles.off"
    await reply_html(context, message, t(key, actor.lang, title=escape(view.title)))


async def on_narration(update: Update, context: Context) -> None:
    """/narration on|off: each shot's line read aloud over the film, or not."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    choice = (context.args or [""])[0].lower()
    narration = services(context).narration
    try:
        if choice in ("on", "off"):
            view = await narration.set(
                actor, choice == "on", fetch_status=member_status(context, actor)
            )
        elif choice == "":
            view = await narration.show(actor)
        else:
            await reply_html(context, message, t("narration.usage", actor.lang))
            return
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    if not view.available:
        await reply_html(context, message, t("narration.needs_key", actor.lang))
        return
    key = "narration.on" if view.on else "narration.off"
    await reply_html(context, message, t(key, actor.lang, title=escape(view.title)))


async def on_song(update: Update, context: Context) -> None:
    """An audio file becomes the current project's music (in a group, only when meant so)."""
    message = update.effective_message
    assert message is not None
    if in_group(message) and not _meant_for_us(message, context.bot.username, context.bot.id):
        return
    actor = await actor_for(update, context)
    audio = message.audio or message.document
    assert audio is not None
    data = await _download(context, actor, message)
    if data is None:
        return
    try:
        view = await services(context).soundtracks.use_song(
            actor, data, audio.file_name, fetch_status=member_status(context, actor)
        )
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    await reply_html(context, message, music_text(view, actor.lang))


def music_text(view: FilmSoundView, lang: str) -> str:
    key = {"calm": "music.calm", "song": "music.song"}.get(view.music or "", "music.none")
    return t(key, lang, title=escape(view.title))


def _meant_for_us(message: Message, username: str | None, bot_id: int) -> bool:
    """A group shares songs for many reasons: only one sent with /music, mentioning the
    bot, or in reply to the bot counts."""
    caption = (message.caption or "").lower()
    replied = message.reply_to_message
    return (
        caption.startswith("/music")
        or (bool(username) and f"@{str(username).lower()}" in caption)
        or (
            replied is not None
            and replied.from_user is not None
            and replied.from_user.id == bot_id
        )
    )


async def _download(context: Context, actor: Actor, message: Message) -> bytes | None:
    audio = message.audio or message.document
    assert audio is not None
    if audio.file_size and audio.file_size > MAX_SONG_BYTES:
        limit_mb = MAX_SONG_BYTES // (1024 * 1024)
        await reply_html(context, message, t("music.too_large", actor.lang, limit_mb=limit_mb))
        return None
    try:
        telegram_file = await context.bot.get_file(audio.file_id)
        return bytes(await telegram_file.download_as_bytearray())
    except TelegramError as error:
        # Never log the file URL: it contains the bot token.
        log.warning("song download failed: %s", type(error).__name__)
        await reply_html(context, message, t("error.download", actor.lang))
        return None


def register(app: Application) -> None:
    """/music, /subtitles, /narration, and audio files (sent as music, or as a document)."""
    app.add_handler(CommandHandler("music", on_music))
    app.add_handler(CommandHandler("subtitles", on_subtitles))
    app.add_handler(CommandHandler("narration", on_narration))
    app.add_handler(MessageHandler(filters.AUDIO | filters.Document.AUDIO, on_song))
