"""Drafts: show them, refine them by reply, and the buttons under them."""

from __future__ import annotations

from telegram import ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.domain.aspect import parse_aspect
from bot.domain.errors import StudioError
from bot.domain.records import RevisionRecord
from bot.domain.types import Actor, DraftView
from bot.i18n import t
from handlers import callbacks as cb
from handlers import render
from handlers.admin import cost_note
from handlers.common import (
    Context,
    actor_for,
    button,
    chat_action,
    edit_html,
    edit_markup,
    reply_html,
    send_html,
    services,
)
from handlers.groups import in_group, member_status
from handlers.projects import ANSWER_LIMIT


async def show_draft(
    context: Context,
    actor: Actor,
    draft: RevisionRecord | DraftView,
    *,
    chat_id: int,
    thread_id: int | None,
    reply_to: int | None,
    notes: str = "",
) -> Message:
    """Send a draft with its buttons and remember which revision the message shows."""
    view = await _view(context, actor, draft)
    text = _draft_text(view, actor.lang)
    message = await send_html(
        context,
        chat_id,
        f"{notes}\n\n{text}" if notes else text,
        thread_id=thread_id,
        reply_to=reply_to,
        markup=render.draft_keyboard(view.revision, actor.lang, still_first=view.still_first),
    )
    await remember_draft(context, message, view.revision)
    return message


async def show_draft_in_place(
    context: Context,
    actor: Actor,
    message: Message,
    draft: RevisionRecord | DraftView,
    *,
    settings_open: bool = False,
) -> None:
    """Replace a draft message's text with `revision` (undo, new draft, settings)."""
    view = await _view(context, actor, draft)
    keyboard = (
        render.settings_keyboard(
            view.revision,
            actor.lang,
            services(context).drafting.provider_names,
            still_first=view.still_first,
            sound=view.sound,
            durations=view.durations,
            modes=view.modes,
            aspect=(view.project.id, view.project.aspect),
        )
        if settings_open
        else render.draft_keyboard(view.revision, actor.lang, still_first=view.still_first)
    )
    await edit_html(message, _draft_text(view, actor.lang), keyboard)
    await remember_draft(context, message, view.revision)


async def _view(context: Context, actor: Actor, draft: RevisionRecord | DraftView) -> DraftView:
    if isinstance(draft, DraftView):
        return draft
    return await services(context).drafting.draft_view(actor, draft)


def _draft_text(view: DraftView, lang: str) -> str:
    text = render.draft_text(view.revision, view.shot, view.project, lang)
    return text + cost_note(view.allowance, lang)


async def remember_draft(context: Context, message: Message, revision: RevisionRecord) -> None:
    await services(context).drafting.remember_message(
        message.chat_id,
        message.message_id,
        "draft",
        shot_id=revision.shot_id,
        revision_id=revision.id,
    )


async def on_reply(update: Update, context: Context) -> None:
    """A text reply to one of our messages: refine a draft, or describe a waiting photo."""
    message = update.effective_message
    assert message is not None
    await answer_reply(update, context, message.text or "")


async def answer_reply(update: Update, context: Context, text: str) -> None:
    """Act on a reply's words (typed, or heard in a voice note) by what it replies to."""
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None
    actor = await actor_for(update, context)
    drafting = services(context).drafting
    ref = await drafting.message_ref(message.chat_id, message.reply_to_message.message_id)
    if ref is None:
        if not in_group(message):  # in a group, a reply to someone else is not for us
            await reply_html(context, message, t("hint.send_photo", actor.lang))
        return
    draft: RevisionRecord | DraftView
    try:
        async with chat_action(context.bot, message.chat_id, thread_id=_thread(message)):
            if ref.kind in ("draft", "clip") and ref.revision_id is not None:
                draft = await drafting.refine(actor, ref.revision_id, text)
            elif ref.kind == "ask" and ref.shot_id is not None:
                # An ask under ➡️ Continue names the draft the new shot follows.
                draft = await drafting.describe(actor, ref.shot_id, text, follows=ref.revision_id)
            elif ref.kind == "album" and ref.shot_id is not None:
                from handlers.photos import describe_album

                await describe_album(context, actor, message, ref.shot_id, text)
                return
            else:
                await reply_html(context, message, t("hint.send_photo", actor.lang))
                return
    except StudioError as error:
        await reply_html(context, message, t(error.key, actor.lang, **error.params))
        return
    await show_draft(
        context,
        actor,
        draft,
        chat_id=message.chat_id,
        thread_id=_thread(message),
        reply_to=message.message_id,
    )


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


@button
async def on_refine_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """✏️ Refine: ask for the change as a reply (a forced reply keeps it attached).

    In a group the prompt mentions whoever pressed: a selective ForceReply opens the reply
    box only for users mentioned in it, so the rest of the group is left alone. Their reply
    answers this prompt, which is remembered as the draft's, so it refines this draft.
    """
    revision = await services(context).drafting.revision_by_id(actor, data.row_id)
    query = update.callback_query
    query_message = query.message if query else None
    assert query is not None and isinstance(query_message, Message)
    text = t("draft.refine_hint", actor.lang)
    if in_group(query_message):
        text = t("draft.refine_hint_for", actor.lang, who=query.from_user.mention_html())
    prompt = await context.bot.send_message(
        query_message.chat_id,
        text,
        parse_mode=ParseMode.HTML,
        message_thread_id=_thread(query_message),
        reply_markup=ForceReply(
            selective=True, input_field_placeholder=t("draft.refine_placeholder", actor.lang)
        ),
    )
    await remember_draft(context, prompt, revision)
    return None


