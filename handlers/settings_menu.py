"""/settings: the chat's defaults and its current project's switches, as buttons."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain.aspect import ASPECTS
from bot.domain.types import Actor
from bot.i18n import t
from bot.services.chat_settings import SettingsView
from handlers import callbacks as cb
from handlers.common import Context, actor_for, button, edit_html, reply_html, services
from handlers.groups import member_status
from handlers.render import engine_label

LANGUAGE_NAMES = {"en": "English", "zh": "简体中文"}


async def on_settings(update: Update, context: Context) -> None:
    """/settings: what new drafts get, and this project's switches, each one press away."""
    actor = await actor_for(update, context)
    assert update.effective_message is not None
    view = await services(context).chat_settings.view(actor)
    await reply_html(
        context, update.effective_message, settings_text(view), settings_keyboard(view)
    )


@button
async def on_chat_setting_chosen(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """A choice in /settings: saved, and the message shows it."""
    key, _, value = (data.arg or "").partition("=")
    actor, view = await services(context).chat_settings.change(
        actor, data.row_id, key, value, member_status(context, actor)
    )
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    await edit_html(message, settings_text(view), settings_keyboard(view))
    return t("chat_settings.saved", actor.lang)


def settings_text(view: SettingsView) -> str:
    return t(
        "chat_settings.text",
        view.lang,
        lang=LANGUAGE_NAMES.get(view.lang, view.lang),
        mode=t(f"mode.{view.mode}", view.lang),
        engine=engine_label(view.provider, view.lang),
        project=escape(view.project_title),
    )


def settings_keyboard(view: SettingsView) -> InlineKeyboardMarkup:
    """One row per choice; the current one is marked, a switch shows its state."""
    lang = view.lang

    def choice(label: str, key: str, value: str, current: bool) -> InlineKeyboardButton:
        data = cb.encode(cb.CHAT_SET, view.project_id, f"{key}={value}")
        return InlineKeyboardButton(f"• {label}" if current else label, callback_data=data)

    rows = [
        [choice(name, "lang", code, code == lang) for code, name in LANGUAGE_NAMES.items()],
        [choice(t(f"mode.{m}", lang), "mode", m, m == view.mode) for m in ("std", "pro")],
    ]
    if len(view.providers) > 1:
        rows.append(
            [
                choice(engine_label(p, lang), "provider", p, p == view.provider)
                for p in view.providers
            ]
        )
    still = "button.still_first_on" if view.still_first else "button.still_first_off"
    rows.append([choice(t(still, lang), "still_first", "0" if view.still_first else "1", False)])
    sound = "button.sound_on" if view.sound else "button.sound_off"
    rows.append([choice(t(sound, lang), "sound", "0" if view.sound else "1", False)])
    rows.append(
        [choice(t(f"aspect.button.{a}", lang), "aspect", a, a == view.aspect) for a in ASPECTS]
    )
    return InlineKeyboardMarkup(rows)


def register(app: Application) -> None:
    """/settings and its buttons."""
    app.add_handler(CommandHandler("settings", on_settings))
    app.add_handler(CallbackQueryHandler(on_chat_setting_chosen, pattern=cb.pattern(cb.CHAT_SET)))
