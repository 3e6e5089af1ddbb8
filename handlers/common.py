"""What every handler needs: the services, who is asking, and a safe way to answer."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from telegram import Bot, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.domain.errors import StudioError
from bot.domain.ports import TakeQueue
from bot.domain.types import Actor, ProjectShape, Sender
from bot.i18n import t
from bot.services import Services
from handlers import callbacks as cb

log = logging.getLogger(__name__)


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context for one update, plus who is asking once someone has looked it up."""

    def __init__(
        self, application: Any, chat_id: int | None = None, user_id: int | None = None
    ) -> None:
        super().__init__(application, chat_id, user_id)
        self.actor: Actor | None = None
        # The chat's current project's shape, when the gate read it with the chat's row.
        self.shape: ProjectShape | None = None


CONTEXT_TYPES = ContextTypes(context=Context)

# An answer quicker than this needs no "typing…": the answer itself is the feedback.
CHAT_ACTION_AFTER_S = 1.0
# Telegram shows a chat action for 5 s (or until our next message): repeat it before then.
CHAT_ACTION_EVERY_S = 4.5


def services(context: Context) -> Services:
    """The use cases, put on the application by bot.app."""
    found: Services = context.application.bot_data["services"]
    return found


def settings(context: Context) -> Settings:
    """The bot's settings, validated once at start-up."""
    found: Settings = context.application.bot_data["settings"]
    return found


def runner(context: Context) -> TakeQueue:
    """The job runner, to wake when a take was queued."""
    queue: TakeQueue = context.application.bot_data["runner"]
    return queue


async def actor_for(update: Update, context: Context) -> Actor:
    """Who is asking, in which language; the first look records the sender and chat."""
    if context.actor is None:
        entered = await services(context).accounts.enter_with_shape(sender_of(update))
        context.actor, context.shape = entered
    return context.actor


def sender_of(update: Update) -> Sender:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    return Sender(
        user_id=user.id,
        chat_id=chat.id,
        chat_type=chat.type,
        first_name=user.first_name or "",
        username=user.username,
        language_code=user.language_code,
        chat_title=chat.title,
    )


def thread_of(message: Message | None) -> int | None:
    """The forum topic a message belongs to, so answers stay in that topic."""
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


@contextlib.asynccontextmanager
async def chat_action(
    bot: Bot,
    chat_id: int,
    action: str = ChatAction.TYPING,
    *,
    thread_id: int | None = None,
    after_s: float = CHAT_ACTION_AFTER_S,
) -> AsyncIterator[None]:
    """Show "typing…" (or `action`) while the block runs, once it has run for `after_s`.

    A quick answer (the offline drafter's) sends no chat action at all, and a slow one (an
    LLM draft, an upload) keeps it showing. Each one counts against the bot's 30 requests
    a second, so they are sent only when useful, and dropped under load (bot/ratelimit.py).
    """

    async def show() -> None:
        try:
            await bot.send_chat_action(chat_id, action, message_thread_id=thread_id)
        except TelegramError as error:  # cosmetic: never fails the real work
            log.debug("chat action not shown: %s", type(error).__name__)

    async def keep_showing(first_in: float) -> None:
        await asyncio.sleep(first_in)
        while True:
            await show()
            await asyncio.sleep(CHAT_ACTION_EVERY_S)

    if after_s <= 0:
        await show()  # before the block's own request, so it cannot arrive after the answer
    first_in = CHAT_ACTION_EVERY_S if after_s <= 0 else after_s
    task = asyncio.create_task(keep_showing(first_in), name=f"chat-action-{chat_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_html(
    context: Context,
    chat_id: int,
    text: str,
    *,
    thread_id: int | None = None,
    reply_to: int | None = None,
    markup: Any = None,
) -> Message:
    """Send an HTML message in the right topic, replying to `reply_to` if it still exists."""
    return await context.bot.send_message(
        chat_id,
        text,
        parse_mode=ParseMode.HTML,
        message_thread_id=thread_id,
        reply_parameters=(
            ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to
            else None
        ),
        reply_markup=markup,
    )


async def reply_html(context: Context, message: Message, text: str, markup: Any = None) -> Message:
    return await send_html(
        context,
        message.chat_id,
        text,
        thread_id=thread_of(message),
        reply_to=message.message_id,
        markup=markup,
    )


async def edit_html(message: Message, text: str, markup: Any = None) -> None:
    """Edit a message, ignoring Telegram's "message is not modified" for a repeated tap."""
    try:
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise


async def edit_markup(message: Message, markup: Any) -> None:
    try:
        await message.edit_reply_markup(reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise


def button(
    func: Callable[[Update, Context, Actor, cb.Button], Awaitable[str | None]],
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Wrap a button handler: parse its data, answer every query, treat stale buttons politely.

    The wrapped function returns an optional short notice shown as the query's answer.
    """

    @functools.wraps(func)
    async def handle(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        actor = await actor_for(update, context)
        data = cb.parse(query.data)
        if data is None or not isinstance(query.message, Message):
            # Data we never made, or a message too old for Telegram to show us.
            await query.answer(t("button.stale", actor.lang), show_alert=True)
            return
        try:
            notice = await func(update, context, actor, data)
        except StudioError as error:
            await query.answer(t(error.key, actor.lang, **error.params), show_alert=True)
            if error.key == "budget.exceeded":  # a quota used up: offer credits, if sold
                from handlers.payments import offer_packs  # the shop builds on this module

                await offer_packs(context, query.message, actor)
            return
        await query.answer(notice)

    return handle
