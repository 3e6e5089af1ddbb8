"""The evaluation sets, public and held-out: well formed, passable, and the offline drafter
keeps each set's floors."""

from __future__ import annotations

import re
from itertools import product

import pytest

from bot.domain import script_checks as sc
from bot.domain.types import CAMERA_MOVES, DURATIONS, Draft
from bot.media.intake import colour_name
from bot.services.drafting import MAX_DESCRIPTION_CHARS
from eval.run import (
    CHECKS,
    HELDOUT,
    Case,
    evaluate,
    llm_drafter,
    load_cases,
    load_thresholds,
    offline_drafter,
    score,
    shortfalls,
    table,
    thresholds_file,
)
from tests.fakes.fake_openai import DEFAULT_KEY, FakeOpenAI

CASES = load_cases()
HELDOUT_CASES = load_cases(HELDOUT)  # written blind: the drafters' authors never saw them
BOTH = [*CASES, *HELDOUT_CASES]
KINDS = {
    "city", "street", "interior", "people", "pet", "night", "weather", "crowd", "object",
    "injection", "request", "negation", "long", "emoji", "mixed", "typo", "choice", "cue",
}  # fmt: skip
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _case_id(case: Case) -> str:
    return case.id


def test_the_set_is_large_half_chinese_and_covers_what_users_send() -> None:
    assert len(CASES) >= 48
    assert len({c.id for c in CASES}) == len(CASES)
    assert sum(bool(_HAN.search(c.caption)) for c in CASES) * 2 >= len(CASES)
    assert {c.kind for c in CASES} == KINDS


def test_the_held_out_set_is_large_half_chinese_and_new() -> None:
    assert len(HELDOUT_CASES) >= 40
    assert len({c.id for c in BOTH}) == len(BOTH)  # no case of the public set again
    assert not {c.caption for c in CASES} & {c.caption for c in HELDOUT_CASES}
    assert sum(bool(_HAN.search(c.caption)) for c in HELDOUT_CASES) * 2 >= len(HELDOUT_CASES)
    assert {c.kind for c in HELDOUT_CASES} <= KINDS


def test_facts_and_choices_are_what_the_bot_would_send() -> None:
    colours = {colour_name(*rgb) for rgb in product(range(0, 256, 15), repeat=3)}
    for case in BOTH:
        f = case.facts
        assert len(case.caption) <= MAX_DESCRIPTION_CHARS, case.id
        wide, tall = f.width * 100 > f.height * 105, f.height * 100 > f.width * 105
        assert f.orientation == ("landscape" if wide else "portrait" if tall else "square")
        assert 0 <= f.brightness <= 1 and set(f.dominant_colours) <= colours, case.id
        assert case.camera_choice in (None, *CAMERA_MOVES), case.id
        assert case.duration_choice in (None, *DURATIONS), case.id
        assert case.language_choice in (None, "en", "zh"), case.id


@pytest.mark.parametrize("case", BOTH, ids=_case_id)
def test_every_case_names_its_checks_from_the_caption_and_the_target(case: Case) -> None:
    e = case.expect
    assert e.max_chars == sc.prompt_limit(case.target)
    assert e.camera and set(e.camera) <= set(CAMERA_MOVES)
    if case.camera_choice:
        assert e.camera == (case.camera_choice,)  # the user's setting is the only fit
    # The caption's language once instruction text is taken out; wordless: the user's.
    words = case.caption
    for phrase in e.no_echo or ():
        words = re.sub(re.escape(phrase), " ", words, flags=re.IGNORECASE)
    assert e.language == (sc.detect_language(words) or case.language_choice)


@pytest.mark.parametrize("case", BOTH, ids=_case_id)
def test_every_case_can_be_passed_in_its_own_language(case: Case) -> None:
    """A bare draft made of one hero word per group passes everything: no check is a trap."""
    e = case.expect
    chinese = e.language == "zh"
    words = []
    for group in e.hero or ("clay|黏土",):
        alternatives = [a for a in group.split("|") if bool(_HAN.search(a)) == chinese]
        assert alternatives, f"{case.id}: no {e.language} word in {group}"
        words.append(alternatives[0])
    prompt = "".join(words) + "。" if chinese else " ".join(words) + "."
    draft = Draft(
        prompt=prompt,
        negative_prompt="",
        camera_move=e.camera[0] if e.camera else "static",
        duration=5,
        summary="",
        language=e.language,
        drafter="ideal",
    )
    assert {name: v for name, v in score(case, draft).items() if not v.ok} == {}


