"""Inline mode: `@bot words` in any chat offers the user's clips to send there.

Inline mode must be switched on for the bot with @BotFather (/setinline); without it
Telegram never sends inline queries. Answers are personal (`is_personal`) and cached for
seconds only, because what a user may share changes as they keep takes and leave groups.
"""

from __future__ import annotations

from html import escape

from telegram import InlineQueryResultCachedVideo, InlineQueryResultsButton, Update
from telegram.constants import ParseMode
from telegram.ext import Application, InlineQueryHandler

from bot.i18n import t
from bot.services.links import SharedClip
from handlers.common import Context, services
from handlers.links import membership_of

CACHE_S = 10
INLINE_START = "inline"  # /start payload of the "make a clip first" button
MAX_OFFSET = 10_000


async def on_inline_query(update: Update, context: Context) -> None:
    """@bot <words>: the user's clips whose project title has those words."""
    query = update.inline_query
    assert query is not None
    user = query.from_user
    lang = await services(context).accounts.language_of(user.id, user.id)
    offset = int(query.offset) if query.offset.isdigit() else 0
    page = await services(context).links.clips_to_share(
        user.id, query.query, min(offset, MAX_OFFSET), membership_of(context, user.id)
    )
    results = [_result(clip, lang, context.bot.username) for clip in page.clips]
    start = None
    if not results and offset == 0:
        start = InlineQueryResultsButton(t("inline.none", lang), start_parameter=INLINE_START)
    await query.answer(
        results,
        cache_time=CACHE_S,
        is_personal=True,
        next_offset=str(page.next_offset) if page.next_offset else "",
        button=start,
    )


def _result(clip: SharedClip, lang: str, bot_username: str) -> InlineQueryResultCachedVideo:
    if clip.film:
        title = t("inline.film_title", lang, project=clip.project_title)
        words = t("inline.film", lang)
    else:
        title = t("inline.title", lang, project=clip.project_title, position=clip.position)
        words = clip.words[:100]
    return InlineQueryResultCachedVideo(
        id=f"{'film' if clip.film else 'take'}-{clip.take_id}",
        video_file_id=clip.file_id,
        title=title[:128],
        description=f"{t('inline.kept', lang)} · {words}"
        if clip.kept and not clip.film
        else words,
        caption=t(
            "inline.caption", lang, project=escape(clip.project_title), bot=f"@{bot_username}"
        ),
        parse_mode=ParseMode.HTML,
    )


def register(app: Application) -> None:
    """Inline queries (@bot words in any chat)."""
    app.add_handler(InlineQueryHandler(on_inline_query))
