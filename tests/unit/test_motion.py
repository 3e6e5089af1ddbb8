"""What moves in an offline preview besides the camera, read from the prompt's words."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from bot.media.motion import Motion, motion_from_prompt, moved
from bot.media.preview import render_preview
from bot.media.sample import sample_photo


@pytest.mark.parametrize(
    ("prompt", "kind", "dx", "dy"),
    [
        ("Boats glide on the river, lights come on along the waterfront", "drift", 1, 0),
        ("A tram crosses the street from right to left", "drift", -1, 0),
        ("A red car drives to the left past the shop", "drift", -1, 0),
        ("一辆电车从右到左驶过", "drift", -1, 0),
        ("江上的轮渡缓缓驶过", "drift", 1, 0),
        ("Incense smoke rises slowly from the burner", "rise", 0, -1),
        ("Steam curls up from a bowl of noodles", "rise", 0, -1),
        ("寺庙里香烟袅袅升起", "rise", 0, -1),
        ("Snow falls softly on the lane", "fall", 0, 1),
        ("雨夜的弄堂，雨点落下", "fall", 0, 1),
        ("Laundry flaps on bamboo poles between the houses", "sway", 1, 0),
        ("弄堂里晾着的衣服在风中飘动", "sway", 1, 0),
        ("The river shimmers under the bridge", "shimmer", 0, 0),
        ("霓虹灯闪烁", "shimmer", 0, 0),
    ],
)
def test_the_hero_action_gives_the_direction(prompt: str, kind: str, dx: int, dy: int) -> None:
    motion = motion_from_prompt(prompt)
    assert motion is not None
    assert (motion.kind, motion.dx, motion.dy) == (kind, dx, dy)


def test_the_first_motion_named_wins() -> None:
    """Drafts put the hero action first; later sentences are details."""
    motion = motion_from_prompt("Lanterns rise over the lake while boats glide below")
    assert motion is not None and motion.kind == "rise" and motion.glow
    motion = motion_from_prompt("Boats glide below while lanterns rise over the lake")
    assert motion is not None and motion.kind == "drift"


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "A quiet clay street at noon",
        "安静的弄堂",
        "A quiet street, no cars, no smoke",
        "The Bund as night falls",
        "日落时的外滩",
        # a camera sentence moves the camera, not the scene
        "The old bank building. The camera pans slowly to the left.",
        "老银行大楼。镜头缓缓向左摇",
    ],
)
def test_no_motion_where_nothing_is_asked_to_move(prompt: str) -> None:
    assert motion_from_prompt(prompt) is None


def test_camera_directions_do_not_steer_the_action() -> None:
    motion = motion_from_prompt("A tram crosses the square. The camera pans slowly to the left.")
    assert motion is not None and motion.dx == 1


def _frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "motion",
    [
        Motion("drift", 1.0, 0.0, (0.5, 0.9)),
        Motion("sway", -1.0, 0.0, (0.2, 0.7)),
        Motion("shimmer", 0.0, 0.0, (0.6, 1.0)),
        Motion("rise", 0.0, -1.0, (0.3, 0.95)),
        Motion("rise", 0.0, -1.0, (0.3, 0.95), glow=True),
        Motion("fall", 0.0, 1.0, (0.0, 1.0)),
    ],
)
def test_moving_changes_the_picture_over_time_and_is_deterministic(motion: Motion) -> None:
    frame = _frame()
    early, late = moved(frame, motion, 0.1), moved(frame, motion, 0.6)
    assert early.shape == frame.shape and early.dtype == np.uint8
    assert not np.array_equal(early, late)
    assert np.array_equal(late, moved(frame, motion, 0.6))
    assert np.array_equal(frame, _frame())  # the input is left alone


def test_a_drift_slides_its_band_the_right_way_and_leaves_the_rest() -> None:
    frame = _frame()
    motion = Motion("drift", 1.0, 0.0, (0.5, 0.9))
    out = moved(frame, motion, 1.0)
    shift = round(0.08 * 160)
    row = 90  # inside the band
    assert np.array_equal(out[row, shift:], frame[row, : 160 - shift])
    assert np.array_equal(out[:40], frame[:40])  # above the band and its feather


def test_rising_puffs_move_up() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    motion = Motion("rise", 0.0, -1.0, (0.3, 0.95))
    before, after = moved(frame, motion, 0.0), moved(frame, motion, 0.05)

    def centre_of_ink(image: np.ndarray) -> float:
        ink = image.sum(axis=2).astype(np.float64)
        return float((ink.sum(axis=1) * np.arange(image.shape[0])).sum() / ink.sum())

    assert centre_of_ink(after) < centre_of_ink(before)


def test_the_preview_moves_more_than_the_camera_when_the_prompt_asks(tmp_path: Path) -> None:
    """A static camera on a prompt with a boat drifting: the lower band changes, the sky
    above it holds (only the boil)."""
    photo = sample_photo(width=320, height=240)

    def frames(prompt: str) -> list[np.ndarray]:
        info = render_preview(
            photo,
            tmp_path / f"{len(prompt)}.mp4",
            duration_s=1,
            height=144,
            camera_move="static",
            prompt=prompt,
        )
        with av.open(str(info.path)) as container:
            return [f.to_ndarray()[:144].astype(np.float32) for f in container.decode(video=0)]

    still = frames("The Bund")
    drifting = frames("A ferry glides across the river")
    band = slice(100, 125)  # the river and the near bank, inside the drift band
    sky = slice(5, 50)
    moved_band = np.abs(drifting[0][band] - drifting[-1][band]).mean()
    assert moved_band > 2 * np.abs(still[0][band] - still[-1][band]).mean()
    assert np.abs(drifting[0][sky] - drifting[-1][sky]).mean() < 4
