"""The floor for bench_drafts.py: a python-telegram-bot bot that does no work at all.

It is built the way Claymate's Application is (concurrent updates, and the very rate limiter
Claymate runs with, bot.ratelimit.telegram_rate_limiter, so neither side waits on Telegram's
flood limits more than the other), answers /start with a fixed welcome and every photo at
once with a fixed, draft-shaped message (HTML, reply, five buttons), so the difference to
Claymate is exactly Claymate's own work: download, intake, draft, database.

Run: TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT python bench/bare_bot.py
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.metrics import Metrics  # noqa: E402
from bot.ratelimit import telegram_rate_limiter  # noqa: E402

WELCOME = (
    "👋 <b>Claymate</b> turns a photo and a line of text into a clay-animation clip.\n"
    "Send a photo with a caption saying what should move."
)

DRAFT = (
    "🎬 <b>Draft</b>\n<blockquote>Claymation, handmade plasticine look: boats glide slowly "
    "along the river, warm lights flicker on along the Bund, soft studio lighting, "
    "stop-motion texture.</blockquote>\nAvoid: blur, distortion, text\n5 s · std · static"
)
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("🎬 Generate", callback_data="g:1")],
        [
            InlineKeyboardButton("✏️ Refine", callback_data="r:1"),
            InlineKeyboardButton("🔄 New draft", callback_data="n:1"),
        ],
        [
            InlineKeyboardButton("⚙️ Settings", callback_data="s:1"),
            InlineKeyboardButton("✖ Cancel", callback_data="x:1"),
        ],
    ]
)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer at once with a fixed welcome; no database."""
    message = update.effective_message
    assert message is not None
    await context.bot.send_message(message.chat_id, WELCOME, parse_mode=ParseMode.HTML)


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer at once; no download, no database, no drafting."""
    message = update.effective_message
    assert message is not None
    await context.bot.send_message(
        message.chat_id,
        DRAFT,
        parse_mode=ParseMode.HTML,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        reply_markup=KEYBOARD,
    )


def build(
    on_photo: Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]],
    post_shutdown: Callable[[Application[Any, Any, Any, Any, Any, Any]], Coroutine[Any, Any, None]]
    | None = None,
    concurrent_updates: bool | int = True,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Claymate's PTB set-up (its rate limiter, concurrent updates), /start and `on_photo`.

    bench/floor_bot.py builds on it too, so the bots differ only in what a photo does
    (and, when it is asked to, in how many updates are at work at once).
    """
    api = os.environ["TELEGRAM_API_URL"].rstrip("/")
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(telegram_rate_limiter(Metrics()))
        .concurrent_updates(concurrent_updates)
    )
    if post_shutdown is not None:
        builder = builder.post_shutdown(post_shutdown)
    application = builder.build()
    application.add_handler(CommandHandler(["start", "help"], on_start))
    application.add_handler(MessageHandler(filters.PHOTO, on_photo))
    return application


def poll(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Long-poll the stub as Claymate does, until SIGTERM or SIGINT."""
    application.run_polling(
        allowed_updates=Update.ALL_TYPES,
        poll_interval=0.0,
        timeout=1,
        stop_signals=(signal.SIGTERM, signal.SIGINT),
    )


def main() -> None:
    poll(build(on_photo))


if __name__ == "__main__":
    main()
