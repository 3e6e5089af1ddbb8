"""Kling's per-model rules (providers.md 1.4), case by case: model × mode × end frame ×
sound × duration. The expected answers are written out from the capability map here, not
derived from the module under test."""

from __future__ import annotations

import itertools

import pytest

from bot.providers.kling import capabilities as caps

LIVE = ("kling-v2-5-turbo", "kling-v2-6", "kling-v3")
RETIRED = ("kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1")
MODES = ("std", "pro", "4k")
DURATIONS = tuple(range(1, 17))


def expected_ok(model: str, mode: str, duration: int, tail: bool, sound: bool) -> bool:
    """The capability map, row by row."""
    if model == "kling-v2-5-turbo":
        # 720p/1080p, 5/10 s, end frame 1080p only, no native audio.
        return (
            mode in ("std", "pro")
            and duration in (5, 10)
            and not sound
            and (not tail or mode == "pro")
        )
    if model == "kling-v2-6":
        # 720p/1080p, 5/10 s; end frame 1080p and silent only; audio not at 720p.
        return (
            mode in ("std", "pro")
            and duration in (5, 10)
            and (not sound or mode == "pro")
            and (not tail or (mode == "pro" and not sound))
        )
    if model == "kling-v3":
        # 720p/1080p/4K, 3–15 s, start+end frame yes, audio yes.
        return mode in MODES and 3 <= duration <= 15
    return False


CASES = list(itertools.product(LIVE + RETIRED, MODES, DURATIONS, (False, True), (False, True)))


@pytest.mark.parametrize(("model", "mode", "duration", "tail", "sound"), CASES)
def test_every_combination_matches_the_capability_map(
    model: str, mode: str, duration: int, tail: bool, sound: bool
) -> None:
    problem = caps.request_problem(model, mode, duration, end_frame=tail, sound=sound)
    assert (problem is None) == expected_ok(model, mode, duration, tail, sound), problem
    if problem is not None:
        assert model in problem  # the message says which model refuses


@pytest.mark.parametrize("model", RETIRED)
def test_retired_models_are_named_as_retired_with_the_live_ones(model: str) -> None:
    problem = caps.model_problem(model)
    assert problem is not None and "retired" in problem
    assert all(live in problem for live in LIVE)


def test_unknown_model_is_not_called_retired() -> None:
    problem = caps.model_problem("kling-v9")
    assert problem is not None and "retired" not in problem and "kling-v3" in problem
    assert all(caps.model_problem(m) is None for m in LIVE)


@pytest.mark.parametrize(
    ("model", "mode", "sound", "wanted"),
    [
        ("kling-v2-5-turbo", "std", False, "pro"),  # std drops the end frame: pro needed
        ("kling-v2-5-turbo", "pro", False, "pro"),
        ("kling-v2-6", "std", False, "pro"),
        ("kling-v2-6", "pro", False, "pro"),
        ("kling-v2-6", "pro", True, None),  # never with sound on 2.6
        ("kling-v3", "std", False, "std"),  # every mode takes one: no switch, no extra cost
        ("kling-v3", "std", True, "std"),
        ("kling-v3", "4k", False, "4k"),
        ("kling-v2-1", "pro", False, None),  # retired
        ("kling-v9", "std", False, None),
    ],
)
def test_end_frame_mode_switches_to_the_cheapest_mode_that_takes_one(
    model: str, mode: str, sound: bool, wanted: str | None
) -> None:
    assert caps.end_frame_mode(model, mode, sound) == wanted
    if wanted is not None:
        assert caps.takes_end_frame(model, wanted, sound)


def test_sound_field_goes_only_to_models_that_make_sound() -> None:
    assert not caps.sends_sound_field("kling-v2-5-turbo")
    assert caps.sends_sound_field("kling-v2-6") and caps.sends_sound_field("kling-v3")
    assert not caps.sends_sound_field("kling-v2-1")
    assert [caps.takes_sound("kling-v2-6", m) for m in ("std", "pro")] == [False, True]
    assert all(caps.takes_sound("kling-v3", m) for m in MODES)


def test_ten_seconds_with_an_end_frame_where_the_model_allows_it() -> None:
    for model in LIVE:
        mode = caps.end_frame_mode(model, "std")
        assert mode is not None
        assert caps.request_problem(model, mode, 10, end_frame=True) is None


def test_multi_shot_only_on_kling_v3() -> None:
    assert [caps.VIDEO_MODELS[m].multi_shot for m in LIVE] == [False, False, True]


def test_image_models_are_the_current_image_map() -> None:
    assert caps.image_model_problem(caps.DEFAULT_IMAGE_MODEL) is None
    assert caps.image_model_problem("kling-v2-1") is None
    for gone in ("kling-v2", "kling-v1", "kling-v2-new"):
        problem = caps.image_model_problem(gone)
        assert problem is not None and "kling-v3" in problem
