"""Putting takes together into one film: stream copy when clips match, one re-encode otherwise."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.media.film import (
    TITLE_SECONDS,
    FilmError,
    assemble_film,
    can_stream_copy,
    clip_facts,
    title_card,
)
from bot.media.fonts import load_font


def make_clip(
    path: Path,
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 24,
    colour: int = 0,
) -> Path:
    """A short H.264 clip of a sliding bar on a solid colour, made in milliseconds."""
    width, height = size
    frames = round(seconds * fps)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        base = np.zeros((height, width, 3), np.uint8)
        base[:] = ((colour * 67) % 256, (colour * 131) % 256, (colour * 29 + 90) % 256)
        for index in range(frames):
            image = base.copy()
            x = index * width // max(1, frames)
            image[:, x : x + 8] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decoded_frames(path: Path) -> int:
    """Every frame decodes (a broken packet raises); the count proves nothing was lost."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [make_clip(folder / f"clip{i:02d}.mp4", colour=i) for i in range(20)]


def test_three_matching_clips_are_stream_copied(twenty: list[Path], tmp_path: Path) -> None:
    film = assemble_film(twenty[:3], tmp_path / "film.mp4")
    assert film.method == "copy"
    assert film.duration_s == pytest.approx(3.0, abs=0.05)
    assert (film.width, film.height, film.clips) == (320, 240, 3)
    assert decoded_frames(film.path) == 3 * 24
    assert not (tmp_path / "film.mp4.part").exists()


def test_twenty_clips_in_order_last_bar_of_each_clip_is_where_it_should_be(
    twenty: list[Path], tmp_path: Path
) -> None:
    film = assemble_film(twenty, tmp_path / "film.mp4")
    assert film.method == "copy"
    assert film.duration_s == pytest.approx(20.0, abs=0.05)
    assert decoded_frames(film.path) == 20 * 24
    # The order holds: the background colour of frame 24*i + 12 is clip i's colour.
    with av.open(str(film.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for i in (0, 7, 19):
        pixel = frames[24 * i + 12][5, -5].astype(int)
        expected = np.array(((i * 67) % 256, (i * 131) % 256, (i * 29 + 90) % 256))
        assert np.abs(pixel - expected).max() < 24, (i, pixel, expected)


def test_twenty_clips_reencoded_keep_their_duration(twenty: list[Path], tmp_path: Path) -> None:
    film = assemble_film(twenty, tmp_path / "film.mp4", force="reencode")
    assert film.method == "reencode"
    assert film.duration_s == pytest.approx(20.0, abs=0.05)
    assert decoded_frames(film.path) == 20 * 24


def test_clips_that_differ_are_reencoded_to_the_first_clips_format(tmp_path: Path) -> None:
    clips = [
        make_clip(tmp_path / "a.mp4", size=(320, 240), fps=24),
        make_clip(tmp_path / "b.mp4", size=(426, 240), fps=30, colour=3),
        make_clip(tmp_path / "c.mp4", size=(320, 240), fps=24, seconds=2, colour=5),
    ]
    assert not can_stream_copy([clip_facts(p) for p in clips])
    film = assemble_film(clips, tmp_path / "film.mp4")
    assert film.method == "reencode"
    assert (film.width, film.height) == (320, 240)
    assert film.duration_s == pytest.approx(4.0, abs=0.05)
    assert decoded_frames(film.path) == 4 * 24
    assert clip_facts(film.path).fps == 24


def test_crossfades_and_title_card_shape_the_duration(twenty: list[Path], tmp_path: Path) -> None:
    fade = 0.25
    film = assemble_film(
        twenty[:3], tmp_path / "film.mp4", title="上海 Shanghai", crossfade_s=fade
    )
    assert film.method == "reencode"
    # Title card + three clips, with a crossfade at each of the three joins.
    expected = TITLE_SECONDS + 3 * 1.0 - 3 * fade
    assert film.duration_s == pytest.approx(expected, abs=0.05)
    assert decoded_frames(film.path) == round(expected * 24)


def test_the_size_cap_holds_by_lowering_the_bitrate(twenty: list[Path], tmp_path: Path) -> None:
    plain = assemble_film(twenty[:5], tmp_path / "plain.mp4")
    limit = plain.size_bytes // 2
    film = assemble_film(twenty[:5], tmp_path / "film.mp4", limit_bytes=limit)
    assert film.size_bytes <= limit
    assert film.method == "reencode" and film.bitrate is not None
    assert film.duration_s == pytest.approx(5.0, abs=0.05)
    assert decoded_frames(film.path) == 5 * 24


def test_no_clips_or_a_broken_clip_is_a_film_error(tmp_path: Path) -> None:
    with pytest.raises(FilmError):
        assemble_film([], tmp_path / "film.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(FilmError):
        assemble_film([broken], tmp_path / "film.mp4")


def test_title_card_draws_any_title_with_whatever_font_exists() -> None:
    for title in ("Shanghai in clay", "黏土上海", "", "x" * 200):
        card = title_card(title, (320, 240))
        assert card.size == (320, 240)
        assert np.asarray(card).std() > 5  # something was drawn
    assert load_font(20, "黏土") is not None
