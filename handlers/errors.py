"""Before every update: drop redeliveries and log one line. After a crash: tell people."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.domain.types import Verdict
from bot.i18n import language_for, t
from bot.reports import ErrorReports
from handlers.common import Context, send_html, sender_of, services, settings, thread_of

log = logging.getLogger("claymate.updates")

# One report per kind of error in this many seconds; the rest are counted (bot/reports.py).
REPORT_WINDOW_S = 60.0


async def on_any_update(update: object, context: Context) -> None:
    """Runs first for every update: skip one Telegram delivered before, log the rest."""
    if not isinstance(update, Update):
        return
    user, chat = update.effective_user, update.effective_chat
    # The allowlist applies to people who ask for something: service updates
    # (my_chat_member, …) carry nobody to refuse.
    # Nor does a payment: the Stars are taken already, so it is always credited.
    paid = update.message is not None and update.message.successful_payment is not None
    asks = (
        user is not None
        and not paid
        and (
            update.effective_message is not None
            or update.callback_query is not None
            or update.inline_query is not None  # the clips it lists are for users let in
        )
    )
    # A private chat or a button on our message is certainly for us: the gate records the
    # sender too, in the same unit of work. (In a group, only once a handler decides.)
    for_us = asks and chat is not None and (chat.type == "private" or update.callback_query)
    admission = await services(context).accounts.admit_update(
        update.update_id,
        user.id if user else None,
        chat.id if chat else None,
        check_access=asks,
        sender=sender_of(update) if for_us else None,
    )
    if admission.duplicate:
        log.info("update %s: duplicate, skipped", update.update_id)
        raise ApplicationHandlerStop
    context.actor, context.shape = admission.actor, admission.shape
    log.info(
        "update %s: %s in chat %s from user %s",
        update.update_id,
        _kind(update),
        chat.id if chat else "-",
        user.id if user else "-",
    )
    if admission.verdict is not Verdict.ADMIT:
        # Not on the allowlist: told once, and refused before any paid work can start.
        from handlers.admin import refuse

        await refuse(update, context, admission.verdict)


def _kind(update: Update) -> str:
    if update.callback_query:
        action = (update.callback_query.data or "").split(":", 1)[0]
        return f"button {action}"
    message = update.effective_message
    if message is None:
        return "other"
    if message.photo:
        return "photo" + (" (album)" if message.media_group_id else "")
    if message.document:
        return "document"
    if message.text and message.text.startswith("/"):
        return f"command {message.text.split()[0].split('@')[0]}"
    if message.reply_to_message:
        return "reply"
    return "text"


async def on_error(update: object, context: Context) -> None:
    """Log with context, tell the operator, and give the user an apology with a next step."""
    error = context.error
    # PTB's BadRequest is a NetworkError subclass, but it is our mistake, not the network's:
    # it is reported like any other error, never waited out. One is not: a button answered
    # already, or pressed long ago, is a query Telegram no longer takes an answer for.
    refused = isinstance(error, BadRequest) and "query is too old" not in str(error).lower()
    quiet = isinstance(error, (RetryAfter, NetworkError))
    if quiet and not (isinstance(error, Forbidden) or refused):
        log.warning("telegram: %s", type(error).__name__)
        return
    summary = _kind(update) if isinstance(update, Update) else "no update"
    log.error("unhandled error while handling %s", summary, exc_info=error)
    admin_chat = settings(context).admin_chat_id
    if admin_chat and _reports(context, admin_chat).admit(_report_title(error, summary)):
        text = f"{_report_title(error, summary)}:\n<code>{html.escape(str(error)[:500])}</code>"
        try:
            await context.bot.send_message(admin_chat, text, parse_mode="HTML")
        except Exception:
            log.warning("could not report the error to the admin chat")
    if isinstance(update, Update) and update.effective_chat:
        lang = language_for(update.effective_user.language_code if update.effective_user else None)
        apology = "error.telegram_refused" if refused else "error.unexpected"
        try:
            if update.callback_query:
                await update.callback_query.answer(t(apology, lang), show_alert=True)
            else:
                await send_html(
                    context,
                    update.effective_chat.id,
                    t(apology, lang),
                    thread_id=thread_of(update.effective_message),
                )
        except Exception:
            log.warning("could not apologise in chat %s", update.effective_chat.id)


def _report_title(error: object, summary: str) -> str:
    """The kind of an error report: what failed, and while doing what."""
    name = html.escape(type(error).__name__)
    return f"⚠️ <b>{name}</b> while handling {html.escape(summary)}"


def _reports(context: Context, admin_chat: int) -> ErrorReports:
    """The application's report throttle, made on the first error."""
    reports = context.bot_data.get("error_reports")
    if reports is None:
        bot = context.bot

        async def send_summary(title: str, count: int) -> None:
            text = f"{title}: …and {count} more like this in the last minute"
            await bot.send_message(admin_chat, text, parse_mode="HTML")

        reports = ErrorReports(send_summary, window_s=REPORT_WINDOW_S)
        context.bot_data["error_reports"] = reports
    return reports


def register(app: Application) -> None:
    """The gate every update passes first, and the handler for whatever crashes later."""
    app.add_handler(TypeHandler(Update, on_any_update), group=-1)
    app.add_error_handler(on_error)