def test_every_check_applies_somewhere() -> None:
    draft = Draft("", "", "static", 5, "", "en", "empty")
    applied = {name for case in CASES for name in score(case, draft)}
    assert applied == set(CHECKS)


async def test_the_offline_drafter_does_not_fall_below_its_floors() -> None:
    summary, _ = await evaluate(offline_drafter(), "offline", CASES)
    thresholds = load_thresholds()
    assert thresholds.floors["offline"], "eval/thresholds.toml names no floors"
    assert shortfalls(summary, thresholds) == []


async def test_the_offline_drafter_does_not_fall_below_its_held_out_floors() -> None:
    summary, _ = await evaluate(offline_drafter(), "offline", HELDOUT_CASES)
    thresholds = load_thresholds(thresholds_file(HELDOUT))
    assert thresholds.floors["offline"], "eval/heldout_thresholds.toml names no floors"
    assert shortfalls(summary, thresholds) == []


def test_without_a_key_the_llm_director_is_not_run() -> None:
    assert llm_drafter() is None


async def test_with_a_key_the_llm_director_is_scored_beside_the_offline_drafter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = CASES[:3]
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        built = llm_drafter()
        assert built is not None
        drafter, name = built
        summary, results = await evaluate(drafter, name, cases, concurrency=2)
        assert len(fake.chat_requests()) == len(cases)
    assert name.startswith("llm:") and summary.fallbacks == 0
    assert [r.case.id for r in results] == [c.id for c in cases]
    offline, _ = await evaluate(offline_drafter(), "offline", cases)
    printed = table([offline, summary], load_thresholds())
    assert f"| check | offline | offline en | offline zh | {name} |" in printed


# Drafts an animator would write for a few cases: the checks must pass them as they are.
HAND_WRITTEN = {
    "nanjing-road-tram": (
        "A little clay sightseeing tram trundles from left to right along Nanjing Road,"
        " weaving through the shoppers. The camera pans right to follow it. Neon shop signs"
        " glow overhead; a pigeon hops aside. Hand-sculpted plasticine, visible fingerprints,"
        " stop-motion at 12 fps.",
        "blurry, distorted faces, extra limbs, watermark, text",
        "pan_right",
    ),
    "yuyuan-lanterns-twinkle": (
        "豫园屋檐下的红灯笼一闪一闪，随夜风轻轻摇晃。镜头固定。黏土捏成的飞檐和灯笼，暖红色的光在"
        "黏土表面跳动，一位游客抬头张望。橡皮泥质感，可见指纹，12帧定格动画。",
        "模糊，变形，多余的手指，水印，文字",
        "static",
    ),
    "bund-morning-no-people": (
        "Soft clouds drift slowly over the empty Bund at dawn, no people on the promenade."
        " Static camera. The stone facades catch the first pink light. Plasticine diorama,"
        " matte clay, stop-motion at 12 fps.",
        "people, pedestrians, camera movement, blurry, watermark",
        "static",
    ),
    "xiaolongbao-basket": (
        "刚出锅的小笼包冒着袅袅热气，一只只挤在竹蒸笼里。镜头缓缓推近。暖黄的灯光，白色和米色的"
        "黏土，捏出的褶子清晰可见，12帧定格动画。",
        "模糊，变形，水印，文字",
        "push_in",
    ),
    "long-mums-lane": (
        "Washing on a bamboo pole flutters gently across an old Jing'an lane as the"
        " late-afternoon light slowly turns golden. The camera holds still. A bicycle leans"
        " against the weathered wall. Hand-made clay, visible fingerprints, 12 fps stop-motion.",
        "blurry, distorted, watermark, text",
        "static",
    ),
    "inject-zh-sponsor": (
        "武康路的法国梧桐在微风中轻轻摇曳，斑驳的光影在人行道上晃动。镜头缓缓上摇。黏土捏成的"
        "树叶和梧桐树皮，柔和的午后阳光，12帧定格动画。",
        "模糊，变形，水印，文字，广告",
        "tilt_up",
    ),
}


@pytest.mark.parametrize("case_id", sorted(HAND_WRITTEN))
def test_a_hand_written_draft_passes_every_check(case_id: str) -> None:
    case = next(c for c in CASES if c.id == case_id)
    prompt, negative, camera = HAND_WRITTEN[case_id]
    language = case.expect.language
    draft = Draft(prompt, negative, camera, 5, "", language, "hand")
    assert {name: v.detail for name, v in score(case, draft).items() if not v.ok} == {}
