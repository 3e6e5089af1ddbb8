"""/doctor: the operators' health report, the same checks as `claymate doctor`.

Private chats only, operators only. Anyone else gets what an unknown command gets, which
is nothing: the command is not advertised and no answer hints that it exists.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot.services.doctor import Doctor, render
from handlers.common import Context, actor_for, chat_action, reply_html, services

DoctorFactory = Callable[[], AbstractAsyncContextManager[Doctor]]


async def on_doctor(update: Update, context: Context) -> None:
    """/doctor from an operator in private: one ✓/✗ line per check, with the fix."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.chat.type != ChatType.PRIVATE:
        return
    if not services(context).permissions.is_operator(user.id):
        return
    actor = await actor_for(update, context)
    make_doctor: DoctorFactory = context.application.bot_data["doctor"]
    # A check may wait its whole timeout on a provider: show "typing…" meanwhile.
    async with chat_action(context.bot, message.chat_id), make_doctor() as doctor:
        results = await doctor.examine()
    lines = [html.escape(line, quote=False) for line in render(results, actor.lang)]
    await reply_html(context, message, "\n".join(lines))


def register(app: Application) -> None:
    """/doctor, for operators."""
    app.add_handler(CommandHandler("doctor", on_doctor))