@button
async def on_redraft_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """🔄 New draft: write the prompt again from the description."""
    revision = await services(context).drafting.redraft(actor, data.row_id)
    await show_draft_in_place(context, actor, _message(update), revision)
    return None


@button
async def on_undo_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """↩️ Undo: back to the previous revision."""
    revision = await services(context).drafting.undo(actor, data.row_id)
    if revision is None:
        return t("draft.nothing_to_undo", actor.lang)
    await show_draft_in_place(context, actor, _message(update), revision)
    return None


@button
async def on_settings_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """⚙️ Settings: swap the buttons for duration, quality and camera choices."""
    drafting = services(context).drafting
    view = await drafting.draft_view(actor, await drafting.revision_by_id(actor, data.row_id))
    keyboard = render.settings_keyboard(
        view.revision,
        actor.lang,
        drafting.provider_names,
        still_first=view.still_first,
        sound=view.sound,
        durations=view.durations,
        modes=view.modes,
        aspect=(view.project.id, view.project.aspect),
    )
    await edit_markup(_message(update), keyboard)
    return t("settings.title", actor.lang)


@button
async def on_setting_chosen(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """A choice in ⚙️ Settings: a new revision with that parameter."""
    key, _, raw = (data.arg or "").partition("=")
    value: object = raw
    if key == "duration" and raw.isdigit():
        value = int(raw)
    elif key in ("still_first", "sound") and raw in ("0", "1"):
        value = raw == "1"
    revision = await services(context).drafting.change_setting(
        actor, data.row_id, key, value, fetch_status=member_status(context, actor)
    )
    await show_draft_in_place(context, actor, _message(update), revision, settings_open=True)
    return None


@button
async def on_aspect_in_settings(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """A shape chosen in a draft's ⚙️: the project's, for its next photos; this shot keeps
    the shape its photo was cut to, and the answer says so."""
    aspect = parse_aspect(data.arg)
    if aspect is None:
        raise StudioError("aspect.usage")
    drafting = services(context).drafting
    revision = await drafting.revision_by_id(actor, data.row_id)
    shot = await drafting.shot_by_id(actor, revision.shot_id)
    chosen = await services(context).projects.set_aspect(
        actor, aspect, project_id=shot.project_id, fetch_status=member_status(context, actor)
    )
    await show_draft_in_place(context, actor, _message(update), revision, settings_open=True)
    return render.aspect_notice(chosen, actor.lang)[:ANSWER_LIMIT]


@button
async def on_back_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """⬅️ Back from settings to the draft's buttons."""
    drafting = services(context).drafting
    view = await drafting.draft_view(actor, await drafting.revision_by_id(actor, data.row_id))
    keyboard = render.draft_keyboard(view.revision, actor.lang, still_first=view.still_first)
    await edit_markup(_message(update), keyboard)
    return None


@button
async def on_cancel_shot_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """✖ Cancel: drop this shot from the project."""
    await services(context).drafting.cancel_shot(
        actor, data.row_id, fetch_status=member_status(context, actor)
    )
    await edit_html(_message(update), t("draft.cancelled", actor.lang))
    return None


@button
async def on_draft_from_photo_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """✨ No description: draft from the photo alone."""
    revision = await services(context).drafting.describe(actor, data.row_id, "")
    await show_draft_in_place(context, actor, _message(update), revision)
    return None


@button
async def on_open_shot_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """Open one shot of an album or project as a draft message."""
    shot = await services(context).drafting.shot_by_id(actor, data.row_id)
    if shot.current_revision_id is None:
        raise StudioError("draft.not_found")
    revision = await services(context).drafting.revision_by_id(actor, shot.current_revision_id)
    message = _message(update)
    await show_draft(
        context,
        actor,
        revision,
        chat_id=message.chat_id,
        thread_id=_thread(message),
        reply_to=shot.message_id if shot.chat_id == message.chat_id else None,
    )
    return None


def _message(update: Update) -> Message:
    message = update.callback_query.message if update.callback_query else None
    assert isinstance(message, Message)
    return message


BUTTONS = {
    cb.REFINE: on_refine_pressed,
    cb.REDRAFT: on_redraft_pressed,
    cb.SETTINGS: on_settings_pressed,
    cb.SET: on_setting_chosen,
    cb.BACK: on_back_pressed,
    cb.ASPECT_DRAFT: on_aspect_in_settings,
    cb.UNDO: on_undo_pressed,
    cb.CANCEL_SHOT: on_cancel_shot_pressed,
    cb.DRAFT_FROM_PHOTO: on_draft_from_photo_pressed,
    cb.OPEN_SHOT: on_open_shot_pressed,
}


def register(app: Application) -> None:
    """Replies that refine a draft or describe a photo, and the buttons under drafts."""
    app.add_handler(MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, on_reply))
    for action, handler in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
