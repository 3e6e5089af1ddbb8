"""The offline drafter: a user with no LLM configured still gets a clay prompt that moves.

Each test is a user's situation: a Chinese line about the Bund, a pasted essay, a dark
photo, a reply asking the camera to pan left or the clip to be longer.
"""

from __future__ import annotations

import re

import pytest

from bot.domain import script_checks as sc
from bot.domain.types import (
    CAMERA_MOVES,
    PROMPT_LIMIT,
    Draft,
    DraftRequest,
    PhotoFacts,
    RefineStep,
)
from bot.providers.offline.drafter import (
    CAMERA_TEXT,
    OfflineDrafter,
    detect_language,
    truncate,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")

BRIGHT = PhotoFacts(1600, 1200, "landscape", 0.72, ("blue", "grey", "green"))
DARK = PhotoFacts(1080, 1920, "portrait", 0.12, ("black", "orange"))

drafter = OfflineDrafter()


async def draft(description: str, **kwargs: object) -> Draft:
    return await drafter.draft(DraftRequest(description=description, **kwargs))  # type: ignore[arg-type]


def cjk_share(text: str) -> float:
    cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
    return cjk / max(1, cjk + latin)


# --- limits ---------------------------------------------------------------------------------


async def test_a_pasted_essay_still_gives_a_short_prompt_within_limits() -> None:
    essay = " ".join(f"word{i % 97}" for i in range(2000))[:10_000]
    assert len(essay) == 10_000
    result = await draft(essay, facts=BRIGHT)
    assert len(result.prompt) <= PROMPT_LIMIT
    assert len(result.negative_prompt) <= PROMPT_LIMIT
    assert len(result.summary) <= 80 and "\n" not in result.summary
    # Cut on a word boundary: the last kept word is a whole word of the essay.
    opening = result.prompt.removeprefix("Stop-motion claymation: ").split("…", 1)[0]
    assert opening and essay.startswith(opening)
    assert essay[len(opening)] == " "
    # Short prompts work best: the opening is capped far below the limit.
    assert len(result.prompt) < 800


async def test_ten_thousand_chinese_characters_still_give_a_short_chinese_prompt() -> None:
    essay = ("黄浦江上的渡轮慢慢开过，" * 1000)[:10_000]
    result = await draft(essay, facts=BRIGHT)
    assert len(result.prompt) <= PROMPT_LIMIT
    assert len(result.summary) <= 80
    assert result.language == "zh"
    # The action is said once, first; a thousand repeats of it add nothing.
    assert "渡轮慢慢开过" in sc.first_sentence(result.prompt)
    assert result.prompt.count("渡轮") == 1 and len(result.prompt) < 300


async def test_no_description_at_all_still_drafts() -> None:
    result = await draft("   ", facts=BRIGHT)
    assert result.prompt.startswith("Stop-motion claymation: the scene in the photo")
    assert result.drafter == "offline"


# --- language -------------------------------------------------------------------------------


async def test_a_chinese_description_gets_a_chinese_prompt() -> None:
    result = await draft("上海外滩的夜景，黄浦江上有船，行人在散步", facts=BRIGHT)
    assert result.language == "zh"
    assert cjk_share(result.prompt) > 0.9
    assert cjk_share(result.negative_prompt) > 0.9
    assert "黏土" in result.prompt and "定格动画" in result.prompt and "指印" in result.prompt
    # The caption's own action leads, in its own words; the camera sentence follows.
    assert "行人在散步" in sc.first_sentence(result.prompt)
    assert CAMERA_TEXT["zh"][result.camera_move] in result.prompt
    assert "plasticine" not in result.prompt.lower()


async def test_an_english_description_gets_an_english_prompt() -> None:
    result = await draft("Boats on the river in Shanghai, people walking by", facts=BRIGHT)
    assert result.language == "en"
    assert not CJK.search(result.prompt + result.negative_prompt + result.summary)
    for word in ("plasticine", "fingerprints", "matte clay texture", "stop-motion", "12 fps"):
        assert word in result.prompt
    opening = sc.first_sentence(result.prompt)
    assert "Boats on the river" in opening and "people walking by" in opening
    assert (
        "photorealistic skin" in result.negative_prompt and "watermark" in result.negative_prompt
    )


async def test_the_requested_language_overrides_the_description() -> None:
    assert (await draft("外滩的夜景", language="en")).language == "en"
    result = await draft("The Bund at night", language="zh-Hans")
    assert result.language == "zh" and cjk_share(result.prompt) > 0.8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上海外滩", "zh"),
        ("外滩 the Bund 夜景", "zh"),
        ("I love 上海 so much", "en"),
        ("A cat on a sofa", "en"),
        ("🙂🙂", "en"),
        ("", "en"),
    ],
)
def test_language_follows_the_share_of_chinese_characters(text: str, expected: str) -> None:
    assert detect_language(text) == expected


