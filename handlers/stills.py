"""🎨 Clay still on a draft, then 🎬 Animate this / 🔄 Another / 📷 Use the original photo."""

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
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application, CallbackQueryHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor, Still
from bot.i18n import t
from bot.media.intake import IntakeError
from bot.services.stills import Stills
from handlers import callbacks as cb
from handlers.common import Context, button, chat_action, reply_html, services
from handlers.drafts import show_draft
from handlers.generate import queue_take
from handlers.groups import member_status


def stills(context: Context) -> Stills:
    return services(context).stills


@button
async def on_still_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🎨 Clay still (or 🔄 Another): a clay picture of the photo, to animate instead."""
    message = _message(update)
    thread = message.message_thread_id if message.is_topic_message else None
    async with chat_action(
        context.bot, message.chat_id, ChatAction.UPLOAD_PHOTO, thread_id=thread
    ):
        still = await stills(context).make(
            actor, data.row_id, fetch_status=member_status(context, actor)
        )
        jpeg = await asyncio.to_thread(still.path.read_bytes)
        await context.bot.send_photo(
            message.chat_id,
            photo=InputFile(jpeg, filename=f"still-{still.number}.jpg"),
            caption=still_caption(still, actor.lang),
            parse_mode=ParseMode.HTML,
            message_thread_id=thread,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
            reply_markup=still_keyboard(still, actor.lang),
        )
    return None


@button
async def on_animate_still_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🎬 Animate this: the still becomes the picture the video model animates."""
    number = int(data.arg) if data.arg and data.arg.isdigit() else None
    if number is None:
        raise StudioError("still.gone")
    choice = await stills(context).choice(actor, data.row_id, number)
    return await queue_take(update, context, actor, data.row_id, choice)


@button
async def on_use_original_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """📷 Use the original photo: animate the photo itself."""
    choice = await stills(context).choice(actor, data.row_id, None)
    return await queue_take(update, context, actor, data.row_id, choice)


async def try_end_frame(context: Context, actor: Actor, message: Message, photo: bytes) -> bool:
    """A photo replying to a draft becomes its end frame; False when it isn't such a reply."""
    reply = message.reply_to_message
    if reply is None:
        return False
    ref = await services(context).drafting.message_ref(message.chat_id, reply.message_id)
    if ref is None or ref.kind != "draft" or ref.revision_id is None:
        return False
    try:
        before = await services(context).drafting.revision_by_id(actor, ref.revision_id)
        revision = await stills(context).end_frame(actor, ref.revision_id, photo)
    except IntakeError as error:
        await reply_html(context, message, error.message(actor.lang))
        return True
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return True
    await show_draft(
        context,
        actor,
        revision,
        chat_id=message.chat_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=message.message_id,
        notes=end_frame_note(before.params, revision.params, actor.lang),
    )
    return True


def end_frame_note(before: dict, after: dict, lang: str) -> str:
    """What setting the end frame changed: always the camera move, sometimes the mode
    (pro's price is on the draft below it), and the length only where it was forced."""
    duration = after.get("duration", 5)
    note = t("end_frame.set_duration", lang, duration=duration)
    if after.get("mode") != before.get("mode"):
        mode = t(f"mode.{after.get('mode')}", lang)
        note += "\n" + t("end_frame.pro", lang, model=after.get("model", "?"), mode=mode)
    return note


def still_caption(still: Still, lang: str) -> str:
    if still.cost_units > 0:
        cost = t("still.cost", lang, units=f"{still.cost_units:g}")
    else:
        cost = t("still.free", lang)
    return t("still.caption", lang, number=still.number, cost=cost)


def still_keyboard(still: Still, lang: str) -> InlineKeyboardMarkup:
    revision_id = still.revision_id
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("button.animate_still", lang),
                    callback_data=cb.encode(cb.STILL_ANIMATE, revision_id, str(still.number)),
                ),
                InlineKeyboardButton(
                    t("button.another_still", lang),
                    callback_data=cb.encode(cb.STILL_AGAIN, revision_id),
                ),
            ],
            [
                InlineKeyboardButton(
                    t("button.original_photo", lang),
                    callback_data=cb.encode(cb.STILL_ORIGINAL, revision_id),
                )
            ],
        ]
    )


def _message(update: Update) -> Message:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    return query.message


BUTTONS = {
    cb.STILL: on_still_pressed,
    cb.STILL_AGAIN: on_still_pressed,
    cb.STILL_ANIMATE: on_animate_still_pressed,
    cb.STILL_ORIGINAL: on_use_original_pressed,
}


def register(app: Application) -> None:
    """🎨 Clay still on a draft, and the three buttons under a still."""
    for action, handler in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
