"""/start and /help: what the bot does, with an example of a good description."""

from __future__ import annotations

from telegram import Update

from bot.i18n import t
from handlers.common import Context, actor_for, reply_html
from handlers.groups import in_group


async def on_start(update: Update, context: Context) -> None:
    """Introduce the bot and show what a good caption looks like."""
    actor = await actor_for(update, context)
    assert update.effective_message is not None
    await reply_html(context, update.effective_message, t("start.text", actor.lang))


async def on_text_outside_flow(update: Update, context: Context) -> None:
    """Text that is not a reply to a draft: a short hint about what to do."""
    if in_group(update.effective_message):
        return  # group chatter is not for us: no hint spam
    actor = await actor_for(update, context)
    assert update.effective_message is not None
    await reply_html(context, update.effective_message, t("hint.send_photo", actor.lang))
