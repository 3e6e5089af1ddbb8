"""A user gives the film a song and words from the chat: send an audio file, /subtitles on,
/film — the film plays the song at an even loudness and carries each shot's line."""

from __future__ import annotations

from pathlib import Path

import av

from bot.media import soundtrack
from tests.e2e.conftest import RunningBot
from tests.e2e.test_private_chat import draft_for_photo, generate
from tests.fakes.updates import audio_update, command_update
from tests.integration.test_storyboard import COLOURS, solid_photo
from tests.unit.test_film_sound_and_words import soft_cues, tone, write_audio


async def test_a_song_and_subtitles_sent_in_the_chat_are_in_the_film(
    bot: RunningBot, tmp_path: Path
) -> None:
    bot.push(command_update(bot.chat, bot.user, "/new", "外滩"))
    await bot.wait_for("sendMessage")
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[0]), "外滩的船慢慢驶过")
    await generate(bot, draft)

    song = write_audio(tmp_path / "song.m4a", tone(3.0, 330, amplitude=0.05), "aac")
    bot.push(audio_update(bot.stub, bot.chat, bot.user, song.read_bytes(), file_name="song.m4a"))
    answer = await bot.wait_for("sendMessage", lambda c: "🎵" in c.params["text"])
    assert "your song" in answer.params["text"] and "外滩" in answer.params["text"]

    bot.push(command_update(bot.chat, bot.user, "/subtitles", "on"))
    await bot.wait_for("sendMessage", lambda c: "💬" in c.params["text"])

    bot.push(command_update(bot.chat, bot.user, "/film"))
    film_call = await bot.wait_for("sendVideo", count=2, timeout=90)
    path = tmp_path / "film.mp4"
    path.write_bytes(film_call.uploads["video"].data)
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1
        video = container.streams.video[0]
        video_s = float(video.duration * video.time_base)
    audio = soundtrack.decode_audio(path)
    assert abs(audio.shape[1] / soundtrack.SAMPLE_RATE - video_s) < 0.15
    assert abs(soundtrack.integrated_loudness(audio) - soundtrack.TARGET_LUFS) <= 1.0
    assert [text for _, _, text in soft_cues(path)] == ["外滩的船慢慢驶过"]


async def test_a_file_that_is_not_a_song_is_refused_and_nothing_changes(
    bot: RunningBot,
) -> None:
    bogus = b"ID3" + b"\x00" * 10 + b"definitely not audio" * 50
    bot.push(audio_update(bot.stub, bot.chat, bot.user, bogus, file_name="track.mp3"))
    refused = await bot.wait_for("sendMessage")
    assert (
        "track.mp3" in refused.params["text"] and "mp3, m4a, ogg or wav" in refused.params["text"]
    )
    bot.push(command_update(bot.chat, bot.user, "/music"))
    shown = await bot.wait_for("sendMessage", count=2)
    assert "🔇" in shown.params["text"]
    music_dir = bot.settings.data_dir / "music"
    assert not music_dir.exists() or list(music_dir.iterdir()) == []  # no stray upload kept


async def test_music_calm_and_off(bot: RunningBot) -> None:
    bot.push(command_update(bot.chat, bot.user, "/music", "calm"))
    calm = await bot.wait_for("sendMessage")
    assert "gentle generated tune" in calm.params["text"]
    bot.push(command_update(bot.chat, bot.user, "/music", "loud"))
    usage = await bot.wait_for("sendMessage", count=2)
    assert "/music calm" in usage.params["text"]
    bot.push(command_update(bot.chat, bot.user, "/music", "off"))
    off = await bot.wait_for("sendMessage", count=3)
    assert "🔇" in off.params["text"]
