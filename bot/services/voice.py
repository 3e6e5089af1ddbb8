"""Voice notes as words: a voice note replying to a draft refines it like a typed reply.

The note is written down by a transcription endpoint (bot/providers/openai/audio.py),
hinted with the user's language, and the text goes the way a typed reply goes; the user
is shown what was heard, so a mishearing is caught before anything is generated. Without
a key there is nobody to listen: the user is asked to type instead, before anything is
downloaded. Long or large notes are refused up front, with the limit in the message.
"""

from __future__ import annotations

import logging

from bot.domain.errors import ProviderError, StudioError
from bot.domain.ports import Transcriber
from bot.domain.types import Actor

log = logging.getLogger(__name__)

MAX_VOICE_SECONDS = 120  # a change to a draft is a sentence or two, not a speech
MAX_VOICE_BYTES = 10 * 1024 * 1024  # far above two minutes of Telegram's opus voice notes


class VoiceNotes:
    """Writes down what a user said to a draft."""

    def __init__(self, transcriber: Transcriber | None) -> None:
        self.transcriber = transcriber

    @property
    def available(self) -> bool:
        """Whether a voice note can be heard at all (a transcription endpoint is set)."""
        return self.transcriber is not None

    def check(self, duration_s: float | None, size_bytes: int | None) -> None:
        """Refuse, before downloading, what will not be transcribed; say what to do instead."""
        if self.transcriber is None:
            raise StudioError("voice.offline")
        if duration_s is not None and duration_s > MAX_VOICE_SECONDS:
            raise StudioError("voice.too_long", seconds=MAX_VOICE_SECONDS)
        if size_bytes is not None and size_bytes > MAX_VOICE_BYTES:
            raise StudioError("voice.too_long", seconds=MAX_VOICE_SECONDS)

    async def transcribe(self, actor: Actor, audio: bytes, filename: str) -> str:
        """What the user said, in one line; a clear error when nothing could be heard."""
        self.check(None, len(audio))
        assert self.transcriber is not None
        try:
            text = await self.transcriber.transcribe(audio, filename, actor.lang)
        except ProviderError as error:
            log.warning("voice note not transcribed: %s", error)
            raise StudioError("voice.failed") from None
        text = " ".join(text.split())
        if not text:
            raise StudioError("voice.empty")
        return text
