"""How drafts, statuses, clips and projects look in the chat: text and keyboards only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape, unescape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain.aspect import ASPECTS, AspectView
from bot.domain.records import ProjectRecord, RevisionRecord, ShotRecord, TakeRecord
from bot.domain.states import TakeState
from bot.domain.types import (
    CAMERA_MOVES,
    DURATIONS,
    MODES,
    ProgressUpdate,
    ProjectSummary,
    ProjectView,
)
from bot.i18n import has, t
from handlers import callbacks as cb

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
NEGATIVE_SHOWN = 300


def _button(text: str, action: str, row_id: int, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=cb.encode(action, row_id, arg))


def draft_text(
    revision: RevisionRecord, shot: ShotRecord, project: ProjectRecord, lang: str
) -> str:
    params = revision.params
    negative = revision.negative_prompt
    if len(negative) > NEGATIVE_SHOWN:
        negative = negative[:NEGATIVE_SHOWN].rsplit(" ", 1)[0] + "…"
    lines = [
        t(
            "draft.title",
            lang,
            number=revision.number,
            position=shot.position,
            project=escape(project.title),
        ),
        f"<blockquote>{escape(revision.prompt)}</blockquote>",
    ]
    if negative:
        lines.append(f"🚫 <i>{t('draft.negative', lang)}: {escape(negative)}</i>")
    lines.append(settings_line(params, lang))
    lines.append(t("draft.reply_hint", lang))
    return _fit("\n".join(lines), MESSAGE_LIMIT)


def settings_line(params: dict, lang: str) -> str:
    return escape(
        t(
            "draft.settings",
            lang,
            provider=params.get("provider", "?"),
            model=params.get("model", "?"),
            mode=t(f"mode.{params.get('mode', 'std')}", lang),
            duration=params.get("duration", 5),
            camera=t(f"camera.{params.get('camera_move', 'static')}", lang),
        )
    )


def draft_keyboard(
    revision: RevisionRecord, lang: str, *, still_first: bool = False
) -> InlineKeyboardMarkup:
    """A draft's buttons; with still first, the clay still takes 🎬 Generate's place, so
    nothing is paid for before a still is approved with 🎬 Animate this."""
    shot_id = revision.shot_id
    still = _button(t("button.still", lang), cb.STILL, revision.id)
    first = still if still_first else _button(t("button.generate", lang), cb.GENERATE, revision.id)
    rows = [
        [first, _button(t("button.refine", lang), cb.REFINE, revision.id)],
        [
            _button(t("button.redraft", lang), cb.REDRAFT, shot_id),
            _button(t("button.settings", lang), cb.SETTINGS, revision.id),
        ],
        [_button(t("button.cancel", lang), cb.CANCEL_SHOT, shot_id)],
    ]
    if not still_first:
        rows[2].insert(0, still)
    if revision.parent_id is not None:
        rows[2].insert(0, _button(t("button.undo", lang), cb.UNDO, shot_id))
    return InlineKeyboardMarkup(rows)


def engine_label(name: str, lang: str) -> str:
    """A video engine's name as shown in ⚙️; an engine without a label shows its own name."""
    key = f"engine.{name}"
    return t(key, lang) if has(key) else name


