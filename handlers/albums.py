"""🎬 Generate all under an album's answer: a take per shot, each with its status message."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.domain.types import Actor
from bot.i18n import t
from handlers import callbacks as cb
from handlers.common import Context, button, runner, send_html, services, thread_of
from handlers.generate import announce_take
from handlers.groups import member_status


@button
async def on_generate_all_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🎬 Generate all: every drafted shot of the album queued at once, or none of them."""
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    message = query.message
    outcomes = await services(context).albums.generate_all(
        actor,
        data.row_id,
        # A redelivered press has the same query id: it queues nothing twice.
        request_key=f"cb:{query.id}",
        chat_id=message.chat_id,
        thread_id=thread_of(message),
        fetch_status=member_status(context, actor),
    )
    for outcome in outcomes:
        if not outcome.queued:
            continue
        await announce_take(
            context, actor, outcome.take, message.chat_id, outcome.photo_message_id
        )
    runner(context).wake()
    lines = [t("album.report", actor.lang)]
    for outcome in outcomes:
        key = "album.shot_queued" if outcome.queued else "album.shot_running"
        lines.append(t(key, actor.lang, position=outcome.position))
    await send_html(
        context,
        message.chat_id,
        "\n".join(lines),
        thread_id=thread_of(message),
        reply_to=message.message_id,
    )
    queued = sum(outcome.queued for outcome in outcomes)
    return t("album.queued_notice", actor.lang, count=queued)


def register(app: Application) -> None:
    """The 🎬 Generate all button under an album's answer."""
    app.add_handler(
        CallbackQueryHandler(on_generate_all_pressed, pattern=cb.pattern(cb.GENERATE_ALL))
    )
