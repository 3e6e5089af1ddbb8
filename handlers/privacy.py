"""/forget (after a confirmation) and /export (a zip of the current project)."""

from __future__ import annotations

import asyncio

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.i18n import t
from handlers import callbacks as cb
from handlers.common import (
    Context,
    actor_for,
    button,
    chat_action,
    edit_html,
    reply_html,
    services,
    settings,
)
from handlers.groups import in_group


async def on_forget(update: Update, context: Context) -> None:
    """/forget: ask first; only the person who asked can confirm."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("forget.yes", actor.lang),
                    callback_data=cb.encode(cb.FORGET, actor.user_id, "yes"),
                ),
                InlineKeyboardButton(
                    t("forget.no", actor.lang),
                    callback_data=cb.encode(cb.FORGET, actor.user_id, "no"),
                ),
            ]
        ]
    )
    await reply_html(context, message, t("forget.confirm", actor.lang), keyboard)


@button
async def on_forget_chosen(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🗑 Yes: delete everything the user owns, rows and files; No: nothing happens."""
    if data.row_id != actor.user_id:
        raise StudioError("forget.not_yours")
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    if data.arg != "yes":
        await edit_html(message, t("forget.kept", actor.lang))
        return None
    done = await services(context).accounts.forget(actor.user_id)
    await edit_html(
        message, t("forget.done", actor.lang, projects=done.projects, files=done.files)
    )
    return None


async def on_export(update: Update, context: Context) -> None:
    """/export: the current project as a zip (photos, prompts as Markdown and JSON, clips)."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    thread = message.message_thread_id if message.is_topic_message else None
    limit_bytes = settings(context).export_limit_bytes
    limit_mb = limit_bytes // (1024 * 1024)
    try:
        async with (
            chat_action(
                context.bot, message.chat_id, ChatAction.UPLOAD_DOCUMENT, thread_id=thread
            ),
            services(context).accounts.exported(actor, limit_bytes=limit_bytes) as export,
        ):
            caption = t("export.caption", actor.lang, shots=export.shots, clips=export.clips)
            if export.skipped_clips:
                left_out = len(export.skipped_clips)
                caption += "\n" + t("export.skipped", actor.lang, count=left_out, limit=limit_mb)
            handle = await asyncio.to_thread(export.path.open, "rb")
            with handle:  # streamed from disk by the HTTP client, never read whole into memory
                await context.bot.send_document(
                    message.chat_id,
                    InputFile(handle, filename=export.filename, read_file_handle=False),
                    caption=caption,
                    message_thread_id=thread,
                    reply_parameters=(
                        ReplyParameters(message.message_id, allow_sending_without_reply=True)
                        if in_group(message)
                        else None
                    ),
                    read_timeout=300,
                    write_timeout=300,
                )
    except StudioError as error:  # nothing to send: even without clips it is too large
        await reply_html(context, message, t(error.key, actor.lang, **error.params))


def register(app: Application) -> None:
    """/export and /forget, and the button that confirms forgetting."""
    app.add_handler(CommandHandler("export", on_export))
    app.add_handler(CommandHandler("forget", on_forget))
    app.add_handler(CallbackQueryHandler(on_forget_chosen, pattern=cb.pattern(cb.FORGET)))