def settings_keyboard(
    revision: RevisionRecord,
    lang: str,
    providers: tuple[str, ...] = (),
    *,
    still_first: bool = False,
    sound: bool | None = None,
    durations: tuple[int, ...] = DURATIONS,
    modes: tuple[str, ...] = MODES,
    aspect: tuple[int, str | None] | None = None,
) -> InlineKeyboardMarkup:
    """⚙️ Settings: this draft's parameters (the durations and modes its model offers), the
    chat's still-first switch, the project's sound switch where the draft's model makes
    sound (`sound` None: it doesn't), and the project's shape (`aspect`: its id and shape;
    None: no row)."""
    params = revision.params

    def mark(current: object, value: object, label: str) -> str:
        return f"• {label}" if current == value else label

    duration_row = [
        _button(mark(params.get("duration"), d, f"{d} s"), cb.SET, revision.id, f"duration={d}")
        for d in durations
    ]
    mode_row = [
        _button(
            mark(params.get("mode"), m, t(f"mode.{m}", lang)), cb.SET, revision.id, f"mode={m}"
        )
        for m in modes
    ]
    moves = [
        _button(
            mark(params.get("camera_move"), move, t(f"camera.{move}", lang)),
            cb.SET,
            revision.id,
            f"camera_move={move}",
        )
        for move in CAMERA_MOVES
    ]
    rows = [duration_row, mode_row, moves[:4], moves[4:]]
    if len(providers) > 1:  # a choice only when more than one is configured
        current = params.get("provider")
        rows.append(
            [
                _button(
                    mark(current, name, engine_label(name, lang)),
                    cb.SET,
                    revision.id,
                    f"provider={name}",
                )
                for name in providers
            ]
        )
    toggle = "button.still_first_on" if still_first else "button.still_first_off"
    # The button shows the state; pressing it asks for the other one.
    rows.append(
        [_button(t(toggle, lang), cb.SET, revision.id, f"still_first={0 if still_first else 1}")]
    )
    if sound is not None:
        label = t("button.sound_on", lang) if sound else t("button.sound_off", lang)
        rows.append([_button(label, cb.SET, revision.id, f"sound={0 if sound else 1}")])
    if aspect is not None:
        # Named by the project: the shape is the project's, for its next photos.
        rows.append(aspect_row(aspect[0], aspect[1], lang, from_draft=revision.id))
    rows.append([_button(t("button.back", lang), cb.BACK, revision.id)])
    return InlineKeyboardMarkup(rows)


def ask_keyboard(shot: ShotRecord, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(t("button.draft_from_photo", lang), cb.DRAFT_FROM_PHOTO, shot.id),
                _button(t("button.cancel", lang), cb.CANCEL_SHOT, shot.id),
            ]
        ]
    )


def redraft_keyboard(shot: ShotRecord, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(t("button.redraft", lang), cb.REDRAFT, shot.id)]])


def status_text(take: TakeRecord, update: ProgressUpdate, lang: str) -> str:
    elapsed = format_elapsed(update.elapsed_s)
    if update.phase == TakeState.QUEUED and update.queue_position:
        return t("status.queued_position", lang, position=update.queue_position)
    if update.phase == TakeState.RENDERING and update.progress is not None:
        percent = round(update.progress * 100)
        return t("status.rendering_progress", lang, percent=percent, elapsed=elapsed)
    if update.phase == TakeState.RENDERING:
        return t("status.rendering", lang, elapsed=elapsed)
    if update.phase == TakeState.SUBMITTED:
        return t("status.submitted", lang, provider=take.provider)
    if update.phase in (TakeState.DOWNLOADING, TakeState.DELIVERING):
        return t(f"status.{update.phase}", lang)
    return t("status.queued", lang)


def status_keyboard(take: TakeRecord, lang: str) -> InlineKeyboardMarkup | None:
    if take.status != TakeState.QUEUED:
        return None
    return InlineKeyboardMarkup([[_button(t("button.cancel", lang), cb.CANCEL_TAKE, take.id)]])


def final_status_text(take: TakeRecord, lang: str) -> str:
    if take.status == TakeState.DELIVERED:
        started, ended = take.created_at, take.delivered_at or take.finished_at
        seconds = (ended - started).total_seconds() if ended and started else 0.0
        return t("status.done", lang, elapsed=format_elapsed(seconds))
    if take.status == TakeState.CANCELLED:
        return t("status.cancelled", lang)
    return t("status.failed", lang, reason=t(f"error.{take.error_kind or 'unknown'}", lang))


def clip_caption(take: TakeRecord, revision: RevisionRecord | None, lang: str) -> str:
    summary = escape((revision.summary if revision else "") or "")
    caption = t("clip.caption", lang, summary=summary)
    if take.preview:
        caption += f"\n<i>{escape(t('preview.label', lang))}</i>"
    return _fit(caption, CAPTION_LIMIT)


