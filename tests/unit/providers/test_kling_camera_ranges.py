"""Kling camera_control values stay inside the documented ranges and signs (providers.md 1.4)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.providers.kling.camera import AXIS_LIMIT, CAMERA_TABLE, CameraConfig

AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")


def test_every_simple_move_in_the_table_is_one_axis_within_the_range() -> None:
    for move, candidates in CAMERA_TABLE.items():
        for control in candidates:
            if control.type != "simple":
                assert control.config is None, move  # other types take no config
                continue
            assert control.config is not None
            values = control.config.model_dump()
            moving = {axis: v for axis, v in values.items() if v != 0}
            assert len(moving) == 1, move
            assert all(-AXIS_LIMIT <= v <= AXIS_LIMIT for v in values.values()), move


def test_pan_turns_about_y_and_tilt_about_x_with_the_documented_signs() -> None:
    def only(move: str) -> dict[str, float]:
        config = CAMERA_TABLE[move][0].config
        assert config is not None
        return {k: v for k, v in config.model_dump().items() if v}

    assert only("pan_left") == {"pan": -5.0}  # negative pan = turn left
    assert only("pan_right") == {"pan": 5.0}
    assert only("tilt_up") == {"tilt": 5.0}  # positive tilt = up
    assert only("tilt_down") == {"tilt": -5.0}
    assert only("push_in") == {"zoom": -5.0}  # negative zoom = narrower view
    assert only("pull_out") == {"zoom": 5.0}


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("value", [-10.0, 10.0])
def test_the_range_ends_are_accepted(axis: str, value: float) -> None:
    assert getattr(CameraConfig(**{axis: value}), axis) == value


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("value", [-10.5, 10.01, 100.0])
def test_values_outside_the_range_are_refused(axis: str, value: float) -> None:
    with pytest.raises(ValidationError):
        CameraConfig(**{axis: value})


def test_a_simple_move_sets_exactly_one_axis() -> None:
    with pytest.raises(ValidationError):
        CameraConfig()  # all zero: Kling refuses it
    with pytest.raises(ValidationError):
        CameraConfig(pan=3.0, tilt=2.0)
