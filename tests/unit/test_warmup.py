"""Start-up compiles what the drafters' checks use, so the first users do not pay for it."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

from bot.domain import script_checks
from bot.domain.types import DraftRequest
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.openai.script import AnswerError, Brief, DraftAnswer, review
from bot.warmup import warm_up


def test_after_warm_up_a_users_draft_and_review_compile_no_pattern() -> None:
    warm_up()
    compiled = script_checks._pattern.cache_info().misses
    for lang, caption in (
        ("en", "A cat naps on a windowsill while rain streaks the glass, no people"),
        ("zh", "弄堂里晾着衣服，一只猫走过，镜头慢慢推近"),
    ):
        draft = asyncio.run(OfflineDrafter().draft(DraftRequest(description=caption)))
        assert draft.prompt
        answer = DraftAnswer(
            main_action=caption, camera_move="push_in", lighting_change="dusk", language=lang
        )
        try:
            review(answer, Brief(lang=lang, wanted=caption))
        except AnswerError:
            pass  # refused or not, its checks ran
    assert script_checks._pattern.cache_info().misses == compiled


def test_after_warm_up_the_evaluation_sets_captions_compile_no_pattern() -> None:
    """What users send (eval/cases.toml) drafted offline needs nothing warm-up left out."""
    warm_up()
    compiled = script_checks._pattern.cache_info().misses
    cases = tomllib.loads((Path(__file__).parents[2] / "eval" / "cases.toml").read_text())
    drafter = OfflineDrafter()
    for case in cases["case"]:
        asyncio.run(drafter.draft(DraftRequest(description=case["caption"])))
    assert len(cases["case"]) > 50
    assert script_checks._pattern.cache_info().misses == compiled