# --- motion -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "motion"),
    [
        ("a quiet lake at dawn", "water rippling"),
        ("my friends at a picnic", "natural gestures"),
        ("traffic on Yan'an Road", "rolling slowly past"),
        ("ferries on the Huangpu", "gliding slowly across the water"),
        ("a windy park", "a breeze stirring"),
        ("blue sky over the tower", "clouds drifting"),
        ("neon signs on Nanjing Road", "glowing softly"),
        ("pigeons in the square", "flapping their wings"),
        ("a rainy alley with umbrellas", "rain falling"),
        ("a bowl of noodles", "steam curling"),
        ("a birthday candle", "flame dancing"),
        ("my cat", "blinking slowly and flicking its tail"),
        ("an old brick wall", "coming gently to life"),
    ],
)
async def test_a_caption_without_a_verb_gets_its_subjects_own_motion_first(
    description: str, motion: str
) -> None:
    assert motion in sc.first_sentence((await draft(description)).prompt)


@pytest.mark.parametrize(
    ("description", "motion"),
    [
        ("河边的老房子", "云朵在上方缓缓飘过"),
        ("马路上的出租车", "缓缓驶过"),
        ("公园里的树", "随风轻轻摇曳"),
        ("一碗小笼包", "热气"),
        ("下雨天的弄堂", "雨丝不停落下"),
    ],
)
async def test_chinese_descriptions_get_chinese_motion(description: str, motion: str) -> None:
    assert motion in sc.first_sentence((await draft(description)).prompt)


async def test_shanghai_is_not_mistaken_for_the_sea() -> None:
    result = await draft("上海的一家咖啡馆")
    assert "荡漾" not in result.prompt and "粼粼" not in result.prompt
    assert "热气" in (await draft("上海的一杯咖啡")).prompt


async def test_the_first_lively_thing_leads_and_nothing_else_is_made_to_move() -> None:
    result = await draft("birds over the river with boats, cars and people")
    opening = sc.first_sentence(result.prompt)
    assert opening.startswith("Stop-motion claymation: birds over the river")
    assert "flapping their wings" in opening
    assert "rolling slowly past" not in result.prompt and "gestures" not in result.prompt


# --- photo facts ------------------------------------------------------------------------------


async def test_a_bright_photo_gets_daylight_and_its_own_colours() -> None:
    result = await draft("a street corner", facts=BRIGHT)
    assert "Soft daylight" in result.prompt
    assert "a palette of blue, grey and green clay" in result.prompt
    assert "wide miniature diorama" in result.prompt


async def test_a_dark_photo_gets_a_warm_evening_glow() -> None:
    result = await draft("a street corner", facts=DARK)
    assert "Warm, low light" in result.prompt
    assert "a palette of black and orange clay" in result.prompt
    assert "tall miniature diorama" in result.prompt
    zh = await draft("街角", facts=DARK)
    assert "温暖的低调光线" in zh.prompt and "黑色、橙色的黏土配色" in zh.prompt


