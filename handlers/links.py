"""🔗 Share links: the button on a project card, and /start with a link's payload."""

from __future__ import annotations

from html import escape

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.i18n import t
from bot.services.links import FetchMembership
from handlers import callbacks as cb
from handlers import render
from handlers.common import Context, button, reply_html, send_html, services, settings, thread_of
from handlers.groups import status_or_left
from handlers.projects import card_keyboard

MAX_CLIPS_SHOWN = 10  # a group project's clips sent to a member who opens its link


@button
async def on_share_link_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🔗 Share link: a t.me link that opens this project (for whom, the answer says)."""
    link = await services(context).links.share(actor, data.row_id)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    key = "link.share_group" if actor.is_group else "link.share_private"
    await send_html(
        context,
        message.chat_id,
        t(
            key,
            actor.lang,
            title=escape(link.title),
            url=f"https://t.me/{context.bot.username}?start={link.payload}",
            days=settings(context).share_link_days,
        ),
        thread_id=thread_of(message),
    )
    return None


def membership_of(context: Context, user_id: int) -> FetchMembership:
    """getChatMember's status for `user_id` in a chat, failing closed: if Telegram cannot
    say, the user is not taken for a member (the admin check's fallback is the reverse)."""

    async def fetch(chat_id: int) -> str:
        return await status_or_left(context.bot, chat_id, user_id)

    return fetch


async def open_link(context: Context, actor: Actor, message: Message, payload: str) -> None:
    """/start <payload>: open the linked project here, or say plainly why not."""
    try:
        opening = await services(context).links.open(
            actor, payload, membership_of(context, actor.user_id)
        )
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    view = opening.view
    if opening.own:
        keyboard = card_keyboard(context, actor, view)
        await reply_html(context, message, render.project_text(view, actor.lang), keyboard)
        return
    # A group's project seen from a member's private chat: its buttons act on the group's
    # rows and would be refused here, so the card comes without them, and the clips follow.
    note = t("link.group_project", actor.lang, group=escape(opening.group_title or ""))
    card = render.project_text(view, actor.lang, current=False)
    await reply_html(context, message, f"{card}\n\n{note}")
    clips = [s.kept or s.delivered[-1] for s in view.shots if s.kept or s.delivered]
    file_ids = [c.telegram_file_id for c in clips if c.telegram_file_id]
    for file_id in file_ids[:MAX_CLIPS_SHOWN]:
        await context.bot.send_video(message.chat_id, video=file_id)


def register(app: Application) -> None:
    """The 🔗 Share link button (a link's /start is answered by handlers/start.py)."""
    app.add_handler(CallbackQueryHandler(on_share_link_pressed, pattern=cb.pattern(cb.SHARE_LINK)))
