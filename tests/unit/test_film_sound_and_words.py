"""A film with music and words: one sound track as long as the film at about -16 LUFS,
music ducked under the clips' own sound, and each shot's line burned in and as a soft track.

Loudness is read from the finished file with FFmpeg's EBU R128 meter, after the AAC
encode, so the test sees what a phone plays.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.media import soundtrack
from bot.media.film import CALM, TITLE_SECONDS, FilmError, Words, assemble_film
from bot.media.fonts import draws_chinese, find_cjk_font
from bot.media.subtitles import wrap
from tests.unit.test_film import make_clip

SR = soundtrack.SAMPLE_RATE


def tone(seconds: float, freq: float, amplitude: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    wave = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave, wave])


def write_audio(path: Path, samples: np.ndarray, codec: str) -> Path:
    """An audio file as a user would send one (mp3, ogg/opus, m4a/aac or wav)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=SR, layout="stereo")
        context = stream.codec_context
        resampler = av.AudioResampler(
            format=context.format.name,
            layout="stereo",
            rate=SR,
            frame_size=context.frame_size or None,
        )
        for start in range(0, samples.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 960]),
                format="fltp",
                layout="stereo",
            )
            frame.sample_rate, frame.pts = SR, start
            for converted in resampler.resample(frame):
                container.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return path


