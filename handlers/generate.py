"""🎬 Generate and the buttons on status and clip messages; the work is the job runner's."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.domain.records import TakeRecord
from bot.domain.states import TakeState
from bot.domain.types import Actor, ProgressUpdate, StillChoice
from bot.i18n import t
from handlers import callbacks as cb
from handlers import render
from handlers.common import Context, button, edit_html, edit_markup, runner, send_html, services
from handlers.groups import member_status, vote_for_take


@button
async def on_generate_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🎬 Generate: queue a take, show its status at once, and let the runner work."""
    return await _queue_take(update, context, actor, data.row_id)


@button
async def on_again_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🔁 Again: another take of the same draft."""
    take = await services(context).generation.take_by_id(actor, data.row_id)
    return await _queue_take(update, context, actor, take.revision_id)


async def _queue_take(
    update: Update,
    context: Context,
    actor: Actor,
    revision_id: int,
    still: StillChoice | None = None,
) -> str | None:
    """Queue a take; `still` (🎬 Animate this) is set only if the take is made."""
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    message = query.message
    result = await services(context).generation.request_take(
        actor,
        revision_id,
        # The same button press delivered twice (a redelivered update) has one query id.
        request_key=f"cb:{query.id}",
        chat_id=message.chat_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        status_message_pending=True,
        still=still,
        fetch_status=member_status(context, actor),  # a group may keep Generate for admins
    )
    if not result.created:
        return t("take.already_running", actor.lang)
    await announce_take(context, actor, result.take, message.chat_id, message.message_id)
    runner(context).wake()
    return None


async def announce_take(
    context: Context, actor: Actor, take: TakeRecord, chat_id: int, reply_to: int | None
) -> None:
    """A queued take's status message (⏳, with ✖ to cancel), remembered on the take so
    the runner edits that message as the take moves on."""
    status = await send_html(
        context,
        chat_id,
        render.status_text(take, ProgressUpdate(TakeState.QUEUED, 0.0), actor.lang),
        thread_id=take.thread_id,
        reply_to=reply_to,
        markup=render.status_keyboard(take, actor.lang),
    )
    await services(context).generation.attach_status_message(
        take.id, status.chat_id, status.message_id
    )


queue_take = _queue_take  # 🎬 Animate this (handlers.stills) queues a take the same way


@button
async def on_cancel_take_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """✖ on a status message: cancel a take that has not reached the provider yet."""
    cancel = services(context).generation.cancel_take
    if not await cancel(actor, data.row_id, fetch_status=member_status(context, actor)):
        return t("take.cannot_cancel", actor.lang)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    await edit_html(message, t("status.cancelled", actor.lang))
    return None


@button
async def on_keep_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """⭐ Keep: mark this take as the shot's clip for the film (in a group: a vote)."""
    if actor.is_group:
        return await vote_for_take(update, context, actor, data.row_id)
    take = await services(context).generation.keep_take(actor, data.row_id)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    await edit_markup(message, render.clip_keyboard(take, actor.lang, kept=True))
    return t("take.kept", actor.lang)


BUTTONS = {
    cb.GENERATE: on_generate_pressed,
    cb.CANCEL_TAKE: on_cancel_take_pressed,
    cb.AGAIN: on_again_pressed,
    cb.KEEP: on_keep_pressed,
}


def register(app: Application) -> None:
    """The buttons under drafts, status messages and clips that make or settle a take."""
    for action, handler in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