async def test_a_time_of_day_is_a_change_within_the_shot() -> None:
    # The first frame is the still: a bright photo cannot be night, it can turn night.
    night = (await draft("the Bund at night", facts=BRIGHT)).prompt
    assert "fades into night" in night and "daylight" not in night.lower()
    assert "sun sinks slowly" in (await draft("a beach at sunset", facts=DARK)).prompt
    assert "暮色渐浓" in (await draft("黄昏的弄堂", facts=BRIGHT)).prompt
    # A night photo is night already: the light is described, not changed.
    dark = (await draft("the Bund at night", facts=DARK)).prompt
    assert "Night, with warm light" in dark and "fades into night" not in dark


async def test_no_facts_means_soft_studio_light() -> None:
    assert "studio light" in (await draft("a teapot")).prompt


# --- camera and duration ------------------------------------------------------------------------


@pytest.mark.parametrize("move", CAMERA_MOVES)
async def test_the_users_camera_move_is_honoured(move: str) -> None:
    result = await draft("a teapot", camera_move=move)
    assert result.camera_move == move
    assert CAMERA_TEXT["en"][move] in result.prompt
    zh = await draft("茶壶", camera_move=move)
    assert CAMERA_TEXT["zh"][move] in zh.prompt


async def test_defaults_are_push_in_and_five_seconds() -> None:
    result = await draft("a teapot", camera_move="dutch_roll")
    assert (result.camera_move, result.duration) == ("push_in", 5)
    assert (await draft("a teapot", duration=10)).duration == 10
    assert (await draft("a teapot", duration=7)).duration == 5  # nearest offered length


# --- refinement -------------------------------------------------------------------------------


async def refine(
    description: str, instruction: str, history: tuple[RefineStep, ...] = (), **kwargs: object
) -> tuple[Draft, Draft]:
    request = DraftRequest(description=description, facts=BRIGHT, **kwargs)  # type: ignore[arg-type]
    first = await drafter.draft(request)
    return first, await drafter.refine(request, first, instruction, history)


@pytest.mark.parametrize(
    ("instruction", "move"),
    [
        ("pan left please", "pan_left"),
        ("Pan to the right", "pan_right"),
        ("zoom out", "pull_out"),
        ("push in slowly", "push_in"),
        ("tilt up", "tilt_up"),
        ("orbit around", "orbit"),
        ("keep the camera still", "static"),
        ("推进", "push_in"),
        ("镜头拉远一点", "pull_out"),
        ("左摇", "pan_left"),
        ("向右摇", "pan_right"),
    ],
)
async def test_refine_changes_the_camera_it_names(instruction: str, move: str) -> None:
    first, result = await refine("the Bund at night", instruction, camera_move="tilt_down")
    assert first.camera_move == "tilt_down"
    assert result.camera_move == move
    lang = result.language
    assert CAMERA_TEXT[lang][move] in result.prompt
    assert CAMERA_TEXT[lang]["tilt_down"] not in result.prompt
    assert "Also:" not in result.prompt  # fully understood: no extra line


@pytest.mark.parametrize(
    ("instruction", "duration"),
    [("make it 10 s", 10), ("10秒", 10), ("十秒", 10), ("longer", 10), ("长一点", 10)],
)
async def test_refine_changes_the_duration_it_names(instruction: str, duration: int) -> None:
    _, result = await refine("a teapot", instruction)
    assert result.duration == duration
    _, back = await refine("a teapot", "shorter", duration=10)
    assert back.duration == 5


async def test_refine_slower_faster_night_sunset() -> None:
    _, slower = await refine("a river", "slower")
    assert "Everything moves slowly and gently." in slower.prompt
    _, faster = await refine("a river", "faster")
    assert "lively and brisk" in faster.prompt
    _, night = await refine("a river", "at night")
    assert "fades into night" in night.prompt and "daylight" not in night.prompt.lower()
    _, sunset = await refine("一条河", "改成日落")
    assert "夕阳" in sunset.prompt and "日光" not in sunset.prompt


