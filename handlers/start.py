"""/start and /help: what the bot does, with an example of a good description.

/start with a payload is a deep link someone followed (t.me/<bot>?start=…): a project's
🔗 share link, or the inline menu's button for a user with no clips yet.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.i18n import t
from handlers.common import Context, actor_for, reply_html
from handlers.inline import INLINE_START
from handlers.links import open_link


async def on_start(update: Update, context: Context) -> None:
    """Introduce the bot and show what a good caption looks like, or follow a deep link."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    text = message.text or ""
    payload = context.args[0] if context.args else None
    if payload and payload != INLINE_START and text.split()[0].lower().startswith("/start"):
        await open_link(context, actor, message, payload)
        return
    await reply_html(context, message, t("start.text", actor.lang))


def register(app: Application) -> None:
    """/start and /help, the first thing a user sends."""
    app.add_handler(CommandHandler(["start", "help"], on_start))
