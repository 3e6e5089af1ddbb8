"""Narration and the end card: each shot's spoken line from its start, the music ducked
under it, one sound track as long as the film; and a closing card in the film's size."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bot.media import soundtrack
from bot.media.film import (
    END_CARD_SECONDS,
    FilmError,
    assemble_film,
    end_card_image,
)
from bot.media.fonts import draws_chinese, find_cjk_font
from tests.unit.test_film import make_clip
from tests.unit.test_film_sound_and_words import (
    band_energy,
    streams,
    tone,
    video_seconds,
    write_audio,
)

SR = soundtrack.SAMPLE_RATE


@pytest.fixture
def two(tmp_path: Path) -> list[Path]:
    return [make_clip(tmp_path / f"c{i}.mp4", seconds=2.0, colour=i) for i in range(2)]


def test_narration_gives_one_sound_track_as_long_as_the_film_with_the_line_at_its_shot(
    two: list[Path], tmp_path: Path
) -> None:
    line = write_audio(tmp_path / "line.mp3", tone(1.2, 2000, amplitude=0.2), "libmp3lame")
    film = assemble_film(two, tmp_path / "film.mp4", narration=[None, line])
    assert film.has_audio and film.method == "copy"  # spoken words need no re-encode
    assert len(streams(film.path)["audio"]) == 1
    audio = soundtrack.decode_audio(film.path)
    assert abs(audio.shape[1] / SR - video_seconds(film.path)) < 0.1
    first, second = audio[:, : int(1.9 * SR)], audio[:, int(2.3 * SR) : int(3.3 * SR)]
    assert band_energy(second, 1950, 2050) > 1000 * max(band_energy(first, 1950, 2050), 1e-9)


def test_music_is_ducked_under_the_narration(two: list[Path], tmp_path: Path) -> None:
    music = write_audio(tmp_path / "music.wav", tone(4.0, 500, amplitude=0.2), "pcm_s16le")
    line = write_audio(tmp_path / "line.wav", tone(1.5, 2000, amplitude=0.3), "pcm_s16le")
    film = assemble_film(two, tmp_path / "film.mp4", music=music, narration=[line, None])
    audio = soundtrack.decode_audio(film.path)
    assert abs(soundtrack.integrated_loudness(audio) - soundtrack.TARGET_LUFS) <= 1.0
    under = audio[:, int(0.8 * SR) : int(1.6 * SR)]  # the line plays from 0.25 s
    alone = audio[:, int(2.3 * SR) : int(3.1 * SR)]
    ducked_db = 10 * np.log10(band_energy(under, 450, 550) / band_energy(alone, 450, 550))
    assert ducked_db < -8, f"music only {ducked_db:.1f} dB lower under the narration"


def test_a_long_line_stops_where_the_next_shot_speaks(tmp_path: Path) -> None:
    track = soundtrack.place_lines(4 * SR, [(0.0, tone(3.5, 700)), (2.0, tone(1.0, 1500))])
    before, after = track[:, int(1.0 * SR) : int(2.0 * SR)], track[:, int(2.5 * SR) : 3 * SR]
    assert band_energy(before, 650, 750) > 0
    assert band_energy(after, 650, 750) < 1e-6 * band_energy(before, 650, 750)
    assert band_energy(after, 1450, 1550) > 0


def test_narration_that_is_not_audio_is_a_film_error_naming_it(
    two: list[Path], tmp_path: Path
) -> None:
    bogus = tmp_path / "line.mp3"
    bogus.write_bytes(b"nothing to hear" * 100)
    with pytest.raises(FilmError, match="narration"):
        assemble_film(two, tmp_path / "film.mp4", narration=[bogus, None])
    with pytest.raises(FilmError, match="per clip"):
        assemble_film(two, tmp_path / "film.mp4", narration=[None])


def test_the_end_card_closes_the_film_in_its_size(two: list[Path], tmp_path: Path) -> None:
    plain = assemble_film(two, tmp_path / "plain.mp4")
    ended = assemble_film(two, tmp_path / "ended.mp4", end_card="用 Claymate 制作")
    assert ended.method == "reencode"
    assert (ended.width, ended.height) == (plain.width, plain.height)
    assert abs(video_seconds(ended.path) - video_seconds(plain.path) - END_CARD_SECONDS) < 0.1


def test_the_end_card_is_the_films_size_and_draws_chinese_with_the_cjk_font() -> None:
    card = end_card_image("用 Claymate 制作", (720, 1280))
    assert card.size == (720, 1280)
    pixels = np.asarray(card.convert("L"), dtype=np.float32)
    assert pixels.std() > 10  # letters on the ground, not a blank card
    found = find_cjk_font()
    if found is None:
        if os.environ.get("CLAYMATE_REQUIRE_CJK_FONT") == "1":
            pytest.fail("no CJK font installed, and CLAYMATE_REQUIRE_CJK_FONT=1 requires one")
        pytest.skip("no CJK font on this machine (apt-get install fonts-wqy-microhei)")
    assert draws_chinese(found, "用制作")
