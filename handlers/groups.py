"""Group chats as shared studios, in Telegram's default privacy mode.

With privacy mode on (the default) a bot in a group receives commands meant for it, replies
to its own messages, messages that mention it, service messages and every callback query,
and nothing else. So in a group the bot acts on a photo whose caption starts with /clay (or
/clay@bot) or mentions @bot, on a photo or text replying to one of its messages, and on its
buttons; everything else it leaves alone, and it never answers chatter with hints.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from html import escape

from telegram import Bot, ChatMember, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, ChatMemberHandler, CommandHandler

from bot.domain.types import Actor
from bot.i18n import t
from handlers import callbacks as cb
from handlers import render
from handlers.common import Context, actor_for, edit_markup, reply_html, send_html, services

log = logging.getLogger(__name__)

GROUP_TYPES = ("group", "supergroup")
OUTSIDE = frozenset({ChatMember.LEFT, ChatMember.BANNED})
INSIDE = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR})


def in_group(message: Message | None) -> bool:
    return message is not None and message.chat.type in GROUP_TYPES


def addressed_caption(message: Message, bot_username: str | None) -> tuple[bool, str | None]:
    """Whether a group photo is meant for the bot, and its description without the address.

    Meant for the bot: the caption starts with /clay or /clay@bot, or mentions @bot, or the
    photo replies to one of the bot's own messages.
    """
    caption = message.caption or ""
    name = (bot_username or "").lower()
    command = re.match(r"^/clay(@(\w+))?(\s|$)", caption, flags=re.IGNORECASE)
    if command and (command.group(2) is None or command.group(2).lower() == name):
        return True, caption[command.end() :].strip() or None
    if name and re.search(rf"@{re.escape(name)}\b", caption, flags=re.IGNORECASE):
        stripped = re.sub(rf"\s*@{re.escape(name)}\b", " ", caption, flags=re.IGNORECASE)
        return True, stripped.strip() or None
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.is_bot:
        if replied.from_user.username and replied.from_user.username.lower() == name:
            return True, caption.strip() or None
    return False, None


def member_status(context: Context, actor: Actor) -> Callable[[], Awaitable[str]]:
    """A getChatMember fetcher for `actor` in their group, for the permission checks."""
    return _status_fetcher(context, actor)


async def is_admin(context: Context, actor: Actor) -> bool:
    return await services(context).groups.is_admin(actor, _status_fetcher(context, actor))


async def status_or_left(bot: Bot, chat_id: int, user_id: int) -> str:
    """getChatMember's status, failing closed: when Telegram cannot say, "left", so a
    group's projects and clips are never shown on a guess (the Generate rule's fetcher
    below fails the other way, to "member")."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as error:
        log.warning("getChatMember failed, taken as not a member: %s", type(error).__name__)
        return "left"
    return str(member.status)


def _status_fetcher(context: Context, actor: Actor) -> Callable[[], Awaitable[str]]:
    async def fetch() -> str:
        try:
            member = await context.bot.get_chat_member(actor.chat_id, actor.user_id)
        except TelegramError as error:
            log.warning("getChatMember failed: %s", type(error).__name__)
            return "member"
        return str(member.status)

    return fetch


async def vote_for_take(update: Update, context: Context, actor: Actor, take_id: int) -> str:
    """⭐ in a group: a vote; the clip's button shows the count; an admin's ⭐ picks the take."""
    admin = await is_admin(context, actor)
    outcome = await services(context).groups.vote(actor, take_id, admin=admin)
    take = await services(context).generation.take_by_id(actor, take_id)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    keyboard = render.clip_keyboard(take, actor.lang, kept=outcome.kept_take_id == take.id)
    await edit_markup(message, InlineKeyboardMarkup(_with_votes(keyboard, outcome.votes)))
    key = "group.vote_admin_pick" if admin else "group.voted"
    return t(key, actor.lang, votes=outcome.votes)


def _with_votes(markup: InlineKeyboardMarkup, votes: int) -> list[list[InlineKeyboardButton]]:
    """The clip keyboard with the ⭐ button's label showing the vote count."""
    rows = []
    for row in markup.inline_keyboard:
        new_row = []
        for button in row:
            data = (
                cb.parse(button.callback_data) if isinstance(button.callback_data, str) else None
            )
            if data is not None and data.action == cb.KEEP and votes:
                label = f"{button.text} {votes}"
                button = InlineKeyboardButton(label, callback_data=button.callback_data)
            new_row.append(button)
        rows.append(new_row)
    return rows


async def on_policy(update: Update, context: Context) -> None:
    """/generate everyone|admins in a group: who may press 🎬 Generate (admins change it)."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    if not actor.is_group:
        await reply_html(context, message, t("group.only_in_groups", actor.lang))
        return
    groups = services(context).groups
    choice = (context.args or [""])[0].lower()
    if choice in ("everyone", "admins"):
        if not await is_admin(context, actor):
            await reply_html(context, message, t("group.admins_only", actor.lang))
            return
        await groups.set_policy(actor.chat_id, choice)
    policy = await groups.policy(actor.chat_id)
    await reply_html(
        context,
        message,
        t("group.policy", actor.lang, policy=t(f"group.policy_{policy}", actor.lang)),
    )


async def log_privacy_mode(bot: Bot) -> None:
    """At start: say what getMe's can_read_all_group_messages means for groups.

    PTB called getMe while initialising; its answer is cached on the Bot.
    """
    try:
        me = bot.bot
    except RuntimeError:  # not initialised yet
        me = await bot.get_me()
    if me.can_read_all_group_messages:
        log.info(
            "privacy mode is off: @%s sees every group message (it still only acts on /clay, "
            "mentions, replies to it and its buttons)",
            me.username,
        )
    else:
        log.info(
            "privacy mode is on: in groups @%s receives only commands for it, mentions, replies "
            "to its messages, service messages and button presses; that is all it needs",
            me.username,
        )


async def on_my_membership(update: Update, context: Context) -> None:
    """Added to a group: one short welcome saying how to ask for a clip and what admins set.

    Only on joining (left or kicked before): a promotion to admin, or a re-delivery of the
    same change, says nothing again.
    """
    change = update.my_chat_member
    if change is None or change.chat.type not in GROUP_TYPES:
        return
    if change.old_chat_member.status not in OUTSIDE or change.new_chat_member.status not in INSIDE:
        return
    actor = await actor_for(update, context)  # the group's /lang, else the adder's language
    text = t(
        "group.welcome",
        actor.lang,
        group=escape(change.chat.title or ""),
        bot=f"@{context.bot.username}",
    )
    try:
        await send_html(context, change.chat.id, text)
    except TelegramError as error:  # muted in that group: nothing to tell anyone
        log.warning("welcome not sent to chat %s: %s", change.chat.id, type(error).__name__)


async def on_clay(update: Update, context: Context) -> None:
    """/clay without a photo (as the group menu sends it): how to ask for a clip."""
    actor = await actor_for(update, context)
    assert update.effective_message is not None
    await reply_html(context, update.effective_message, t("group.clay_hint", actor.lang))


def register(app: Application) -> None:
    """Joining a group, /clay on its own, and /generate everyone|admins."""
    app.add_handler(ChatMemberHandler(on_my_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(CommandHandler("clay", on_clay))
    app.add_handler(CommandHandler("generate", on_policy))
