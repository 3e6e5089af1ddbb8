"""Start-up work that would otherwise land on the first users' updates.

The script checks look for a few hundred phrases in every draft, each compiled to a regular
expression the first time it is used (and cached for the life of the process). Left lazy,
the first dozens of drafts after a deploy pay for compiling them, on the event loop: about
0.1 s of CPU in all, spread over the first users' answers. Running one offline draft and one
review of an LLM answer, in both languages, compiles every one of them before polling starts.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.domain.types import DraftRequest
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.openai.script import AnswerError, Brief, DraftAnswer, review

log = logging.getLogger("claymate.warmup")

_SAMPLES = (
    ("en", "Boats glide along the river, lights flicker on along the Bund"),
    ("zh", "外滩傍晚，船在江上慢慢开过，路灯一盏盏亮起来"),
)
_NOTHING = {"en": "qqq", "zh": "口口"}


def warm_up() -> float:
    """Compile what the drafters and their checks use; returns the CPU seconds it took."""
    started = time.process_time()
    drafter = OfflineDrafter()
    for lang, caption in _SAMPLES:
        asyncio.run(drafter.draft(DraftRequest(description=caption, language=lang)))
        # A sample answer, and one where nothing matches: a check stops at its first hit,
        # so only text that matches none of its phrases makes it compile them all.
        for text in (caption, _NOTHING[lang]):
            asyncio.run(drafter.draft(DraftRequest(description=text, language=lang)))
            answer = DraftAnswer(
                main_action=text, language=lang, subject=text, motions=[text],
                camera_move="static", camera=text, lighting_change=text, life_detail=text,
                clay_look=text, negative_terms=[text], summary=text,
            )  # fmt: skip
            brief = Brief(lang=lang, wanted=text, light_change=True, latest=text)
            plain = DraftAnswer(main_action=text, language=lang)  # the default negatives
            for each, lenient in ((answer, False), (answer, True), (plain, True)):
                try:
                    review(each, brief if each is answer else Brief(lang, text), lenient=lenient)
                except AnswerError:  # refused or not, its checks have run
                    pass
    spent = time.process_time() - started
    log.info("warm-up: drafters' checks compiled in %.0f ms of CPU", spent * 1000)
    return spent
