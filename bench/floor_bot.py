"""The necessary work for bench_drafts.py: a python-telegram-bot bot with no database.

The bare bot (bench/bare_bot.py) answers at once and does nothing else, which is the
measuring stick the goals are set against. This bot does, per captioned photo, exactly
the work Claymate cannot do without: getFile, the download, intake (the video-ready JPEG
and the LLM's copy, on a worker thread, as Claymate does it), one draft from the same LLM
drafter through the real `openai` client (with the answer's review), and the draft sent
back. It keeps nothing: no database, no file, no project. Run beside the other two in the
same burst, `Claymate ÷ floor` is what Claymate's own bookkeeping (the gate, the shot's
unit of work, remembering messages, files, logging) costs, and `floor ÷ bare` how far
the goal is from what the product must do at all.

By default it starts every update at once, so its drafts all come at the end of a burst and
its p95 is no floor. With FLOOR_CONCURRENT_UPDATES=N, PTB runs at most N updates at once
(first come, first served), so the drafts come out spread over the burst as Claymate's do,
and its p95 is then what a bot with no bookkeeping at all reaches on this machine.

Run: TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT OPENAI_API_KEY=...
     OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 [FLOOR_CONCURRENT_UPDATES=N]
     python bench/floor_bot.py
"""

from __future__ import annotations

import asyncio
import html
import os
import sys
from pathlib import Path

from telegram import ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bare_bot import KEYBOARD, build, poll  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.domain.types import DraftRequest  # noqa: E402
from bot.media.intake import prepare_photo  # noqa: E402
from bot.providers.offline.drafter import OfflineDrafter  # noqa: E402
from bot.providers.openai.llm import LLMDrafter  # noqa: E402

DRAFTER: LLMDrafter | None = None


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Fetch, intake, draft, answer: what any photo-to-draft bot must do."""
    message = update.effective_message
    assert message is not None and message.photo and DRAFTER is not None
    telegram_file = await message.photo[-1].get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    prepared = await asyncio.to_thread(prepare_photo, data, with_llm_jpeg=True)
    drafted = await DRAFTER.draft(
        DraftRequest(
            description=message.caption or "",
            facts=prepared.facts,
            photo_llm_jpeg=prepared.llm_jpeg,
        )
    )
    await context.bot.send_message(
        message.chat_id,
        f"🎬 <b>Draft</b>\n<blockquote>{html.escape(drafted.prompt)}</blockquote>\n"
        f"Avoid: {html.escape(drafted.negative_prompt)}",
        parse_mode=ParseMode.HTML,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        reply_markup=KEYBOARD,
    )


async def close_drafter(_application: object) -> None:
    """On PTB's loop, before it closes: an SDK client closed after it prints a traceback."""
    if DRAFTER is not None:
        await DRAFTER.aclose()


def main() -> None:
    global DRAFTER
    DRAFTER = LLMDrafter.from_settings(Settings(), fallback=OfflineDrafter())
    limit = os.environ.get("FLOOR_CONCURRENT_UPDATES")
    poll(
        build(
            on_photo,
            post_shutdown=close_drafter,
            concurrent_updates=int(limit) if limit else True,
        )
    )


if __name__ == "__main__":
    main()
