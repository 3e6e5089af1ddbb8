"""Reading a reply to a draft ("pan left", "make it night", "慢一点", "no boats").

Each recognised phrase is blanked out of a working copy so later rules do not read it
twice; whatever meaningful text is left becomes an extra direction line. Camera and time
words come from the same vocabulary as a caption's cues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.types import DURATIONS
from bot.providers.offline.caption import clean_text, drop_instructions
from bot.providers.offline.vocabulary import Cue, Direction, TimeOfDay, Vocabulary

EXTRA_LIMIT = 300  # one refinement direction line

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LATIN = re.compile(r"[A-Za-z]")
_TRAILING = ".。!！?？,，;；:：、 \t\n"
_SPEED: tuple[tuple[str, tuple[str, ...], int], ...] = (
    (
        r"\b(?:slower|slow(?:ly)? down|more slowly|slow motion|gentler|calmer)\b",
        ("慢一点", "慢一些", "更慢", "放慢", "慢点", "减速"),
        -1,
    ),
    (
        r"\b(?:faster|quicker|speed(?:ed)? up|more quickly|livelier|more lively|more energetic)\b",
        ("快一点", "快一些", "更快", "加快", "快点", "加速"),
        1,
    ),
)
_PHRASE_EN = r"([a-z][a-z' -]{0,40}?)(?=\s*(?:[,.;!?]|\band\b|\bthen\b|$))"
_PHRASE_ZH = r"(.{1,12}?)(?=[，。,.!！；;]|$)"
_LIST_EN = {
    "without": rf"\b(?:no|without|remove|get rid of|drop) {_PHRASE_EN}",
    "less": rf"\b(?:less|fewer) {_PHRASE_EN}",
    "more": rf"\bmore {_PHRASE_EN}",
}
_LIST_ZH = {
    "without": rf"(?:不要|去掉|去除|删掉|别有){_PHRASE_ZH}",
    "less": rf"(?:少一些|少一点|减少|少点){_PHRASE_ZH}",
    "more": rf"(?:更多|多一些|多一点|多加|增加){_PHRASE_ZH}",
}
_FILLER_EN = re.compile(
    r"\b(?:please|pls|make|it|the|a|an|and|then|camera|shot|clip|video|with|bit|little|lot|"
    r"much|can|you|could|let'?s|to|of|be|do|also|just|now|so|is|way|some|should|i|want|"
    r"would|like|go|move|slowly|but|in|on|at|around|s|sec|secs|seconds?|change|turn)\b"
)
_FILLER_ZH = re.compile(
    r"请|把|镜头|让|一点|一些|再|和|然后|并且|画面|吧|得|的|更|些|要|可以|能|一下|视频|秒|改成|变成"
)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters on a word boundary (any char for CJK), with …"""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    # Back off to the last space unless the last "word" is absurdly long (CJK has no spaces).
    if space > 0 and limit - space <= 40:
        cut = cut[:space]
    return cut.rstrip(_TRAILING) + "…"


def clamp_duration(value: int | float) -> int:
    """The allowed duration nearest to `value` (5 or 10 seconds)."""
    return min(DURATIONS, key=lambda allowed: (abs(allowed - value), allowed))


@dataclass(slots=True)
class Changes:
    """What one refinement instruction asks for, as far as simple rules can tell."""

    camera: str | None = None  # a CAMERA_MOVE, or "pan" (its side from `direction`)
    direction: str | None = None
    duration: int | None = None
    speed: int = 0
    time: TimeOfDay | None = None
    more: list[str] = field(default_factory=list)
    less: list[str] = field(default_factory=list)
    without: list[str] = field(default_factory=list)
    extra: str | None = None


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _cn_number(text: str) -> int | None:
    digits = {"五": 5, "十": 10, "两": 2, "三": 3, "八": 8}
    m = re.search(r"([五十两三八])\s*秒", text)
    return digits[m.group(1)] if m else None


def read_instruction(instruction: str, vocabulary: Vocabulary) -> Changes:
    """Pick camera, duration, speed, time of day and more/less/without out of one reply."""
    text = clean_text(instruction)
    work = text.lower()
    changes = Changes()
    recognised = False

    for hit in vocabulary.find(work, ("cue", "direction")):
        if isinstance(hit.entry, Cue) and changes.camera is None:
            changes.camera = hit.entry.move
        elif isinstance(hit.entry, Direction):
            changes.direction = changes.direction or hit.entry.way
        else:
            continue
        work = _blank(work, hit.start, hit.end)
        recognised = True

    if m := re.search(r"(\d{1,3})\s*(?:s|sec|secs|seconds?|秒)\b|(\d{1,3})\s*秒", work):
        changes.duration = clamp_duration(int(m.group(1) or m.group(2)))
        work = _blank(work, m.start(), m.end())
    elif (n := _cn_number(work)) is not None:
        changes.duration = clamp_duration(n)
        work = re.sub(r"[五十两三八]\s*秒", " ", work)
    elif m := re.search(r"\blonger\b|更长|长一点|长一些|加长|延长", work):
        changes.duration = max(DURATIONS)
        work = _blank(work, m.start(), m.end())
    elif m := re.search(r"\bshorter\b|更短|短一点|短一些|缩短", work):
        changes.duration = min(DURATIONS)
        work = _blank(work, m.start(), m.end())
    recognised = recognised or changes.duration is not None

    for pattern, zh_words, delta in _SPEED:
        m = re.search(pattern, work)
        zh = next(((i, w) for w in zh_words if (i := work.find(w)) >= 0), None)
        if m:
            changes.speed, work = delta, _blank(work, m.start(), m.end())
        elif zh:
            changes.speed, work = delta, _blank(work, zh[0], zh[0] + len(zh[1]))
        if changes.speed:
            recognised = True
            break

    for hit in vocabulary.find(work, ("time",)):
        assert isinstance(hit.entry, TimeOfDay)
        changes.time = changes.time or hit.entry
        work = _blank(work, hit.start, hit.end)
        recognised = True

    for kind in ("without", "less", "more"):
        for pattern in (_LIST_EN[kind], _LIST_ZH[kind]):
            for m in list(re.finditer(pattern, work)):
                phrase = re.sub(r"^(?:the|a|an|some)\s+", "", m.group(1).strip())
                if phrase:
                    getattr(changes, kind).append(phrase)
                    work = _blank(work, m.start(), m.end())
                    recognised = True

    leftover = _FILLER_ZH.sub(" ", _FILLER_EN.sub(" ", work))
    leftover = re.sub(r"[\W_\d]+", " ", leftover).strip()
    meaningful = len(_LATIN.findall(leftover)) >= 3 or len(_CJK.findall(leftover)) >= 2
    if text and (meaningful or not recognised):
        extra = drop_instructions(text, vocabulary, []).strip(_TRAILING)
        changes.extra = truncate(extra, EXTRA_LIMIT) if extra else None
    return changes
