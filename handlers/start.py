"""/start and /help: what the bot does, with an example of a good description."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.i18n import t
from handlers.common import Context, actor_for, reply_html


async def on_start(update: Update, context: Context) -> None:
    """Introduce the bot and show what a good caption looks like."""
    actor = await actor_for(update, context)
    assert update.effective_message is not None
    await reply_html(context, update.effective_message, t("start.text", actor.lang))


def register(app: Application) -> None:
    """/start and /help, the first thing a user sends."""
    app.add_handler(CommandHandler(["start", "help"], on_start))