async def test_refine_more_and_less() -> None:
    _, more = await refine("a river", "more birds")
    assert "Birds flapping their wings" in more.prompt and "More birds." in more.prompt
    _, less = await refine("boats on a river", "fewer boats")
    assert "Fewer boats, kept subtle." in less.prompt
    _, without = await refine("boats on a river", "no boats")
    assert "No boats." in without.prompt and without.negative_prompt.endswith("boats")
    assert sc.respects_negations(without.prompt, ["boat"]).ok  # only "No boats." names them
    assert "the river" in sc.first_sentence(without.prompt)
    _, zh = await refine("江上的船", "多一些鸟")
    assert "鸟扑扇着翅膀" in zh.prompt and "更多鸟" in zh.prompt


async def test_anything_else_becomes_an_extra_direction_line() -> None:
    _, result = await refine("a teapot", "add a red kite in the sky")
    assert result.prompt.endswith("\nAlso: add a red kite in the sky")
    _, zh = await refine("茶壶", "加一只红色风筝")
    assert zh.prompt.endswith("\n另外：加一只红色风筝")
    _, mixed = await refine("a teapot", "pan left and add a red kite")
    assert mixed.camera_move == "pan_left" and "Also: pan left and add a red kite" in mixed.prompt


async def test_refine_replays_the_history_of_an_offline_draft() -> None:
    request = DraftRequest(description="a river", facts=BRIGHT)
    first = await drafter.draft(request)
    slower = await drafter.refine(request, first, "slower")
    history = (RefineStep("slower", slower.prompt),)
    night = await drafter.refine(request, slower, "at night", history)
    history += (RefineStep("at night", night.prompt),)
    kite = await drafter.refine(request, night, "add a red kite", history)
    assert "Everything moves slowly" in kite.prompt
    assert "fades into night" in kite.prompt
    assert kite.prompt.endswith("Also: add a red kite")


async def test_refine_keeps_another_drafters_words_and_swaps_the_camera() -> None:
    request = DraftRequest(description="the Bund", facts=BRIGHT)
    previous = Draft(
        prompt="Clay ferries glide on the river. The camera slowly pushes in. Soft dusk light.",
        negative_prompt="blurry, text",
        camera_move="push_in",
        duration=5,
        summary="Clay Bund",
        language="en",
        drafter="llm:gpt-4o-mini/clay_director_v1",
    )
    result = await drafter.refine(request, previous, "pan left, then add fireworks")
    assert result.drafter == "offline"
    assert result.prompt.startswith("Clay ferries glide on the river.")
    assert "pushes in" not in result.prompt and "pans slowly to the left" in result.prompt
    assert "Soft dusk light." in result.prompt
    assert result.prompt.endswith("Also: pan left, then add fireworks")
    assert result.negative_prompt == "blurry, text"
    assert result.summary == "Clay Bund"


async def test_many_long_refinements_stay_within_the_limit() -> None:
    request = DraftRequest(description="a teapot " * 500, facts=BRIGHT)
    current = await drafter.draft(request)
    history: tuple[RefineStep, ...] = ()
    for i in range(12):
        instruction = f"add detail number {i} " + "with many more words " * 40
        current = await drafter.refine(request, current, instruction, history)
        history += (RefineStep(instruction, current.prompt),)
        assert len(current.prompt) <= PROMPT_LIMIT
        assert len(current.summary) <= 80
    assert "detail number 11" in current.prompt  # the newest direction is kept
    assert "detail number 0 " not in current.prompt  # the oldest gave way


# --- determinism --------------------------------------------------------------------------------


async def test_the_same_input_always_gives_the_same_draft() -> None:
    request = DraftRequest(description="渡轮在黄浦江上，游客在外滩散步", facts=DARK, duration=10)
    first = await OfflineDrafter().draft(request)
    await OfflineDrafter().draft(DraftRequest(description="something else entirely"))
    second = await OfflineDrafter().draft(request)
    assert first == second
    refined = [await OfflineDrafter().refine(request, first, "慢一点，向左摇") for _ in range(3)]
    assert refined[0] == refined[1] == refined[2]
    assert refined[0].camera_move == "pan_left" and "缓慢" in refined[0].prompt


def test_truncate_cuts_on_a_word_and_marks_the_cut() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("hello wonderful world", 12) == "hello…"
    assert truncate("一二三四五六七八九十", 5) == "一二三四…"
    assert len(truncate("x" * 50, 10)) == 10
