"""Projects: /new, /projects, opening one, its shape (/aspect), and re-sending a past
clip by its file_id."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain.aspect import parse_aspect
from bot.domain.errors import StudioError
from bot.domain.types import Actor, ProjectView
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
from handlers.groups import member_status
from handlers.miniapp import storyboard_button

ANSWER_LIMIT = 200  # answerCallbackQuery's text


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
    await edit_html(
        message, render.project_text(view, actor.lang), card_keyboard(context, actor, view)
    )
    return None


def card_keyboard(context: Context, actor: Actor, view: ProjectView) -> InlineKeyboardMarkup:
    """A project card's buttons, with 🎞 Storyboard where the Mini App can open: every
    place that shows the card shows the same buttons."""
    storyboard = storyboard_button(
        settings(context),
        view.project.id,
        private=not actor.is_group,
        bot_username=context.bot.username,
        lang=actor.lang,
    )
    return render.project_keyboard(view, actor.lang, storyboard=storyboard)


async def on_aspect(update: Update, context: Context) -> None:
    """/aspect [16:9|9:16|1:1]: the current project's shape, or choose it."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    projects = services(context).projects
    words = " ".join(context.args or [])
    try:
        if not words:
            view = await projects.aspect(actor)
        elif (aspect := parse_aspect(words)) is None:
            await reply_html(context, message, t("aspect.usage", actor.lang))
            return
        else:
            view = await projects.set_aspect(
                actor, aspect, fetch_status=member_status(context, actor)
            )
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    await reply_html(
        context,
        message,
        render.aspect_text(view, actor.lang, changed=bool(words)),
        render.aspect_keyboard(view, actor.lang),
    )


@button
async def on_aspect_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """A shape chosen on a project's card: the card comes back with it marked."""
    aspect = parse_aspect(data.arg)
    if aspect is None:
        raise StudioError("aspect.usage")
    projects = services(context).projects
    chosen = await projects.set_aspect(
        actor, aspect, project_id=data.row_id, fetch_status=member_status(context, actor)
    )
    view = await projects.open_project(actor, data.row_id)
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    await edit_html(
        message, render.project_text(view, actor.lang), card_keyboard(context, actor, view)
    )
    return render.aspect_notice(chosen, actor.lang)[:ANSWER_LIMIT]


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


BUTTONS = {
    cb.OPEN_PROJECT: on_open_project_pressed,
    cb.RESEND: on_resend_pressed,
    cb.ASPECT: on_aspect_pressed,
}


def register(app: Application) -> None:
    """/new, /projects and /aspect, and the buttons that open a project, set its shape or
    re-send a clip."""
    app.add_handler(CommandHandler("new", on_new))
    app.add_handler(CommandHandler("projects", on_projects))
    app.add_handler(CommandHandler("aspect", on_aspect))
    for action, handler in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
