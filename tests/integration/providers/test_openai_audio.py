"""Voice notes heard and lines spoken through the real `openai` client against the fake.

The fake refuses what the real endpoints refuse (a wrong content type, no file, an unknown
model or voice, input over 4096 characters), so these check both that the bot's requests
are ones the service takes and that the fake is strict where it matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.media import soundtrack
from bot.providers.openai.audio import OpenAIAudio
from bot.providers.registry import build_audio
from tests.conftest import make_settings
from tests.fakes.fake_openai import DEFAULT_TRANSCRIPT_ZH, FakeOpenAI
from tests.fakes.fake_openai_audio import SPEECH_MODELS, TRANSCRIBE_MODELS, speech
from tests.unit.test_film_sound_and_words import tone, write_audio

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def voice_note(tmp_path: Path) -> bytes:
    """A Telegram-like voice note: ogg/opus."""
    return write_audio(tmp_path / "note.ogg", tone(1.5, 300, 0.2), "libopus").read_bytes()


def audio_for(fake: FakeOpenAI, **kwargs: str) -> OpenAIAudio:
    return OpenAIAudio(fake.api_key, fake.base_url, max_retries=0, **kwargs)


def test_the_default_models_are_served_and_only_with_a_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.transcribe_model in TRANSCRIBE_MODELS
    assert settings.tts_model in SPEECH_MODELS
    assert build_audio(settings) is None  # offline: nobody to listen or speak


async def test_a_voice_note_is_written_down_with_the_users_language(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    audio = audio_for(fake)
    try:
        heard = await audio.transcribe(voice_note(tmp_path), "voice.ogg", "zh")
    finally:
        await audio.aclose()
    assert heard == DEFAULT_TRANSCRIPT_ZH
    sent = fake.transcriptions[-1]
    assert sent["model"] == "gpt-transcribe" and sent["language"] == "zh"
    assert sent["filename"] == "voice.ogg" and sent["bytes"] > 100


async def test_an_unknown_transcription_model_names_the_setting(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    audio = audio_for(fake, transcribe_model="whisper-9")
    try:
        with pytest.raises(ProviderError) as caught:
            await audio.transcribe(voice_note(tmp_path), "voice.ogg", "en")
    finally:
        await audio.aclose()
    assert caught.value.kind is ErrorKind.PERMISSION
    assert "CLAYMATE_TRANSCRIBE_MODEL=whisper-9" in caught.value.detail


async def test_the_fake_refuses_what_the_transcription_endpoint_refuses(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    url = f"{fake.base_url}/audio/transcriptions"
    auth = {"Authorization": f"Bearer {fake.api_key}"}
    note = voice_note(tmp_path)
    async with httpx.AsyncClient() as client:
        as_json = await client.post(url, json={"model": "gpt-transcribe"}, headers=auth)
        no_file = await client.post(url, data={"model": "gpt-transcribe"}, files={}, headers=auth)
        no_file_multipart = await client.post(
            url,
            data={"model": "gpt-transcribe"},
            files={"prompt_file": ("x.txt", b"x")},
            headers=auth,
        )
        wrong_kind = await client.post(
            url, data={"model": "gpt-transcribe"}, files={"file": ("a.txt", note)}, headers=auth
        )
        not_audio = await client.post(
            url,
            data={"model": "gpt-transcribe"},
            files={"file": ("a.ogg", b"OggS not really" * 20)},
            headers=auth,
        )
        unknown_model = await client.post(
            url, data={"model": "whisper-9"}, files={"file": ("a.ogg", note)}, headers=auth
        )
        fine = await client.post(
            url, data={"model": "gpt-transcribe"}, files={"file": ("a.ogg", note)}, headers=auth
        )
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.text
    assert no_file.status_code == 400
    assert no_file_multipart.status_code == 400  # an unknown field, and still no file
    assert wrong_kind.status_code == 400 and "Invalid file format" in wrong_kind.text
    assert not_audio.status_code == 400 and "corrupted" in not_audio.text
    assert unknown_model.status_code == 404 and "model_not_found" in unknown_model.text
    assert fine.status_code == 200 and fine.json()["text"]


async def test_a_line_is_spoken_as_audio_that_plays(fake: FakeOpenAI, tmp_path: Path) -> None:
    audio = audio_for(fake)
    try:
        data = await audio.speak("外滩的船慢慢驶过", "zh")
    finally:
        await audio.aclose()
    path = tmp_path / "line.mp3"
    path.write_bytes(data)
    samples = soundtrack.decode_audio(path)
    assert samples.shape[1] > soundtrack.SAMPLE_RATE // 2
    sent = fake.speeches[-1]
    assert sent["model"] == "gpt-4o-mini-tts" and sent["voice"] == "marin"
    assert sent["input"] == "外滩的船慢慢驶过" and "Chinese" in sent["instructions"]
    assert sent["response_format"] == "mp3"


async def test_tts_1_is_sent_no_instructions(fake: FakeOpenAI) -> None:
    audio = audio_for(fake, tts_model="tts-1")
    try:
        assert await audio.speak("boats", "en")
    finally:
        await audio.aclose()
    assert "instructions" not in fake.speeches[-1]


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"voice": "robot"}, 400, "Invalid value: 'robot'"),
        ({"model": "tts-9"}, 404, "model_not_found"),
        ({"input": "x" * 4097}, 400, "string_above_max_length"),
        ({"model": "tts-1", "instructions": "calm"}, 400, "instructions"),
    ],
)
async def test_the_fake_refuses_what_the_speech_endpoint_refuses(
    fake: FakeOpenAI, change: dict[str, str], status: int, words: str
) -> None:
    body = {"model": "gpt-4o-mini-tts", "voice": "marin", "input": "boats"} | change
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{fake.base_url}/audio/speech",
            json=body,
            headers={"Authorization": f"Bearer {fake.api_key}"},
        )
    assert answer.status_code == status and words in answer.text


async def test_a_refused_voice_names_nothing_secret(fake: FakeOpenAI) -> None:
    audio = OpenAIAudio(fake.api_key, fake.base_url, voice="robot", max_retries=0)
    try:
        with pytest.raises(ProviderError) as caught:
            await audio.speak("boats", "en")
    finally:
        await audio.aclose()
    assert caught.value.kind is ErrorKind.INVALID and fake.api_key not in caught.value.detail


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "opus", "aac"])
def test_the_fakes_speech_decodes_in_each_format(fmt: str, tmp_path: Path) -> None:
    status, body = speech("hello there", fmt)
    assert status == 200
    path = tmp_path / f"line.{fmt}"
    path.write_bytes(body.data)  # type: ignore[union-attr]
    assert soundtrack.decode_audio(path).shape[1] > soundtrack.SAMPLE_RATE // 2
