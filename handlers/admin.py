"""Access and money: the allowlist gate, /usage, /lang, and the operators' commands.

Operators are the ids in CLAYMATE_ADMIN_IDS; everything here changes the database, so
every instance sees a change with its next update and nothing needs a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackQueryHandler, CommandHandler

from bot.domain.types import Actor, Allowance, Verdict
from bot.i18n import language_for, t
from bot.services.access import ACCESS_MODES
from bot.services.budget import Usage
from handlers import callbacks as cb
from handlers.common import Context, actor_for, button, edit_html, reply_html, send_html, services

log = logging.getLogger(__name__)


async def refuse(update: Update, context: Context, verdict: Verdict) -> None:
    """Someone not on the allowlist is told once, then ignored; no handler runs.

    Decided before any download or LLM call (handlers/errors.py), so it costs nothing.
    """
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    log.info("update %s: refused (not on the allowlist)", update.update_id)
    lang = language_for(user.language_code)
    if update.callback_query is not None:
        await update.callback_query.answer(t("access.refused", lang), show_alert=True)
    elif verdict is Verdict.REFUSE and chat is not None:
        await send_html(context, chat.id, t("access.refused", lang))
    raise ApplicationHandlerStop


@dataclass(frozen=True, slots=True)
class _OperatorCommand:
    args: list[str]
    actor: Actor
    message: Message


async def _operator_command(update: Update, context: Context) -> _OperatorCommand | None:
    """The command, its arguments and who sent it, if an operator did; otherwise say no."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    if not services(context).permissions.is_operator(actor.user_id):
        await reply_html(context, message, t("admin.only_operators", actor.lang))
        return None
    return _OperatorCommand(list(context.args or []), actor, message)


