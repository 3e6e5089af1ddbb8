"""A draft's words brought in line with a changed camera or duration, without redrafting.

⚙️ Settings and `--camera` change what Generate will use; the prompt must say the same, or
the video model reads "pushes in" while the setting asks for a pan. Both drafters write
the camera as one sentence of its own ("The camera …", "镜头…"), so that sentence is swapped
for the new move's; the offline caption line's tail ("· clay, push in, 5s") is written
again; and a negative term that would forbid a moving camera goes when the camera moves.
Pure text in, text out: the same draft and settings always give the same words.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.domain import script_checks as sc
from bot.domain.types import CAMERA_MOVES, Draft
from bot.providers.offline.drafter import CAMERA_SHORT, CAMERA_TEXT

# A sentence, with the line breaks and spaces after it: "Also:" lines stay where they are.
_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]*")
_CAMERA_START = {
    "en": re.compile(r"^\s*the camera\b", re.IGNORECASE),
    "zh": re.compile(r"^\s*(?:镜头|固定机位|机位)"),
}
_SUMMARY_TAIL = {
    "en": re.compile(r" · clay, [^·,]+, \d+s$"),
    "zh": re.compile(r" · 黏土动画 · [^·]+ · \d+秒$"),
}


def camera_sentence(move: str, lang: str) -> str:
    """The sentence a prompt in `lang` uses for `move`."""
    return CAMERA_TEXT[_lang(lang)][move]


def restage_prompt(prompt: str, camera_move: str, lang: str) -> str:
    """`prompt` with its camera sentence saying `camera_move` (added if it has none).

    The camera sentence is the one that starts "The camera" / "镜头" (both drafters write it
    so), else one after the opening that names a move. Only the first is replaced and any
    later one dropped, so the prompt names one move; a prompt with none gets the sentence at
    the end of its first paragraph.
    """
    lang = _lang(lang)
    wanted = camera_sentence(camera_move, lang)
    head, newline, rest = prompt.partition("\n")
    pieces = [m.group() for m in _SENTENCE.finditer(head)]
    found = [i for i, p in enumerate(pieces) if _CAMERA_START[lang].match(p)]
    if not found:  # a model's own wording ("Slow push-in on the tram."); never the hero's
        found = [i for i, p in enumerate(pieces) if i > 0 and sc.camera_moves_named(p)]
    if found:
        lead = pieces[found[0]][: len(pieces[found[0]]) - len(pieces[found[0]].lstrip())]
        pieces[found[0]] = lead + wanted
        pieces = [p for i, p in enumerate(pieces) if i not in found[1:]]
        head = "".join(pieces).rstrip()
    else:
        joiner = "" if lang == "zh" or not head.strip() else " "
        head = head.rstrip() + joiner + wanted
    return head + newline + rest


def restage_summary(summary: str, camera_move: str, duration: int, lang: str) -> str:
    """The offline caption line's camera and seconds; another drafter's line is kept as is."""
    lang = _lang(lang)
    match = _SUMMARY_TAIL[lang].search(summary)
    if match is None:
        return summary
    short = CAMERA_SHORT[lang][camera_move]
    tail = (
        f" · 黏土动画 · {short} · {duration}秒"
        if lang == "zh"
        else (f" · clay, {short}, {duration}s")
    )
    return summary[: match.start()] + tail


def restage_negative(negative_prompt: str, camera_move: str, lang: str) -> str:
    """The negative without terms that forbid a moving camera, when the camera moves."""
    if camera_move == "static" or not negative_prompt:
        return negative_prompt
    sep = "，" if _lang(lang) == "zh" else ", "
    terms = [t.strip() for t in re.split(r"[,，]", negative_prompt) if t.strip()]
    kept = [t for t in terms if not sc.CAMERA_MOVEMENT_TERMS.mentioned_in(t)]
    return negative_prompt if len(kept) == len(terms) else sep.join(kept)


def restage_draft(draft: Draft, camera_move: str, duration: int) -> Draft:
    """`draft` with its words saying `camera_move` and `duration`, ready to store as is."""
    if camera_move not in CAMERA_MOVES:
        return replace(draft, duration=duration)
    prompt, negative = draft.prompt, draft.negative_prompt
    if camera_move != draft.camera_move:  # the prompt says no seconds: a duration keeps it
        prompt = restage_prompt(prompt, camera_move, draft.language)
        negative = restage_negative(negative, camera_move, draft.language)
    return replace(
        draft,
        prompt=prompt,
        negative_prompt=negative,
        summary=restage_summary(draft.summary, camera_move, duration, draft.language),
        camera_move=camera_move,
        duration=duration,
    )


def _lang(lang: str) -> str:
    return "zh" if lang.lower().startswith("zh") else "en"
