"""Projects: /new, /projects, opening one, and re-sending a past clip by its file_id."""

from __future__ import annotations

from html import escape

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.i18n import t
from handlers import callbacks as cb
from handlers import render
from handlers.common import (
    Context,
    actor_for,
    button,
    edit_html,
    reply_html,
    services,
    settings,
)
from handlers.miniapp import storyboard_button


async def on_new(update: Update, context: Context) -> None:
    """/new [title]: start a project; photos go there from now on."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    project = await services(context).projects.new_project(actor, " ".join(context.args or []))
    await reply_html(
        context, message, t("project.created", actor.lang, title=escape(project.title))
    )


async def on_projects(update: Update, context: Context) -> None:
    """/projects: this chat's projects, newest first, with buttons to open one."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    summaries = await services(context).projects.list_projects(actor)
    await reply_html(
        context,
        message,
        render.projects_text(summaries, actor.lang),
        render.projects_keyboard(summaries),
    )


@button
async def on_open_project_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """Open a project: its shots in order and their clips; it becomes the current one."""
    view = await services(context).projects.open_project(actor, data.row_id)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    storyboard = storyboard_button(
        settings(context),
        view.project.id,
        private=not actor.is_group,
        bot_username=context.bot.username,
        lang=actor.lang,
    )
    await edit_html(
        message,
        render.project_text(view, actor.lang),
        render.project_keyboard(view, actor.lang, storyboard=storyboard),
    )
    return None


@button
async def on_resend_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """▶️ A past clip, sent again at once by its stored file_id (no re-upload)."""
    take = await services(context).generation.take_by_id(actor, data.row_id)
    if not take.telegram_file_id:
        raise StudioError("take.not_found")
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    revision = await services(context).drafting.revision_by_id(actor, take.revision_id)
    shot = await services(context).drafting.shot_by_id(actor, take.shot_id)
    sent = await context.bot.send_video(
        message.chat_id,
        video=take.telegram_file_id,
        caption=render.clip_caption(take, revision, actor.lang),
        parse_mode=ParseMode.HTML,
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_markup=render.clip_keyboard(take, actor.lang, kept=shot.kept_take_id == take.id),
    )
    await services(context).generation.remember_clip(
        sent.chat_id, sent.message_id, take.id, take.revision_id
    )
    return None


BUTTONS = {cb.OPEN_PROJECT: on_open_project_pressed, cb.RESEND: on_resend_pressed}


def register(app: Application) -> None:
    """/new and /projects, and the buttons that open a project or re-send a clip."""
    app.add_handler(CommandHandler("new", on_new))
    app.add_handler(CommandHandler("projects", on_projects))
    for action, handler in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
