"""Direction: each camera button maps onto Kling's documented camera_control object."""

from __future__ import annotations

import pytest

from bot.domain.types import CAMERA_MOVES
from bot.providers.kling.camera import camera_control_for

# providers.md 1.4 / the table in bot/providers/kling/camera.py: strength 5 of Kling's [-10, 10].
DOCUMENTED = {
    "static": None,
    "push_in": {"type": "simple", "config": {"zoom": -5.0}},
    "pull_out": {"type": "simple", "config": {"zoom": 5.0}},
    # KDOC26: `pan` rotates about y (negative = left), `tilt` about x (positive = up).
    "pan_left": {"type": "simple", "config": {"pan": -5.0}},
    "pan_right": {"type": "simple", "config": {"pan": 5.0}},
    "tilt_up": {"type": "simple", "config": {"tilt": 5.0}},
    "tilt_down": {"type": "simple", "config": {"tilt": -5.0}},
    "orbit": None,  # right_turn_forward is not in kling-v1-5 pro's capability map
}


@pytest.mark.parametrize("move", CAMERA_MOVES)
def test_every_camera_button_has_its_documented_camera_control(move: str) -> None:
    control = camera_control_for(move, "kling-v1-5", "pro", 5)
    expected = DOCUMENTED[move]
    if expected is None:
        assert control is None
        return
    assert control is not None and control["type"] == expected["type"]
    config = {k: v for k, v in control["config"].items() if v}
    assert config == expected["config"]


def test_models_without_camera_control_get_none() -> None:
    for move in CAMERA_MOVES:
        assert camera_control_for(move, "kling-v2-5-turbo", "std", 5) is None
