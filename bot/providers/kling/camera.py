"""Kling's camera language: our camera moves as `camera_control`, where the model takes one.

KDOC's old capability map allowed camera control for image-to-video only on kling-v1-5,
pro, 5 s, `simple` type; the current map names it for no model, so for today's models it is
omitted and the prompt's camera words carry the move. Kling's axes (KDOC26, providers.md
1.4) match film terms: `pan` rotates about the y axis (negative = turn left, positive =
turn right), `tilt` about the x axis (negative = down, positive = up), `horizontal` and
`vertical` translate (a truck / pedestal), and a NEGATIVE `zoom` narrows the field of view,
i.e. pushes in. Every axis is a float in [-10, 10], exactly one of them non-zero. An older
comment here had pan and tilt swapped; see `CAMERA_TABLE`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AXIS_LIMIT = 10.0  # KDOC26: each axis of a `simple` config is within [-10, 10]


def _axis() -> Any:
    return Field(default=0.0, ge=-AXIS_LIMIT, le=AXIS_LIMIT)


class CameraConfig(BaseModel):
    """The six axes of a `simple` move, each in Kling's [-10, 10], exactly one non-zero.

    Validated here so a wrong table entry fails in our tests, not as a paid-for 1201.
    """

    model_config = ConfigDict(extra="ignore")

    horizontal: float = _axis()  # translate along x: negative left, positive right
    vertical: float = _axis()  # translate along y: negative down, positive up
    pan: float = _axis()  # rotate about y: negative turn left, positive turn right
    tilt: float = _axis()  # rotate about x: negative down, positive up
    roll: float = _axis()  # rotate about z: negative counter-clockwise, positive clockwise
    zoom: float = _axis()  # negative narrower view (push in), positive wider view

    @model_validator(mode="after")
    def _one_axis(self) -> CameraConfig:
        moving = [v for v in self.model_dump().values() if v != 0]
        if len(moving) != 1:
            raise ValueError("a simple camera move sets exactly one non-zero axis")
        return self


CameraType = Literal[
    "simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"
]


class CameraControl(BaseModel):
    """The `camera_control` object of an image-to-video create."""

    model_config = ConfigDict(extra="ignore")

    type: CameraType
    config: CameraConfig | None = None  # only with type "simple"


CAMERA_STRENGTH = 5.0  # of Kling's [-10, 10]: a clear but calm move, right for clay sets


def _simple(axis: str, value: float) -> CameraControl:
    return CameraControl(type="simple", config=CameraConfig(**{axis: value}))


# Our move -> Kling camera_control candidates, best first. The first whose type the model's
# capability map allows is sent; none allowed -> omitted, and the prompt's camera words
# (written by the drafter) carry the move.
#
# | move      | Kling                                  | why                               |
# |-----------|----------------------------------------|-----------------------------------|
# | static    | (none)                                 | no move; never send all-zero      |
# | push_in   | simple zoom -5                         | KDOC: negative zoom = narrower FOV |
# | pull_out  | simple zoom +5                         | positive zoom = wider FOV         |
# | pan_left  | simple pan -5                          | rotate about y: negative = left   |
# | pan_right | simple pan +5                          | rotate about y: positive = right  |
# | tilt_up   | simple tilt +5                         | rotate about x: positive = up     |
# | tilt_down | simple tilt -5                         | rotate about x: negative = down   |
# | orbit     | right_turn_forward (no config)         | simple has no orbit axis          |
CAMERA_TABLE: dict[str, tuple[CameraControl, ...]] = {
    "static": (),
    "push_in": (_simple("zoom", -CAMERA_STRENGTH),),
    "pull_out": (_simple("zoom", CAMERA_STRENGTH),),
    "pan_left": (_simple("pan", -CAMERA_STRENGTH),),
    "pan_right": (_simple("pan", CAMERA_STRENGTH),),
    "tilt_up": (_simple("tilt", CAMERA_STRENGTH),),
    "tilt_down": (_simple("tilt", -CAMERA_STRENGTH),),
    "orbit": (CameraControl(type="right_turn_forward"),),
}

# KDOC "3-0 Capability Map", image-to-video: (model, mode, duration) -> allowed camera types.
CAMERA_CAPABILITY: dict[tuple[str, str, int], frozenset[str]] = {
    ("kling-v1-5", "pro", 5): frozenset({"simple"}),
}


def camera_control_for(move: str, model: str, mode: str, duration: int) -> dict[str, Any] | None:
    """The camera_control JSON for `move`, or None where the model can't take one."""
    allowed = CAMERA_CAPABILITY.get((model, mode, duration), frozenset())
    for control in CAMERA_TABLE.get(move, ()):
        if control.type in allowed:
            return control.model_dump(mode="json", exclude_none=True)
    return None


def supports_cfg_scale(model: str) -> bool:
    """KDOC: kling-v2.x (and newer) reject cfg_scale; only the v1 family takes it."""
    return model == "kling-v1" or model.startswith("kling-v1-")
