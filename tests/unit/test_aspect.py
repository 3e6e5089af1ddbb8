"""A project's shape: photos cut around their subject (never stretched), and the preview,
the storyboard and the film made in that shape, with bars for a clip of another."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.domain.aspect import (
    ASPECTS,
    canvas,
    matching_aspect,
    parse_aspect,
    shot_aspect,
    units,
)
from bot.media.film import assemble_film, clip_facts, film_size
from bot.media.framing import (
    crop_to_aspect,
    fit_still,
    frame_photo,
    preview,
    subject_box,
)
from bot.media.preview import render_preview
from bot.media.sample import sample_photo
from bot.media.storyboard import board_layout
from tests.unit.test_film import make_clip

GREY = (128, 132, 136)


def with_subject(size: tuple[int, int], at: tuple[float, float]) -> Image.Image:
    """A plain wall with one detailed thing on it, its centre at `at` (shares of the size)."""
    image = Image.new("RGB", size, GREY)
    draw = ImageDraw.Draw(image)
    side = min(size) // 4
    cx, cy = round(at[0] * size[0]), round(at[1] * size[1])
    for step in range(0, side, 6):
        colour = (255, (step * 5) % 256, 30) if step % 12 else (20, 40, 200)
        draw.rectangle((cx - side // 2 + step // 2, cy - side // 2 + step // 2,
                        cx + side // 2 - step // 2, cy + side // 2 - step // 2),
                       outline=colour, width=3)  # fmt: skip
    return image


def exact(size: tuple[int, int], aspect: str) -> bool:
    uw, uh = units(aspect)
    return size[0] * uh == size[1] * uw


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize(
    ("size", "at"),
    [((1600, 900), (0.85, 0.5)), ((900, 1600), (0.5, 0.12)), ((1200, 1200), (0.15, 0.8))],
)
def test_a_crop_has_the_exact_shape_keeps_the_subject_and_is_never_stretched(
    aspect: str, size: tuple[int, int], at: tuple[float, float]
) -> None:
    image = with_subject(size, at)
    box = subject_box(image, aspect)
    cut = crop_to_aspect(image, aspect)
    assert exact(cut.size, aspect)
    # Never stretched: the picture is the box's own pixels, one for one.
    assert cut.size == (box[2] - box[0], box[3] - box[1])
    assert np.array_equal(np.asarray(cut), np.asarray(image.crop(box)))
    # The subject is in the picture: its centre lies inside the box.
    cx, cy = at[0] * size[0], at[1] * size[1]
    assert box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
    # The largest window of the shape is kept: one side loses less than one unit of it.
    uw, uh = units(aspect)
    assert size[0] - (box[2] - box[0]) < uw or size[1] - (box[3] - box[1]) < uh


def test_a_blank_photo_is_cut_about_its_middle() -> None:
    box = subject_box(Image.new("RGB", (1600, 900), GREY), "9:16")
    assert abs((box[0] + box[2]) / 2 - 800) <= 16


def test_a_small_cut_is_enlarged_to_what_the_video_models_take_keeping_its_shape() -> None:
    cut = crop_to_aspect(with_subject((640, 360), (0.5, 0.5)), "9:16", min_side=300)
    assert exact(cut.size, "9:16") and min(cut.size) >= 300


def test_frame_photo_cuts_a_jpeg_and_leaves_one_already_in_shape() -> None:
    landscape = sample_photo(width=1280, height=720)
    assert frame_photo(landscape, "16:9") is None
    framed = frame_photo(landscape, "9:16")
    assert framed is not None
    with Image.open(io.BytesIO(framed.jpeg)) as decoded:
        assert exact(decoded.size, "9:16") and decoded.format == "JPEG"
    with Image.open(io.BytesIO(preview(framed.image))) as small:
        assert max(small.size) <= 512 and matching_aspect(*small.size) == "9:16"


def test_a_still_drawn_at_the_models_nearest_size_is_cut_to_the_shots_shape() -> None:
    drawn = io.BytesIO()
    Image.new("RGB", (1024, 1536), GREY).save(drawn, "JPEG")  # 9:16 on a 2:3-only model
    with Image.open(io.BytesIO(fit_still(drawn.getvalue(), "9:16"))) as still:
        assert still.size == (864, 1536)  # cut about its middle: full height kept
    exact_size = io.BytesIO()
    Image.new("RGB", (864, 1536), GREY).save(exact_size, "JPEG")
    assert fit_still(exact_size.getvalue(), "9:16") == exact_size.getvalue()  # as it came


def test_shapes_are_parsed_named_and_measured() -> None:
    assert parse_aspect("9x16") == parse_aspect(" 9:16 ") == "9:16"
    assert parse_aspect("4:3") is None and parse_aspect("") is None
    assert matching_aspect(1280, 720) == "16:9" and matching_aspect(404, 720) == "9:16"
    assert matching_aspect(640, 480) is None
    for aspect in ASPECTS:
        for short in (240, 405, 720, 1080):
            width, height = canvas(aspect, short)
            assert exact((width, height), aspect) and width % 2 == height % 2 == 0
            assert min(width, height) <= short
    assert canvas("9:16", 720) == (720, 1280)
    assert shot_aspect({"aspect": "1:1"}) == "1:1"
    assert shot_aspect({"aspect": "2:1"}) is None and shot_aspect(None) is None


@pytest.mark.parametrize("aspect", ASPECTS)
def test_the_offline_preview_has_the_projects_exact_shape(aspect: str, tmp_path: Path) -> None:
    # A photo a little off the shape (as a still can be) is cut, not stretched.
    photo = sample_photo(width=400, height=300)
    info = render_preview(photo, tmp_path / "p.mp4", duration_s=0.5, height=144, aspect=aspect)
    assert (info.width, info.height) == canvas(aspect, 144)
    assert info.width % 2 == info.height % 2 == 0


def test_without_a_shape_the_preview_follows_the_photo_as_before(tmp_path: Path) -> None:
    info = render_preview(
        sample_photo(width=400, height=300), tmp_path / "p.mp4", duration_s=0.5, height=144
    )
    assert (info.width, info.height) == (192, 144)


def test_the_storyboard_tiles_take_the_projects_shape() -> None:
    for aspect in ASPECTS:
        layout = board_layout(3, aspect=aspect)
        for _, _, width, height in layout.thumbs:
            assert abs(width / height - units(aspect)[0] / units(aspect)[1]) < 0.01
    assert [t[2:] for t in board_layout(3).thumbs] == [
        t[2:] for t in board_layout(3, aspect="16:9").thumbs
    ]


def _middle_column(path: Path, at_s: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if (frame.time or 0.0) >= at_s:
                luma = frame.to_ndarray(format="gray")
                return luma[:, luma.shape[1] // 2]
    raise AssertionError("no frame that late")


def test_a_vertical_film_boxes_a_landscape_clip_instead_of_stretching_it(tmp_path: Path) -> None:
    tall = make_clip(tmp_path / "tall.mp4", seconds=1.0, size=(180, 320), colour=3)
    wide = make_clip(tmp_path / "wide.mp4", seconds=1.0, size=(320, 180), colour=5)
    film = assemble_film([tall, wide], tmp_path / "film.mp4", aspect="9:16")
    assert (film.width, film.height) == (180, 320) and film.width < film.height
    column = _middle_column(film.path, 1.5)  # inside the landscape clip
    # 320x180 fits a 180-wide canvas at 180x100 (even sides): bars above and below.
    bar = (320 - 100) // 2
    assert column[: bar - 4].max() < 30 and column[-(bar - 4) :].max() < 30
    assert column[bar + 6 : 320 - bar - 6].min() > 40  # the picture itself, not stretched


def test_the_canvas_is_the_projects_shape_even_when_the_first_clip_is_not(
    tmp_path: Path,
) -> None:
    wide = clip_facts(make_clip(tmp_path / "wide.mp4", seconds=0.5, size=(320, 180)))
    assert film_size(wide, None) == (320, 180)
    assert film_size(wide, "16:9") == (320, 180)
    assert film_size(wide, "9:16") == canvas("9:16", 180)
    assert film_size(wide, "1:1") == (180, 180)
