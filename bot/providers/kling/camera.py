"""Kling's camera language: our camera moves as `camera_control`, where the model takes one.

KDOC's capability map allows camera control for image-to-video only on kling-v1-5, pro,
5 s, `simple` type. Elsewhere it is omitted and the prompt's camera words carry the move.
Kling's axis names differ from film terms: its `pan` rotates in the vertical plane (a film
tilt) and its `tilt` in the horizontal plane (a film pan); KDOC says a NEGATIVE `zoom`
narrows the field of view, i.e. pushes in. See `CAMERA_TABLE`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class CameraConfig(BaseModel):
    """The six axes of a `simple` move, each in Kling's [-10, 10]."""

    model_config = ConfigDict(extra="ignore")

    horizontal: float = 0.0
    vertical: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    roll: float = 0.0
    zoom: float = 0.0


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
# | pan_left  | simple horizontal -5                   | sideways slide (truck) left       |
# | pan_right | simple horizontal +5                   | sideways slide right              |
# | tilt_up   | simple vertical +5                     | rise; Kling's `tilt` axis is a    |
# | tilt_down | simple vertical -5                     | film *pan*, so it is not used     |
# | orbit     | right_turn_forward (no config)         | simple has no orbit axis          |
CAMERA_TABLE: dict[str, tuple[CameraControl, ...]] = {
    "static": (),
    "push_in": (_simple("zoom", -CAMERA_STRENGTH),),
    "pull_out": (_simple("zoom", CAMERA_STRENGTH),),
    "pan_left": (_simple("horizontal", -CAMERA_STRENGTH),),
    "pan_right": (_simple("horizontal", CAMERA_STRENGTH),),
    "tilt_up": (_simple("vertical", CAMERA_STRENGTH),),
    "tilt_down": (_simple("vertical", -CAMERA_STRENGTH),),
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