def clip_keyboard(take: TakeRecord, lang: str, *, kept: bool = False) -> InlineKeyboardMarkup:
    keep_label = t("button.kept", lang) if kept else t("button.keep", lang)
    rows = [
        [
            _button(t("button.again", lang), cb.AGAIN, take.id),
            _button(t("button.refine", lang), cb.REFINE, take.revision_id),
            _button(keep_label, cb.KEEP, take.id),
        ]
    ]
    if kept:  # the story goes on from the take that is in the film
        rows.append([_button(t("button.continue", lang), cb.CONTINUE, take.id)])
    return InlineKeyboardMarkup(rows)


def projects_text(summaries: list[ProjectSummary], lang: str) -> str:
    if not summaries:
        return t("project.none", lang)
    lines = [t("project.list_title", lang)]
    for index, summary in enumerate(summaries, 1):
        line = t(
            "project.line",
            lang,
            title=escape(summary.project.title),
            shots=summary.shots,
            clips=summary.clips,
        )
        lines.append(f"{index}. {line}")
    return "\n".join(lines)


def projects_keyboard(summaries: list[ProjectSummary]) -> InlineKeyboardMarkup | None:
    if not summaries:
        return None
    rows = [
        [_button(f"{i}. {s.project.title[:40]}", cb.OPEN_PROJECT, s.project.id)]
        for i, s in enumerate(summaries, 1)
    ]
    return InlineKeyboardMarkup(rows)


def aspect_row(
    project_id: int, current: str | None, lang: str, *, from_draft: int | None = None
) -> list[InlineKeyboardButton]:
    """16:9 · 9:16 · 1:1, the current one marked; pressed under a draft's ⚙️ (`from_draft`
    is its revision) the draft's settings come back, else the project's card."""
    action = cb.ASPECT_DRAFT if from_draft is not None else cb.ASPECT
    row_id = from_draft if from_draft is not None else project_id
    labels = {a: t(f"aspect.button.{a}", lang) for a in ASPECTS}
    return [
        _button(f"• {labels[a]}" if a == current else labels[a], action, row_id, a)
        for a in ASPECTS
    ]


def aspect_line(aspect: str | None, lang: str) -> str:
    """The project's shape, as its card says it."""
    if aspect is None:
        return t("aspect.line_own", lang)
    return t("aspect.line", lang, aspect=aspect)


def aspect_text(view: AspectView, lang: str, *, changed: bool = False) -> str:
    """/aspect's answer: the project's shape, and after a change what it means."""
    title = escape(view.title)
    if not changed:
        return "\n".join([t("aspect.current", lang, title=title), aspect_line(view.aspect, lang)])
    return escape(aspect_notice(view, lang))


def aspect_notice(view: AspectView, lang: str) -> str:
    """After a change: new photos take the shape; shots already in the project keep theirs."""
    text = t("aspect.set", lang, title=view.title, aspect=view.aspect or "")
    if view.others:
        text += " " + t("aspect.others_keep", lang, count=view.others)
    return text


