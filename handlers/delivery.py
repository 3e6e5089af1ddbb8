"""How a take's life shows in the chat: a status message kept current, then the clip."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest

from bot.config import Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.records import TakeRecord
from bot.domain.types import Delivery, ProgressUpdate
from bot.services.accounts import Accounts
from bot.services.generation import Generation
from handlers import render
from handlers.common import chat_action

log = logging.getLogger(__name__)


class TelegramObserver:
    """The job runner's window onto Telegram.

    Status edits are throttled (Telegram allows about one message a second per chat and
    twenty a minute per group); a phase change is always shown, progress at most every
    `status_edit_interval_s`. The throttle is a cache: losing it on restart costs one edit.
    """

    def __init__(
        self, bot: Bot, generation: Generation, accounts: Accounts, settings: Settings
    ) -> None:
        self.bot = bot
        self.generation = generation
        self.accounts = accounts
        self.settings = settings
        self._shown: dict[int, tuple[str, float, str]] = {}  # take id → phase, when, text
        # take id → the language its status speaks: read once per take, not once a poll
        # (a /lang mid-take shows from the next take on). A cache: a restart reads it again.
        self._langs: dict[int, str] = {}

    async def on_progress(self, take: TakeRecord, update: ProgressUpdate) -> None:
        if take.chat_id is None:
            return
        lang = await self._language(take)
        text = render.status_text(take, update, lang)
        now = time.monotonic()
        phase, when, shown_text = self._shown.get(take.id, ("", 0.0, ""))
        if text == shown_text:
            return
        if phase == update.phase and now - when < self.settings.status_edit_interval_s:
            return
        self._shown[take.id] = (update.phase, now, text)
        markup = render.status_keyboard(take, lang)
        if take.status_message_id is None:
            message = await self.bot.send_message(
                take.chat_id,
                text,
                message_thread_id=take.thread_id,
                reply_parameters=_reply_to(take.reply_to_message_id),
                reply_markup=markup,
            )
            await self.generation.attach_status_message(take.id, take.chat_id, message.message_id)
            take.status_message_id = message.message_id
            return
        await self._edit(take, text, markup)

    async def deliver(self, take: TakeRecord) -> Delivery:
        """Upload the clip as a streamable video replying to the photo, with its buttons."""
        if take.chat_id is None or take.clip_path is None:
            return Delivery(None, None)
        path = Path(take.clip_path)
        size = take.clip_size or 0
        if size > self.settings.upload_limit_bytes:
            raise ProviderError(ErrorKind.TOO_LARGE, f"clip is {size} bytes")
        lang = await self._language(take)
        revision = await self.generation.revision_for_take(take)
        data = await asyncio.to_thread(path.read_bytes)
        # "Sending a video…" from the start of the upload (it can take a while), and kept up.
        async with (
            _refusal_fails_the_take(),
            chat_action(
                self.bot,
                take.chat_id,
                ChatAction.UPLOAD_VIDEO,
                thread_id=take.thread_id,
                after_s=0,
            ),
        ):
            message = await self.bot.send_video(
                take.chat_id,
                video=InputFile(data, filename=path.name),
                duration=round(take.clip_duration or 0) or None,
                width=take.clip_width,
                height=take.clip_height,
                supports_streaming=True,
                caption=render.clip_caption(take, revision, lang),
                parse_mode=ParseMode.HTML,
                message_thread_id=take.thread_id,
                reply_parameters=_reply_to(take.reply_to_message_id),
                reply_markup=render.clip_keyboard(take, lang),
                read_timeout=120,
                write_timeout=120,
            )
        await self.generation.remember_clip(
            message.chat_id, message.message_id, take.id, take.revision_id
        )
        file_id = message.video.file_id if message.video else None
        return Delivery(message.message_id, file_id)

    async def on_finished(self, take: TakeRecord) -> None:
        self._shown.pop(take.id, None)
        if take.chat_id is None or take.status_message_id is None:
            self._langs.pop(take.id, None)
            return
        lang = await self._language(take)
        self._langs.pop(take.id, None)
        await self._edit(take, render.final_status_text(take, lang), None)

    async def _language(self, take: TakeRecord) -> str:
        assert take.chat_id is not None
        if take.id not in self._langs:
            self._langs[take.id] = await self.accounts.language_of(take.requested_by, take.chat_id)
        return self._langs[take.id]

    async def _edit(
        self, take: TakeRecord, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=take.chat_id,
                message_id=take.status_message_id,
                reply_markup=markup,
            )
        except BadRequest as error:
            # A repeated text, or a status message the user deleted: neither stops the take.
            if "not modified" not in str(error).lower():
                log.info("take %s: status edit refused: %s", take.id, error)


@contextlib.asynccontextmanager
async def _refusal_fails_the_take() -> AsyncIterator[None]:
    """A Bad Request is an answer, not a blip: the same upload would be refused again."""
    try:
        yield
    except BadRequest as error:
        raise ProviderError(ErrorKind.REJECTED, f"telegram refused the clip: {error}") from None


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
