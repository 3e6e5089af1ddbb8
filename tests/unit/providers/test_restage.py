"""A changed camera or duration rewrites a draft's camera sentence and caption line."""

from __future__ import annotations

from bot.domain.types import Draft, DraftRequest
from bot.providers.offline.drafter import CAMERA_TEXT, script_for
from bot.providers.offline.restage import restage_draft, restage_prompt


def _offline(description: str, camera: str | None = None) -> Draft:
    return script_for(DraftRequest(description=description, camera_move=camera)).draft()


def test_an_offline_english_draft_names_the_new_move_and_only_it() -> None:
    draft = _offline("Boats glide on the river", "push_in")
    moved = restage_draft(draft, "pan_left", 10)
    assert CAMERA_TEXT["en"]["pan_left"] in moved.prompt
    assert CAMERA_TEXT["en"]["push_in"] not in moved.prompt
    assert moved.summary.endswith(" · clay, pan left, 10s")
    assert (moved.camera_move, moved.duration) == ("pan_left", 10)
    # Everything else is the same words.
    assert moved.prompt.replace(CAMERA_TEXT["en"]["pan_left"], CAMERA_TEXT["en"]["push_in"]) == (
        draft.prompt
    )


def test_a_chinese_draft_gets_the_chinese_sentence() -> None:
    draft = _offline("外滩的旗子在风中飘扬", "static")
    moved = restage_draft(draft, "orbit", 5)
    assert CAMERA_TEXT["zh"]["orbit"] in moved.prompt
    assert CAMERA_TEXT["zh"]["static"] not in moved.prompt
    assert moved.summary.endswith(" · 黏土动画 · 环绕 · 5秒")


def test_a_duration_alone_keeps_the_prompt_and_rewrites_the_seconds() -> None:
    draft = _offline("Boats glide on the river", "push_in")
    longer = restage_draft(draft, "push_in", 10)
    assert longer.prompt == draft.prompt
    assert longer.summary.endswith(" · clay, push in, 10s")


def test_an_llm_prompt_keeps_its_words_and_its_own_caption_line() -> None:
    draft = Draft(
        prompt="A tram rolls past the Bund. The camera holds still. Plasticine, 12 fps.",
        negative_prompt="blurry, camera movement",
        camera_move="static",
        duration=5,
        summary="A tram on the Bund",
        language="en",
        drafter="llm:test",
    )
    moved = restage_draft(draft, "tilt_up", 5)
    assert moved.prompt == (
        "A tram rolls past the Bund. The camera tilts slowly upwards. Plasticine, 12 fps."
    )
    assert moved.negative_prompt == "blurry"  # it would forbid the move
    assert moved.summary == "A tram on the Bund"


def test_a_prompt_without_a_camera_sentence_gets_one_and_later_lines_stay() -> None:
    assert restage_prompt("衣服在风中飘动。\n另外：慢一点", "push_in", "zh") == (
        "衣服在风中飘动。" + CAMERA_TEXT["zh"]["push_in"] + "\n另外：慢一点"
    )
    two_moves = "Laundry flaps. The camera holds still. The camera pans."
    assert restage_prompt(two_moves, "orbit", "en") == (
        "Laundry flaps. " + CAMERA_TEXT["en"]["orbit"]
    )


def test_a_models_own_camera_wording_is_found_but_the_opening_is_never_taken() -> None:
    prompt = "Slow push-in on the tram. A slow push-in reveals the Bund. Plasticine."
    assert restage_prompt(prompt, "pan_right", "en") == (
        "Slow push-in on the tram. " + CAMERA_TEXT["en"]["pan_right"] + " Plasticine."
    )