def _subject(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


async def on_allow(update: Update, context: Context) -> None:
    """/allow <user or chat id>: let them in (enables the allowlist if it was off)."""
    await _set_access(update, context, allowed=True)


async def on_deny(update: Update, context: Context) -> None:
    """/deny <user or chat id>: keep them out from their next message on."""
    await _set_access(update, context, allowed=False)


async def _set_access(update: Update, context: Context, *, allowed: bool) -> None:
    command = await _operator_command(update, context)
    if command is None:
        return
    args, actor, message = command.args, command.actor, command.message
    subject = _subject(args[0]) if args else None
    if subject is None:
        await reply_html(context, message, t("admin.usage_allow", actor.lang))
        return
    await services(context).accounts.allow(subject, allowed, actor.user_id)
    key = "admin.allowed" if allowed else "admin.denied"
    await reply_html(context, message, t(key, actor.lang, subject=subject))


async def on_access(update: Update, context: Context) -> None:
    """/access [open|allowlist]: show or set whether the allowlist is on (operators only)."""
    command = await _operator_command(update, context)
    if command is None:
        return
    args, actor, message = command.args, command.actor, command.message
    accounts = services(context).accounts
    choice = args[0].lower() if args else ""
    if choice and choice not in ACCESS_MODES:
        await reply_html(context, message, t("admin.usage_access", actor.lang))
        return
    if choice:
        await accounts.set_access_mode(choice, actor.user_id)
    is_open = await accounts.access_mode() == "open"
    key = "admin.access_open" if is_open else "admin.access_allowlist"
    await reply_html(context, message, t(key, actor.lang))


async def on_grant(update: Update, context: Context) -> None:
    """/grant <id> <units>: give a user or group units back this month."""
    command = await _operator_command(update, context)
    if command is None:
        return
    args, actor, message = command.args, command.actor, command.message
    subject = _subject(args[0]) if args else None
    units = _units(args[1]) if len(args) > 1 else None
    if subject is None or units is None or units <= 0:
        await reply_html(context, message, t("admin.usage_grant", actor.lang))
        return
    await services(context).accounts.grant(subject, units)
    await reply_html(
        context, message, t("admin.granted", actor.lang, subject=subject, units=f"{units:g}")
    )


async def on_limit(update: Update, context: Context) -> None:
    """/limit <id> <day|month> <units|off>: a quota for one user or group over the default."""
    command = await _operator_command(update, context)
    if command is None:
        return
    args, actor, message = command.args, command.actor, command.message
    subject = _subject(args[0]) if args else None
    period = args[1].lower() if len(args) > 1 else ""
    raw = args[2].lower() if len(args) > 2 else ""
    units = None if raw == "off" else _units(raw)
    if subject is None or period not in ("day", "month") or (raw != "off" and units is None):
        await reply_html(context, message, t("admin.usage_limit", actor.lang))
        return
    await services(context).accounts.set_limit(subject, period, units)
    shown = t("usage.unlimited", actor.lang) if units is None else f"{units:g}"
    await reply_html(
        context,
        message,
        t(
            "admin.limit_set",
            actor.lang,
            subject=subject,
            period=t(f"usage.{period}", actor.lang),
            units=shown,
        ),
    )


async def on_stats(update: Update, context: Context) -> None:
    """/stats: this month's spending, and who spent most."""
    command = await _operator_command(update, context)
    if command is None:
        return
    actor, message = command.actor, command.message
    totals, top = await services(context).accounts.stats()
    lines = [
        t(
            "admin.stats",
            actor.lang,
            takes=totals.takes,
            charged=f"{totals.charged:g}",
            reserved=f"{totals.reserved:g}",
            refunded=f"{totals.refunded:g}",
        )
    ]
    lines += [f"{i}. <code>{user}</code>: {units:g}" for i, (user, units) in enumerate(top, 1)]
    billed = await services(context).accounts.provider_charges()
    if billed:
        lines.append(
            t(
                "admin.stats_billed",
                actor.lang,
                units=", ".join(f"{name} {units:g}" for name, units in sorted(billed.items())),
            )
        )
    await reply_html(context, message, "\n".join(lines))


async def on_usage(update: Update, context: Context) -> None:
    """/usage: what you (or, in a group, the group) spent today and this month, and what's left."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    subject = actor.chat_id if actor.is_group else actor.user_id
    if context.args and services(context).permissions.is_operator(actor.user_id):
        subject = _subject(context.args[0]) or subject
    usage = await services(context).accounts.usage(subject)
    text = usage_text(usage, actor.lang)
    if subject > 0 and (usage.credits > 0 or services(context).payments.enabled):
        text += "\n" + t("usage.credits", actor.lang, credits=f"{usage.credits:g}")
    await reply_html(context, message, text)


def usage_text(usage: Usage, lang: str) -> str:
    def limit(period: str) -> str:
        value = usage.limits[period]
        return t("usage.unlimited", lang) if value is None else f"{value:g}"

    def spent(period: str) -> float:
        totals = usage.day if period == "day" else usage.month
        return totals.charged + totals.reserved - totals.granted

    return t(
        "usage.text",
        lang,
        day=f"{spent('day'):g}",
        day_limit=limit("day"),
        month=f"{spent('month'):g}",
        month_limit=limit("month"),
        refunded=f"{usage.month.refunded:g}",
        takes=usage.month.takes,
    )


def _units(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


# --- /lang ---------------------------------------------------------------------------------


async def on_lang(update: Update, context: Context) -> None:
    """/lang: choose English or Chinese with a button (or /lang zh, /lang en)."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    choice = (context.args or [""])[0].lower()
    if choice in ("en", "zh"):
        actor = await services(context).accounts.set_language(actor, choice)
        await reply_html(context, message, t("lang.set", actor.lang))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("English", callback_data=cb.encode(cb.LANG, 0, "en")),
                InlineKeyboardButton("简体中文", callback_data=cb.encode(cb.LANG, 0, "zh")),
            ]
        ]
    )
    await reply_html(context, message, t("lang.choose", actor.lang), keyboard)


@button
async def on_lang_chosen(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """A language button: remember the choice and answer in that language."""
    if data.arg not in ("en", "zh"):
        return None
    actor = await services(context).accounts.set_language(actor, data.arg)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    await edit_html(message, t("lang.set", actor.lang))
    return None


# --- the draft's price tag -------------------------------------------------------------------


def cost_note(allowance: Allowance, lang: str) -> str:
    """A line under a draft: what 🎬 Generate will cost and what is left ("" when free)."""
    if allowance.cost <= 0 and allowance.left is None:
        return ""
    if allowance.left is None:
        return "\n" + t("budget.cost", lang, cost=f"{allowance.cost:g}")
    return "\n" + t(
        "budget.cost_left", lang, cost=f"{allowance.cost:g}", left=f"{allowance.left:g}"
    )


# A user's own language and spending, then the operators' commands.
COMMANDS = {
    "lang": on_lang,
    "usage": on_usage,
    "allow": on_allow,
    "deny": on_deny,
    "access": on_access,
    "grant": on_grant,
    "limit": on_limit,
    "stats": on_stats,
}


def register(app: Application) -> None:
    """/lang and /usage for everyone, the allowlist and budget commands for operators."""
    for name, command in COMMANDS.items():
        app.add_handler(CommandHandler(name, command))
    app.add_handler(CallbackQueryHandler(on_lang_chosen, pattern=cb.pattern(cb.LANG)))
