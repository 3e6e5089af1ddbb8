"""/cancel: stop the user's queued clip, or drop their waiting draft, and say which."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.i18n import t
from bot.services.cancelling import Outcome
from handlers.common import Context, actor_for, reply_html, services

log = logging.getLogger(__name__)


async def on_cancel(update: Update, context: Context) -> None:
    """/cancel: the user's newest queued take, else their newest ungenerated draft."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    cancelled = await services(context).cancelling.cancel_latest(actor)
    if cancelled.outcome is Outcome.TAKE and cancelled.status_message is not None:
        chat_id, message_id = cancelled.status_message
        try:  # the status message stops offering ✖ for a take that is gone
            await context.bot.edit_message_text(
                t("status.cancelled", actor.lang),
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
            )
        except TelegramError as error:
            log.info("status message not updated after /cancel: %s", type(error).__name__)
    key = f"cancel.{cancelled.outcome.value}"
    await reply_html(context, message, t(key, actor.lang, position=cancelled.position or "?"))


def register(app: Application) -> None:
    """/cancel."""
    app.add_handler(CommandHandler("cancel", on_cancel))
