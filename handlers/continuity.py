"""➡️ Continue under a kept take: the next shot starts from its last frame."""

from __future__ import annotations

from html import escape

from telegram import ForceReply, InputFile, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application, CallbackQueryHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.i18n import t
from handlers import callbacks as cb
from handlers.common import Context, button, chat_action, reply_html, services, thread_of
from handlers.drafts import show_draft


@button
async def on_continue_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """➡️ Continue: show the frame the next shot starts from, and ask what happens next.

    The answer, a reply to that picture, drafts the shot as a captioned photo would.
    """
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    thread = thread_of(message)
    async with chat_action(
        context.bot, message.chat_id, ChatAction.UPLOAD_PHOTO, thread_id=thread
    ):
        started = await services(context).continuity.start(actor, data.row_id)
    caption = t(
        "continue.ask",
        actor.lang,
        position=started.shot.position,
        project=escape(started.project.title),
    )
    who = update.callback_query.from_user if update.callback_query else None
    if actor.is_group and who is not None:
        # A selective forced reply goes to the users a message mentions: the one who asked.
        caption = f"{who.mention_html()} {caption}"
    asked = await context.bot.send_photo(
        message.chat_id,
        photo=InputFile(started.frame, filename="next-shot.jpg"),
        caption=caption,
        parse_mode=ParseMode.HTML,
        message_thread_id=thread,
        reply_parameters=ReplyParameters(
            message_id=message.message_id, allow_sending_without_reply=True
        ),
        # A forced reply keeps the user's line attached to the shot it describes.
        reply_markup=ForceReply(
            selective=True, input_field_placeholder=t("continue.placeholder", actor.lang)
        ),
    )
    await services(context).drafting.remember_message(
        asked.chat_id,
        asked.message_id,
        "ask",
        shot_id=started.shot.id,
        revision_id=started.follows_revision_id,
    )
    return None


async def describe_next_shot(update: Update, context: Context, actor: Actor, text: str) -> bool:
    """Text that replies to nothing, while a continued shot waits for its line: that text
    is the line (the forced reply can be dismissed). False when no shot is waiting."""
    message = update.effective_message
    assert message is not None
    waiting = await services(context).continuity.waiting_line(actor)
    if waiting is None:
        return False
    shot_id, follows = waiting
    try:
        async with chat_action(context.bot, message.chat_id, thread_id=thread_of(message)):
            revision = await services(context).drafting.describe(
                actor, shot_id, text, follows=follows
            )
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return True
    await show_draft(
        context,
        actor,
        revision,
        chat_id=message.chat_id,
        thread_id=thread_of(message),
        reply_to=message.message_id,
    )
    return True


def register(app: Application) -> None:
    """➡️ Continue under kept takes."""
    app.add_handler(CallbackQueryHandler(on_continue_pressed, pattern=cb.pattern(cb.CONTINUE)))
