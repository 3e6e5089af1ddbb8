"""Voice in and out on an OpenAI-compatible endpoint: transcriptions and speech.

A voice note replying to a draft is written down with `audio.transcriptions.create`
(the language hint is the user's, so a short Chinese note is not heard as Japanese), and
a film's narration is spoken with `audio.speech.create`. Both models and the voice are
settings (CLAYMATE_TRANSCRIBE_MODEL, CLAYMATE_TTS_MODEL, CLAYMATE_TTS_VOICE): providers
retire them, and an operator must be able to follow without a release.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from openai import OpenAIError

from bot.domain.errors import ErrorKind, ProviderError
from bot.providers.openai.client import (
    MAX_RETRIES,
    model_access,
    openai_client,
    provider_error,
)

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.domain.health import ModelAccess

log = logging.getLogger(__name__)

DEFAULT_TRANSCRIBE_MODEL = "gpt-transcribe"
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_TTS_VOICE = "marin"
TRANSCRIBE_SETTING = "CLAYMATE_TRANSCRIBE_MODEL"
TTS_SETTING = "CLAYMATE_TTS_MODEL"
SPEECH_INPUT_LIMIT = 4096  # characters the speech endpoint takes in one call
# The first speech models read text as given and take no instructions.
_PLAIN_TTS_MODELS = ("tts-1", "tts-1-hd")
_READ_AS = {
    "zh": "Read this aloud in Mandarin Chinese, warmly and unhurried, like a storyteller.",
    "en": "Read this aloud warmly and unhurried, like a storyteller.",
}
_CONTENT_TYPES = {
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "webm": "audio/webm",
    "flac": "audio/flac",
}


class OpenAIAudio:
    """Transcriptions and speech through one `openai` client."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        *,
        transcribe_model: str = DEFAULT_TRANSCRIBE_MODEL,
        tts_model: str = DEFAULT_TTS_MODEL,
        voice: str = DEFAULT_TTS_VOICE,
        timeout: float = 60.0,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.transcribe_model = transcribe_model
        self.tts_model = tts_model
        self.voice = voice
        self._base_url = base_url
        self._secret = api_key
        self._client = openai_client(api_key, base_url, timeout=timeout, max_retries=max_retries)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIAudio:
        """Built from OPENAI_API_KEY, OPENAI_BASE_URL and the audio model settings."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        return cls(
            key,
            settings.openai_base_url,
            transcribe_model=settings.transcribe_model,
            tts_model=settings.tts_model,
            voice=settings.tts_voice,
            timeout=settings.llm_timeout_s * 2,
        )

    @property
    def narrator(self) -> str:
        """The speech model and voice, as a film's cache key names who spoke."""
        return f"{self.tts_model}/{self.voice}"

    def __repr__(self) -> str:
        return f"OpenAIAudio(transcribe={self.transcribe_model!r}, tts={self.tts_model!r})"

    async def transcribe(self, audio: bytes, filename: str, language: str | None) -> str:
        """The words said in `audio`, as plain text."""
        suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "ogg"
        upload = (filename, audio, _CONTENT_TYPES.get(suffix, "application/octet-stream"))
        try:
            if language:
                result = await self._client.audio.transcriptions.create(
                    model=self.transcribe_model, file=upload, language=language
                )
            else:
                result = await self._client.audio.transcriptions.create(
                    model=self.transcribe_model, file=upload
                )
        except OpenAIError as exc:
            raise self._error(exc, "openai transcription", TRANSCRIBE_SETTING) from None
        return " ".join(str(getattr(result, "text", "") or "").split())

    async def speak(self, text: str, language: str) -> bytes:
        """`text` read aloud, as MP3 bytes."""
        text = text[:SPEECH_INPUT_LIMIT]
        try:
            if self.tts_model in _PLAIN_TTS_MODELS:
                response = await self._client.audio.speech.create(
                    model=self.tts_model, voice=self.voice, input=text, response_format="mp3"
                )
            else:
                response = await self._client.audio.speech.create(
                    model=self.tts_model,
                    voice=self.voice,
                    input=text,
                    response_format="mp3",
                    instructions=_READ_AS.get(language, _READ_AS["en"]),
                )
        except OpenAIError as exc:
            raise self._error(exc, "openai speech", TTS_SETTING) from None
        data = response.content
        if not data:
            raise ProviderError(ErrorKind.UNKNOWN, "openai speech: no audio in the answer")
        return data

    def _error(self, exc: OpenAIError, op: str, setting: str) -> ProviderError:
        model = self.transcribe_model if setting == TRANSCRIBE_SETTING else self.tts_model
        return provider_error(
            exc, op, setting=setting, model=model, base_url=self._base_url, secret=self._secret
        )

    async def check_access(self, model: str) -> ModelAccess:
        """The key proved and `model` looked up, for free (models.list)."""
        return await model_access(self._client, model)

    async def aclose(self) -> None:
        """Close the OpenAI client."""
        await self._client.close()


class AudioModelCheck:
    """One audio model as `claymate doctor` sees it: a voice note or a narrated film fails
    only when used, so a missing model is better found before going live."""

    def __init__(self, audio: OpenAIAudio, model: str) -> None:
        self._audio = audio
        self._model = model

    async def check_access(self) -> ModelAccess:
        return await self._audio.check_access(self._model)

    async def aclose(self) -> None:
        await self._audio.aclose()