def aspect_keyboard(view: AspectView, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([aspect_row(view.project_id, view.aspect, lang)])


def project_text(view: ProjectView, lang: str, *, current: bool = True) -> str:
    """A project's shots and clips; `current`: it is now the chat's current project."""
    header = "project.opened" if current else "project.shown"
    lines = [
        t(header, lang, title=escape(view.project.title)),
        aspect_line(view.project.aspect, lang),
    ]
    if not view.shots:
        lines.append(t("project.empty", lang))
    for shot_view in view.shots:
        shot = shot_view.shot
        description = escape((shot.description or "…")[:80])
        lines.append(t("project.shot_line", lang, position=shot.position, description=description))
        if shot_view.delivered:
            kept = t("project.kept_mark", lang) if shot_view.kept else ""
            lines.append(t("project.shot_clips", lang, clips=len(shot_view.delivered), kept=kept))
    return _fit("\n".join(lines), MESSAGE_LIMIT)


def project_keyboard(
    view: ProjectView, lang: str, *, storyboard: InlineKeyboardButton | None = None
) -> InlineKeyboardMarkup:
    """A button per shot (its clip again, or its draft), 🔗 Share link, and 🎞 Storyboard
    when given."""
    buttons = []
    for shot_view in view.shots:
        clip = shot_view.kept or (shot_view.delivered[-1] if shot_view.delivered else None)
        if clip is not None and clip.telegram_file_id:
            label = t("button.resend", lang, position=shot_view.shot.position)
            buttons.append(_button(label, cb.RESEND, clip.id))
        elif shot_view.revision is not None:
            label = t("button.open_shot", lang, position=shot_view.shot.position)
            buttons.append(_button(label, cb.OPEN_SHOT, shot_view.shot.id))
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(aspect_row(view.project.id, view.project.aspect, lang))
    rows.append([_button(t("button.share_link", lang), cb.SHARE_LINK, view.project.id)])
    if storyboard is not None:
        rows.append([storyboard])
    return InlineKeyboardMarkup(rows)


def album_text(
    project: ProjectRecord,
    shots: Sequence[ShotRecord],
    revisions: dict[int, RevisionRecord],
    lang: str,
) -> str:
    lines = [t("album.added", lang, count=len(shots), project=escape(project.title))]
    if project.aspect:
        lines.append(t("aspect.album", lang, aspect=project.aspect))
    for shot in shots:
        revision = revisions.get(shot.id)
        words = revision.summary if revision else (shot.description or "…")
        lines.append(f"{shot.position}. {escape(words[:90])}")
    waiting = any(shot.id not in revisions for shot in shots)
    lines.append(t("album.ask_description", lang) if waiting else t("album.open_hint", lang))
    return _fit("\n".join(lines), MESSAGE_LIMIT)


def album_keyboard(
    shots: Sequence[ShotRecord],
    revisions: dict[int, RevisionRecord],
    lang: str,
    *,
    generate_all: bool = False,
) -> InlineKeyboardMarkup | None:
    """A button per drafted shot; with `generate_all`, one that queues them all."""
    buttons = [
        _button(t("button.open_shot", lang, position=shot.position), cb.OPEN_SHOT, shot.id)
        for shot in shots
        if shot.id in revisions
    ]
    if not buttons:
        return None
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if generate_all and len(buttons) > 1:
        label = t("button.generate_all", lang, count=len(buttons))
        rows.append([_button(label, cb.GENERATE_ALL, shots[0].id)])
    return InlineKeyboardMarkup(rows)


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{secs}s"


# Telegram HTML, token by token: a tag, a character reference, or plain text.
_HTML_TOKEN = re.compile(r"<[^<>]*>|&(?:#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][a-zA-Z0-9-]*)")


def _units(visible: str) -> int:
    """Telegram measures text in UTF-16 code units: an emoji or a rare Han character is 2."""
    return len(visible.encode("utf-16-le")) // 2


def visible_length(html_text: str) -> int:
    """The length Telegram checks: the text after tags and entities are parsed."""
    total = 0
    for token in _HTML_TOKEN.findall(html_text):
        if len(token) > 1 and token[0] == "<":
            continue
        total += _units(unescape(token) if token[0] == "&" else token)
    return total


def _fit(text: str, limit: int) -> str:
    """Cut HTML to `limit` visible units with an ellipsis, never inside a tag or an entity,
    and close the tags the cut leaves open."""
    if visible_length(text) <= limit:
        return text
    room = limit - 1  # the ellipsis
    out: list[str] = []
    open_tags: list[str] = []
    for token in _HTML_TOKEN.findall(text):
        if len(token) > 1 and token[0] == "<":
            name = _TAG_NAME.match(token)
            tag = name.group(1).lower() if name else ""
            if token.startswith("</"):
                if tag in open_tags:
                    del open_tags[len(open_tags) - 1 - open_tags[::-1].index(tag)]
            elif not token.endswith("/>"):
                open_tags.append(tag)
            out.append(token)
            continue
        if token[0] == "&":
            units = _units(unescape(token))
            if units > room:
                break
            out.append(token)
            room -= units
            continue
        kept = []
        for char in token:
            units = _units(char)
            if units > room:
                break
            kept.append(char)
            room -= units
        out.append("".join(kept))
        if len(kept) < len(token):
            break
    return "".join(out) + "…" + "".join(f"</{tag}>" for tag in reversed(open_tags))