def clip_with_sound(path: Path, sound: np.ndarray, seconds: float = 2.0) -> Path:
    """A clip as Kling or Vidu make them with sound on: H.264 plus an AAC track."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "30"}
        audio = container.add_stream("aac", rate=SR, layout="stereo")
        for index in range(round(seconds * 24)):
            frame = av.VideoFrame.from_ndarray(
                np.full((240, 320, 3), 90, np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = index, Fraction(1, 24)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for start in range(0, sound.shape[1], 1024):
            piece = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(sound[:, start : start + 1024]),
                format="fltp",
                layout="stereo",
            )
            piece.sample_rate, piece.pts = SR, start
            container.mux(audio.encode(piece))
        container.mux(audio.encode(None))
    return path


def streams(path: Path) -> dict[str, list[av.stream.Stream]]:
    with av.open(str(path)) as container:
        found: dict[str, list[av.stream.Stream]] = {}
        for stream in container.streams:
            found.setdefault(stream.type, []).append(stream)
        return found


def video_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        rate = container.streams.video[0].average_rate or 24
        return len(frames) / float(rate)


def band_energy(samples: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.mean(axis=0))) ** 2
    freqs = np.fft.rfftfreq(samples.shape[1], 1 / SR)
    return float(spectrum[(freqs >= low) & (freqs <= high)].sum())


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    return [make_clip(tmp_path / f"c{i}.mp4", seconds=2.0, colour=i) for i in range(3)]


def test_the_calm_loop_gives_one_sound_track_as_long_as_the_film_at_minus_16_lufs(
    three: list[Path], tmp_path: Path
) -> None:
    film = assemble_film(three, tmp_path / "film.mp4", music=CALM)
    assert film.method == "copy" and film.has_audio  # music alone needs no re-encode
    found = streams(film.path)
    assert len(found["audio"]) == 1
    audio = soundtrack.decode_audio(film.path)
    assert abs(audio.shape[1] / SR - video_seconds(film.path)) < 0.1
    assert abs(soundtrack.integrated_loudness(audio) - soundtrack.TARGET_LUFS) <= 1.0


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("song.mp3", "libmp3lame"),
        ("song.ogg", "libopus"),
        ("song.m4a", "aac"),
        ("song.wav", "pcm_s16le"),
    ],
)
def test_a_users_song_in_each_format_is_looped_to_the_film_faded_and_normalised(
    three: list[Path], tmp_path: Path, name: str, codec: str
) -> None:
    quiet_song = tone(2.5, 330, amplitude=0.02)  # far below the target, and shorter than the film
    song = write_audio(tmp_path / name, quiet_song, codec)
    film = assemble_film(three, tmp_path / "film.mp4", music=song, title="外滩", crossfade_s=0.5)
    audio = soundtrack.decode_audio(film.path)
    assert abs(audio.shape[1] / SR - video_seconds(film.path)) < 0.1
    assert abs(soundtrack.integrated_loudness(audio) - soundtrack.TARGET_LUFS) <= 1.0
    edge = SR // 20  # 50 ms
    middle = audio[:, audio.shape[1] // 2 - edge : audio.shape[1] // 2 + edge]
    assert np.abs(audio[:, :edge]).max() < 0.2 * np.abs(middle).max()  # fades in
    assert np.abs(audio[:, -edge:]).max() < 0.2 * np.abs(middle).max()  # and out
    assert np.abs(middle).max() > 0.05  # the loop carries on past the song's 2.5 s


def test_music_is_ducked_where_a_clip_has_its_own_sound(tmp_path: Path) -> None:
    speaking = clip_with_sound(tmp_path / "speaking.mp4", tone(2.0, 3000, amplitude=0.3))
    silent = make_clip(tmp_path / "silent.mp4", seconds=2.0)
    music = write_audio(tmp_path / "music.wav", tone(4.0, 500, amplitude=0.2), "pcm_s16le")
    film = assemble_film([speaking, silent], tmp_path / "film.mp4", music=music)
    audio = soundtrack.decode_audio(film.path)
    under_speech = audio[:, int(0.6 * SR) : int(1.6 * SR)]  # past the fade-in
    alone = audio[:, int(2.3 * SR) : int(3.3 * SR)]  # before the fade-out
    assert band_energy(under_speech, 3000 - 50, 3000 + 50) > 0  # the clip's sound is there
    ducked_db = 10 * np.log10(band_energy(under_speech, 450, 550) / band_energy(alone, 450, 550))
    assert ducked_db < -8, f"music only {ducked_db:.1f} dB lower under the clip's sound"


def test_silent_clips_without_music_make_a_film_without_an_audio_stream(
    three: list[Path], tmp_path: Path
) -> None:
    film = assemble_film(three, tmp_path / "film.mp4")
    assert not film.has_audio and "audio" not in streams(film.path)


def test_an_audio_file_that_is_not_audio_is_a_clear_film_error(
    three: list[Path], tmp_path: Path
) -> None:
    bogus = tmp_path / "song.mp3"
    bogus.write_bytes(b"not a song at all" * 100)
    with pytest.raises(FilmError, match="song.mp3"):
        assemble_film(three, tmp_path / "film.mp4", music=bogus)


def soft_cues(path: Path) -> list[tuple[float, float, str]]:
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        cues = []
        for packet in container.demux(stream):
            if not packet.size:
                continue
            for subtitle in packet.decode():
                text = bytes(subtitle.dialogue).decode()
                start = float(packet.pts * stream.time_base)
                cues.append((start, start + float(packet.duration * stream.time_base), text))
        return cues


def test_each_shots_line_is_a_soft_subtitle_at_the_time_its_clip_plays(
    three: list[Path], tmp_path: Path
) -> None:
    lines = ["外滩的船慢慢驶过", None, "Lanterns sway on Wukang Road"]
    film = assemble_film(
        three, tmp_path / "film.mp4", title="上海", crossfade_s=0.5,
        words=Words(lines, language="zh", burn=False),
    )  # fmt: skip
    assert film.subtitles
    [track] = streams(film.path)["subtitle"]
    assert track.codec_context.name == "mov_text" and track.metadata.get("language") == "chi"
    cues = soft_cues(film.path)
    assert [text for _, _, text in cues] == ["外滩的船慢慢驶过", "Lanterns sway on Wukang Road"]
    # Title card, then each clip overlapping the one before by the crossfade.
    first_start = TITLE_SECONDS - 0.5
    third_start = first_start + 2 * (2.0 - 0.5)
    assert cues[0][0] == pytest.approx(first_start, abs=0.05)
    assert cues[0][1] == pytest.approx(first_start + 2.0, abs=0.05)
    assert cues[1][0] == pytest.approx(third_start, abs=0.05)


def luma_band(path: Path, at_s: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at_s:
                grey = frame.to_ndarray(format="gray")
                return grey[int(grey.shape[0] * 0.6) :]
    raise AssertionError("no frame at that time")


def test_burned_in_words_show_in_the_lower_part_of_their_shot_only(
    three: list[Path], tmp_path: Path
) -> None:
    plain = assemble_film(three, tmp_path / "plain.mp4", force="reencode")
    worded = assemble_film(
        three, tmp_path / "worded.mp4", words=Words(["Boats glide on the river", None, None])
    )
    assert worded.method == "reencode"  # drawing on pictures needs an encode
    during = np.abs(luma_band(worded.path, 1.0).astype(int) - luma_band(plain.path, 1.0)).mean()
    after = np.abs(luma_band(worded.path, 3.0).astype(int) - luma_band(plain.path, 3.0)).mean()
    assert during > 8 * max(after, 0.5), (during, after)


def test_chinese_subtitles_are_drawn_with_a_font_that_has_every_glyph(tmp_path: Path) -> None:
    found = find_cjk_font()
    if found is None:
        if os.environ.get("CLAYMATE_REQUIRE_CJK_FONT") == "1":
            pytest.fail("no CJK font installed, and CLAYMATE_REQUIRE_CJK_FONT=1 requires one")
        pytest.skip("no CJK font on this machine (apt-get install fonts-wqy-microhei)")
    line = "静安寺的屋顶在夕阳里闪光，电车叮叮驶过南京西路"
    assert draws_chinese(found, "".join(dict.fromkeys(line.replace("，", ""))))  # each once
    from bot.media.fonts import load_font

    font = load_font(24, line)
    lines = wrap(line, font, 300)
    assert len(lines) == 2 and all(font.getlength(text) <= 300 for text in lines)
    assert "".join(lines).rstrip("…") in line  # wrapped between characters, not dropped
    film = assemble_film(
        [
            make_clip(tmp_path / "a.mp4", seconds=1.0, size=(720, 1280)),
            make_clip(tmp_path / "b.mp4", seconds=1.0, size=(360, 640)),  # scaled to fit
        ],
        tmp_path / "film.mp4",
        title="上海",
        crossfade_s=0.3,  # crossfade frames are blended pictures, made without a time base
        words=Words([line, "第二个镜头"], language="zh"),
    )
    assert (film.width, film.height) == (720, 1280)  # a vertical film stays vertical
    assert [text for _, _, text in soft_cues(film.path)] == [line, "第二个镜头"]
