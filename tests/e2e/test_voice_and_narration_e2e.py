"""A user talks to a draft and gets a narrated film: a voice note replying to a draft is
written down, shown, and refines the draft like a typed reply; /narration on reads each
shot's line over the film. Offline, the bot asks for text and has no narration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import av
import pytest

from bot.media import soundtrack
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import draft_for_photo, generate, is_draft
from tests.fakes.fake_openai import DEFAULT_TRANSCRIPT, FakeOpenAI
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import audio_update, command_update, voice_update
from tests.integration.test_storyboard import COLOURS, solid_photo
from tests.unit.test_film_sound_and_words import tone, write_audio

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def keyed_bot(
    stub: TelegramStub, tmp_path: Path, fake: FakeOpenAI
) -> AsyncIterator[RunningBot]:
    settings = bot_settings(
        tmp_path, stub, openai_api_key=fake.api_key, openai_base_url=fake.base_url
    )
    running = await start_bot(stub, settings)
    try:
        yield running
    finally:
        await stop_bot(running)


def voice_downloads(bot: RunningBot) -> list[object]:
    return [c for c in bot.stub.calls("getFile") if "voice" in c.params["file_id"]]


def note(tmp_path: Path, seconds: float = 1.5) -> bytes:
    return write_audio(tmp_path / "note.ogg", tone(seconds, 300, 0.2), "libopus").read_bytes()


async def test_a_voice_note_replying_to_a_draft_refines_it(
    keyed_bot: RunningBot, fake: FakeOpenAI, tmp_path: Path
) -> None:
    bot = keyed_bot
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[0]), "boats on the river")
    bot.push(voice_update(bot.stub, bot.chat, bot.user, note(tmp_path), reply_to=draft))
    heard = await bot.wait_for("sendMessage", lambda c: "🎙" in c.params["text"])
    assert DEFAULT_TRANSCRIPT in heard.params["text"]
    refined = await bot.wait_for("sendMessage", is_draft, count=2)
    assert refined.params["reply_parameters"]["message_id"] != draft["message_id"]
    assert len(voice_downloads(bot)) == 1
    assert fake.transcriptions[-1]["language"] == "en"
    assert fake.transcriptions[-1]["filename"] == "voice.ogg"
    # The drafter was asked to change the draft by exactly what was heard.
    assert any(DEFAULT_TRANSCRIPT in str(r["messages"]) for r in fake.chat_requests())


async def test_a_voice_note_too_long_is_refused_before_it_is_downloaded(
    keyed_bot: RunningBot, fake: FakeOpenAI, tmp_path: Path
) -> None:
    bot = keyed_bot
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[1]), "boats on the river")
    bot.push(
        voice_update(bot.stub, bot.chat, bot.user, note(tmp_path), duration=600, reply_to=draft)
    )
    refused = await bot.wait_for("sendMessage", lambda c: "too long" in c.params["text"])
    assert "120 seconds" in refused.params["text"]
    assert voice_downloads(bot) == [] and fake.transcriptions == []


async def test_offline_a_voice_note_to_a_draft_asks_for_text(
    bot: RunningBot, tmp_path: Path
) -> None:
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[2]), "boats on the river")
    bot.push(voice_update(bot.stub, bot.chat, bot.user, note(tmp_path), reply_to=draft))
    asked = await bot.wait_for("sendMessage", lambda c: "voice notes" in c.params["text"])
    assert "as text" in asked.params["text"]
    assert voice_downloads(bot) == []  # nothing downloaded that nobody can hear


async def test_a_song_replying_to_a_draft_is_still_the_films_music(
    bot: RunningBot, tmp_path: Path
) -> None:
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[0]), "boats on the river")
    song = write_audio(tmp_path / "song.m4a", tone(3.0, 330, amplitude=0.05), "aac")
    bot.push(
        audio_update(
            bot.stub, bot.chat, bot.user, song.read_bytes(), file_name="song.m4a",
            duration=200, reply_to=draft,
        )
    )  # fmt: skip
    answer = await bot.wait_for("sendMessage", lambda c: "🎵" in c.params["text"])
    assert "your song" in answer.params["text"]


async def test_offline_narration_explains_it_needs_a_key(bot: RunningBot) -> None:
    bot.push(command_update(bot.chat, bot.user, "/narration", "on"))
    answer = await bot.wait_for("sendMessage")
    assert "OPENAI_API_KEY" in answer.params["text"] and "/subtitles on" in answer.params["text"]


async def test_a_narrated_film_speaks_each_shots_line_in_chinese(
    keyed_bot: RunningBot, fake: FakeOpenAI, tmp_path: Path
) -> None:
    bot = keyed_bot
    bot.user["language_code"] = "zh-hans"
    bot.push(command_update(bot.chat, bot.user, "/new", "外滩"))
    await bot.wait_for("sendMessage")
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[0]), "外滩的船慢慢驶过")
    await generate(bot, draft)
    bot.push(command_update(bot.chat, bot.user, "/narration", "on"))
    await bot.wait_for("sendMessage", lambda c: "🗣" in c.params["text"])
    bot.push(command_update(bot.chat, bot.user, "/film"))
    film_call = await bot.wait_for("sendVideo", count=2, timeout=90)
    assert [s["input"] for s in fake.speeches] == ["外滩的船慢慢驶过"]
    assert "Chinese" in fake.speeches[0]["instructions"]
    path = tmp_path / "film.mp4"
    path.write_bytes(film_call.uploads["video"].data)
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1
        video = container.streams.video[0]
        video_s = float(video.duration * video.time_base)
    audio = soundtrack.decode_audio(path)
    assert abs(audio.shape[1] / soundtrack.SAMPLE_RATE - video_s) < 0.15
    films = bot.settings.data_dir / "films"
    assert not list(films.glob("narration-*"))  # spoken lines are not kept


async def test_a_short_audio_message_replying_to_a_draft_is_heard_too(
    keyed_bot: RunningBot, fake: FakeOpenAI, tmp_path: Path
) -> None:
    bot = keyed_bot
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[1]), "boats on the river")
    recording = write_audio(tmp_path / "memo.m4a", tone(2.0, 300, 0.2), "aac").read_bytes()
    bot.push(
        audio_update(
            bot.stub, bot.chat, bot.user, recording, file_name="memo.m4a",
            mime_type="audio/mp4", duration=2, reply_to=draft,
        )
    )  # fmt: skip
    await bot.wait_for("sendMessage", lambda c: "🎙" in c.params["text"])
    await bot.wait_for("sendMessage", is_draft, count=2)
    assert fake.transcriptions[-1]["filename"] == "memo.m4a"
