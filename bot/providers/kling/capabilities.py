"""What each Kling model accepts in an image-to-video create: pure rules, no I/O.

Kling answers a request its model cannot honour with 1201, or worse accepts and ignores it
(an `image_tail` on a std take of 2.5 Turbo or 2.6 is silently dropped), so the client
checks every take against these rules before it is sent, and the bot uses them to pick
the mode an end frame needs before the user is shown a price. Source: providers.md 1.4
(KDOC26 capability map, 2026-05-19) and 1.11 (image models).

| model              | modes            | durations | end frame        | sound             |
|--------------------|------------------|-----------|------------------|-------------------|
| kling-v2-5-turbo   | std, pro         | 5, 10     | pro only         | no                |
| kling-v2-6         | std, pro         | 5, 10     | pro, silent only | pro only          |
| kling-v3           | std, pro, 4k     | 3 … 15    | every mode       | every mode        |

Multi-shot (kling-v3) needs one prompt per shot with durations that add up; the drafter
writes one prompt per take, so it is not offered (`multi_shot` is never sent).
"""

from __future__ import annotations

from dataclasses import dataclass

# Retired on 2026-09-15; Kling answers them with HTTP 404 / 1203 (providers.md 1.4).
RETIRED_VIDEO_MODELS: frozenset[str] = frozenset(
    {
        "kling-v1",
        "kling-v1-5",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-0-master",
        "kling-v2-1",
        "kling-v2-1-master",
    }
)
DEFAULT_VIDEO_MODEL = "kling-v2-5-turbo"

# The current image map: Image 3.0 and 2.1; `kling-v2` (the old default) is gone (1.11).
IMAGE_MODELS: tuple[str, ...] = ("kling-v3", "kling-v2-1")
DEFAULT_IMAGE_MODEL = "kling-v3"


@dataclass(frozen=True, slots=True)
class ModelRules:
    """One live video model's limits, as its capability map states them."""

    modes: tuple[str, ...]  # cheapest first
    durations: tuple[int, ...]
    tail_modes: frozenset[str]  # modes that take an end frame
    tail_with_sound: bool  # an end frame and sound in one take
    sound_modes: frozenset[str]  # modes that make sound; empty: the model is silent
    multi_shot: bool


VIDEO_MODELS: dict[str, ModelRules] = {
    "kling-v2-5-turbo": ModelRules(
        modes=("std", "pro"),
        durations=(5, 10),
        tail_modes=frozenset({"pro"}),
        tail_with_sound=False,
        sound_modes=frozenset(),
        multi_shot=False,
    ),
    "kling-v2-6": ModelRules(
        modes=("std", "pro"),
        durations=(5, 10),
        tail_modes=frozenset({"pro"}),
        tail_with_sound=False,  # "1080p only, silent only"
        sound_modes=frozenset({"pro"}),  # 720p is silent only
        multi_shot=False,
    ),
    "kling-v3": ModelRules(
        modes=("std", "pro", "4k"),
        durations=tuple(range(3, 16)),
        tail_modes=frozenset({"std", "pro", "4k"}),
        tail_with_sound=True,
        sound_modes=frozenset({"std", "pro", "4k"}),
        multi_shot=True,
    ),
}


def model_problem(model: str) -> str | None:
    """Why `model` cannot make a clip (retired or unknown), or None when it is live."""
    if model in VIDEO_MODELS:
        return None
    live = ", ".join(VIDEO_MODELS)
    if model in RETIRED_VIDEO_MODELS:
        return f"{model!r} was retired by Kling; use one of {live}"
    return f"{model!r} is not a Kling video model; use one of {live}"


def image_model_problem(model: str) -> str | None:
    """Why `model` cannot make a clay still, or None when the image map lists it."""
    if model in IMAGE_MODELS:
        return None
    return f"{model!r} is not a current Kling image model; use one of {', '.join(IMAGE_MODELS)}"


def rules_for(model: str) -> ModelRules | None:
    return VIDEO_MODELS.get(model)


def takes_sound(model: str, mode: str) -> bool:
    """Whether `sound: "on"` may be sent for this model and mode."""
    rules = VIDEO_MODELS.get(model)
    return rules is not None and mode in rules.sound_modes


def sends_sound_field(model: str) -> bool:
    """Whether the `sound` field is sent at all: only to models that make sound."""
    rules = VIDEO_MODELS.get(model)
    return rules is not None and bool(rules.sound_modes)


def takes_end_frame(model: str, mode: str, sound: bool = False) -> bool:
    """Whether `image_tail` is honoured for this model, mode and sound choice."""
    rules = VIDEO_MODELS.get(model)
    if rules is None or mode not in rules.tail_modes:
        return False
    return rules.tail_with_sound or not sound


def end_frame_mode(model: str, mode: str, sound: bool = False) -> str | None:
    """The mode a take with an end frame must use: `mode` when it takes one, else the
    cheapest mode that does; None when no mode of the model takes an end frame."""
    if takes_end_frame(model, mode, sound):
        return mode
    rules = VIDEO_MODELS.get(model)
    if rules is None:
        return None
    return next((m for m in rules.modes if takes_end_frame(model, m, sound)), None)


def request_problem(
    model: str, mode: str, duration: int, *, end_frame: bool = False, sound: bool = False
) -> str | None:
    """Why Kling would refuse (or silently ignore part of) this take; None when it fits."""
    if problem := model_problem(model):
        return problem
    rules = VIDEO_MODELS[model]
    if mode not in rules.modes:
        return f"{model} has no mode {mode!r} (modes: {', '.join(rules.modes)})"
    if duration not in rules.durations:
        low, high = rules.durations[0], rules.durations[-1]
        allowed = f"{low}–{high}" if len(rules.durations) > 2 else f"{low} or {high}"
        return f"{model} makes {allowed} s clips, not {duration} s"
    if sound and mode not in rules.sound_modes:
        return f"{model} makes no sound in {mode} mode"
    if end_frame and not rules.tail_modes:
        return f"{model} takes no end frame"
    if end_frame and mode not in rules.tail_modes:
        return f"{model} takes an end frame only in {', '.join(sorted(rules.tail_modes))} mode"
    if end_frame and sound and not rules.tail_with_sound:
        return f"{model} takes an end frame only without sound"
    return None
