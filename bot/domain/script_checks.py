"""What a drafted video prompt must get right, as pure functions of text.

The evaluation set (eval/) scores every drafter with these checks, and a drafter may run
them on its own answer before a user sees it. Each check returns a `CheckResult` whose
`detail` names what failed in words a repair request can quote.

Terms are matched the same way everywhere (see `mentions`): a term with any non-ASCII
character (Chinese, emoji) matches as a substring; an ASCII term matches whole words,
case-insensitively, with regular English endings ("cross" matches "crosses", "crossing",
"crossed"; "flap" matches "flapping"), and a space or hyphen inside it matches either.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, Literal, TypeVar

Language = Literal["zh", "en"]
_Tag = TypeVar("_Tag")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict; `detail` says what failed (empty when it passed)."""

    ok: bool
    detail: str = ""


PASSED = CheckResult(True)

# --- matching terms -------------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_VOWELS = "aeiou"


def _word_forms(word: str, inflect: bool) -> str:
    """A regex for one English word and its regular endings (only plurals unless `inflect`)."""
    stem = re.escape(word)
    if not inflect:
        return stem + r"(?:s|es)?"
    forms = [stem + r"(?:s|es|ed|d|ing)?"]
    if word.endswith("e"):
        forms.append(re.escape(word[:-1]) + "ing")
    if word.endswith("y"):
        forms.append(re.escape(word[:-1]) + "(?:ies|ied)")
    if len(word) >= 3 and word[-1] not in _VOWELS + "wxy" and word[-2] in _VOWELS:
        forms.append(stem + re.escape(word[-1]) + "(?:ed|ing)")  # flap -> flapping
    return "(?:" + "|".join(forms) + ")"


@lru_cache(maxsize=4096)
def _pattern(term: str, inflect: bool) -> tuple[re.Pattern[str], str]:
    """The term's pattern, and a case-folded piece of text every match must contain.

    Checks look for hundreds of phrases in every draft; most are absent, and a substring
    test rules them out far faster than the regex would.
    """
    if not term.isascii():
        return re.compile(re.escape(term), re.IGNORECASE), term.casefold()
    words = [w for w in re.split(r"[\s\-]+", term.strip()) if w]
    body = r"[\s\-]+".join(_word_forms(w.lower(), inflect) for w in words)
    first = words[0].casefold() if words else ""
    # Every form of a word keeps all but its last letter ("flap" → "flapping", "tie" →
    # "tying" keeps "t"...): the needle is the first letters no ending can change.
    needle = first[: max(0, min(3, len(first) - 2))]
    return re.compile(r"(?<![a-z0-9])" + body + r"(?![a-z0-9])", re.IGNORECASE), needle


@lru_cache(maxsize=256)
def _folded(text: str) -> str:
    return text.casefold()  # as re.IGNORECASE folds: "ſ" and "K" match "s" and "k"


def find_term(text: str, term: str, *, inflect: bool = True) -> list[tuple[int, int]]:
    """Where `term` occurs in `text`, as (start, end) spans; see the module docstring."""
    pattern, needle = _pattern(term, inflect)
    if needle and needle not in _folded(text):
        return []
    return [m.span() for m in pattern.finditer(text)]


class TermTable(Generic[_Tag]):
    """A fixed list of terms, each matched as `find_term` matches it, prepared once.

    A draft is checked against the same hundred-odd camera phrases and life words several
    times; looking each term up through `_pattern` per text cost more than the matching.
    Each term carries a tag (the moves a camera phrase means, a life detail's concept).
    """

    def __init__(self, terms: Iterable[tuple[str, _Tag]], *, inflect: bool = True) -> None:
        entries = []
        for term, tag in terms:
            pattern, needle = _pattern(term, inflect)
            entries.append((needle, pattern, term, tag))
        self._entries = tuple(entries)

    def find(self, text: str) -> list[tuple[int, int, str, _Tag]]:
        """Every occurrence of every term, as (start, end, term, tag), in the table's order."""
        folded = text.casefold()
        return [
            (*match.span(), term, tag)
            for needle, pattern, term, tag in self._entries
            if not needle or needle in folded
            for match in pattern.finditer(text)
        ]

    def mentioned_in(self, text: str) -> bool:
        """Whether `text` contains any of the terms."""
        folded = text.casefold()
        return any(
            pattern.search(text)
            for needle, pattern, _, _ in self._entries
            if not needle or needle in folded
        )


def mentions(text: str, term: str, *, inflect: bool = True) -> bool:
    """Whether `text` contains `term` (a Chinese substring, or English words with endings)."""
    return bool(find_term(text, term, inflect=inflect))


def mentions_any(text: str, alternatives: str | Iterable[str], *, inflect: bool = True) -> bool:
    """Whether `text` contains one of `alternatives` ("tram|streetcar|电车" or a sequence)."""
    terms = alternatives.split("|") if isinstance(alternatives, str) else alternatives
    return any(mentions(text, t.strip(), inflect=inflect) for t in terms if t.strip())


# --- hero action first ----------------------------------------------------------------------

# A full stop ends a sentence only before a space or the end ("2.5" and "v2.1" do not).
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
_WORD_OR_HAN = re.compile(r"[A-Za-z0-9'’]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# How much of a prompt counts as its start: a sentence of one action rarely needs more, and a
# pasted paragraph does not put anything first by being one long sentence.
OPENING_WORDS = 24  # English words; a Chinese character counts as 1/1.5 of a word (36 chars)
_HAN_PER_WORD = 1.5  # Chinese runs about one and a half characters to an English word


def first_sentence(text: str) -> str:
    """The prompt's first non-empty sentence: where a video model looks for the main action."""
    for sentence in _SENTENCE_END.split(text):
        if sentence.strip(" \t\"'“”‘’«»…-—"):
            return sentence.strip()
    return ""


def opening(text: str, words: int = OPENING_WORDS) -> str:
    """The first sentence, cut after `words` words (a Chinese character is 1/1.5 of one)."""
    sentence = first_sentence(text)
    thirds = 0  # counted in thirds of a word, so 1.5 characters a word stays exact
    for token in _WORD_OR_HAN.finditer(sentence):
        thirds += round(3 / _HAN_PER_WORD) if _HAN.match(token.group()) else 3
        if thirds > 3 * words:
            return sentence[: token.start()].rstrip()
    return sentence


def hero_first(prompt: str, hero: Sequence[str]) -> CheckResult:
    """The hero action leads: every group in `hero` ("tram|电车", "cross|驶过") is in the opening.

    Video models weigh the start of a prompt most, so the scene's main motion and its subject
    belong in the first sentence's first words (see `opening`), not after style words or a
    pasted caption's preamble.
    """
    start = opening(prompt)
    missing = [group for group in hero if not mentions_any(start, group)]
    if missing:
        return CheckResult(False, f"opening lacks {' and '.join(missing)}: {start!r}")
    return PASSED


# --- one camera move that fits ----------------------------------------------------------------

# Phrases a prompt uses to describe a camera move, and the moves (bot.domain.types.CAMERA_MOVES)
# each one can mean. The longest phrase wins where phrases overlap ("pan from left to right"
# is pan_right, not "pan left").
_PAN = frozenset({"pan_left", "pan_right"})
_TILT = frozenset({"tilt_up", "tilt_down"})
CAMERA_PHRASES: dict[frozenset[str], tuple[str, ...]] = {
    frozenset({"static"}): (
        "static camera", "static shot", "static frame", "locked-off", "locked off",
        "fixed camera", "still camera", "tripod shot", "camera holds still",
        "camera stays still", "camera remains still", "camera stays fixed",
        "camera does not move", "camera doesn't move", "camera never moves",
        "no camera movement", "固定机位", "固定镜头", "镜头固定", "镜头静止", "静止镜头",
        "镜头不动", "机位不动",
    ),
    frozenset({"push_in"}): (
        "push in", "dolly in", "zoom in", "move in closer", "move closer", "creep in",
        "creep closer", "drift closer", "推近", "推进", "镜头推", "推镜", "拉近",
    ),
    frozenset({"pull_out"}): (
        "pull out", "pull back", "dolly out", "dolly back", "zoom out", "move back",
        "拉远", "后拉", "拉出", "镜头拉开", "拉镜",
    ),
    frozenset({"pan_left"}): (
        "pan left", "pan to the left", "pan from right to left", "pan right to left",
        "向左摇", "向左平移", "往左摇", "左摇", "从右往左摇", "从右向左摇", "镜头左移",
        "向左横摇",
    ),
    frozenset({"pan_right"}): (
        "pan right", "pan to the right", "pan from left to right", "pan left to right",
        "向右摇", "向右平移", "往右摇", "右摇", "从左往右摇", "从左向右摇", "镜头右移",
        "向右横摇",
    ),
    _PAN: (
        "camera pan", "slow pan", "gentle pan", "pan across", "pan over", "pan along",
        "panning", "横摇", "摇镜", "平移镜头", "镜头平移", "摇拍",
    ),
    frozenset({"tilt_up"}): (
        "tilt up", "tilt upward", "tilt upwards", "tilt from bottom to top", "向上摇",
        "上摇", "仰摇", "镜头上移", "镜头向上", "镜头从下往上",
    ),
    frozenset({"tilt_down"}): (
        "tilt down", "tilt downward", "tilt downwards", "tilt from top to bottom",
        "向下摇", "下摇", "俯摇", "镜头下移", "镜头向下", "镜头从上往下",
    ),
    _TILT: ("camera tilt", "slow tilt", "tilting"),
    frozenset({"orbit"}): (
        "orbit", "arc around", "camera circles", "镜头环绕", "环绕拍摄", "环绕运镜",
        "环绕镜头", "绕拍", "镜头绕",
    ),
}  # fmt: skip


_CAMERA_TABLE = TermTable(
    (phrase, moves) for moves, phrases in CAMERA_PHRASES.items() for phrase in phrases
)


def camera_moves_named(prompt: str) -> list[tuple[str, frozenset[str]]]:
    """The camera phrases in `prompt`, in order, each with the moves it can mean."""
    found = _CAMERA_TABLE.find(prompt)
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))  # longest first
    kept: list[tuple[int, int, str, frozenset[str]]] = []
    for hit in found:
        if all(hit[1] <= k[0] or hit[0] >= k[1] for k in kept):
            kept.append(hit)
    return [(prompt[s:e], moves) for s, e, _, moves in sorted(kept)]


def camera_fits(
    prompt: str, camera_move: str, allowed: Collection[str] | None = None
) -> CheckResult:
    """One camera move that fits: `camera_move` is among `allowed`, and the prompt names no other.

    A prompt that says "slow push-in" while the request asks Kling to pan gives the model two
    orders; a prompt that names no move at all leaves the request's move alone, which is fine.
    """
    if allowed is not None and camera_move not in allowed:
        return CheckResult(False, f"camera {camera_move}, expected {' or '.join(sorted(allowed))}")
    for phrase, moves in camera_moves_named(prompt):
        if camera_move not in moves:
            return CheckResult(False, f"prompt says {phrase!r} but the camera is {camera_move}")
    return PASSED


# --- at most one detail of everyday life ------------------------------------------------------

# A "detail of life" is a small incidental element a drafter adds so a scene feels lived in:
# a passer-by, a cat, laundry, steam, an umbrella. One gives life; several split the video
# model's attention away from the hero action. Each concept lists its English words (matched
# with plural endings only), Chinese words and emoji.
LIFE_DETAILS: dict[str, tuple[str, ...]] = {
    "passer-by": ("passer-by", "passerby", "pedestrian", "行人", "路人"),
    "cyclist": ("bicycle", "bike", "cyclist", "自行车", "单车", "骑车", "🚲"),
    "scooter": ("scooter", "moped", "电动车", "电瓶车", "摩托", "🛵"),
    "cat": ("cat", "kitten", "猫", "🐈", "🐱"),
    "dog": ("dog", "puppy", "狗", "🐕", "🐶"),
    "bird": ("bird", "pigeon", "sparrow", "鸽", "麻雀", "小鸟", "飞鸟", "🐦", "🕊"),
    "laundry": ("laundry", "clothesline", "washing line", "晾衣", "晾晒", "晾着"),
    "steam": ("steam", "steaming", "蒸汽", "热气"),
    "umbrella": ("umbrella", "伞", "☂", "🌂"),
    "leaf": ("leaf", "falling leaves", "落叶", "树叶", "🍂"),
    "child": ("child", "children", "kid", "小孩", "孩子", "儿童", "女儿", "儿子"),
    "elder": ("old man", "old woman", "grandma", "grandpa", "grandmother", "grandfather",
              "elderly", "老人", "阿婆", "老伯", "大爷", "大妈", "爷爷", "奶奶", "外婆",
              "外公"),
    "vendor": ("vendor", "hawker", "stallholder", "小贩", "摊贩", "摊主"),
    "curtain": ("curtain", "窗帘"),
    "plant": ("potted plant", "flowerpot", "houseplant", "盆栽", "花盆", "绿植"),
    "wind chime": ("wind chime", "风铃"),
    "newspaper": ("newspaper", "报纸"),
    "teacup": ("teacup", "cup of tea", "茶杯", "茶碗"),
}  # fmt: skip


def life_details(text: str) -> set[str]:
    """The everyday-life concepts (keys of LIFE_DETAILS) that `text` mentions."""
    return {concept for _, _, _, concept in _LIFE_TABLE.find(text)}


_LIFE_TABLE = TermTable(
    ((word, concept) for concept, words in LIFE_DETAILS.items() for word in words),
    inflect=False,
)


def life_details_within(prompt: str, given: str, limit: int = 1) -> CheckResult:
    """At most `limit` details of life that the user did not ask for (those in `given`)."""
    added = sorted(life_details(prompt) - life_details(given))
    if len(added) > limit:
        return CheckResult(False, f"{len(added)} added details of life: {', '.join(added)}")
    return PASSED


# --- the negative prompt does not cancel the request ------------------------------------------


def negative_avoids(negative_prompt: str, terms: Iterable[str]) -> CheckResult:
    """The negative prompt contains none of `terms`: words for what the caption asks to see."""
    hits = [t for t in terms if mentions(negative_prompt, t)]
    if hits:
        return CheckResult(False, f"negative prompt forbids what was asked: {', '.join(hits)}")
    return PASSED


# Words that mean the same wish: when a caption asks for one (not negated), a negative prompt
# must contain none of the group. "Twinkling lights" is cancelled by "flicker" in a negative.
CONTRADICTION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("twinkle", "flicker", "blink", "sparkle", "shimmer", "strobe", "flashing",
     "闪烁", "闪闪", "闪光", "频闪", "忽明忽暗", "一闪一闪"),
    ("camera movement", "camera motion", "moving camera", "camera pan", "pan left",
     "pan right", "pan across", "panning", "tilt up", "tilt down", "zoom in", "zoom out",
     "orbit", "dolly", "push in", "pull out", "运镜", "镜头移动", "摇镜", "推近", "拉远",
     "跟拍", "环绕"),
    ("rain", "raindrop", "drizzle", "downpour", "雨"),
    ("snow", "snowflake", "雪"),
    ("smoke", "steam", "mist", "fog", "haze", "incense", "烟", "雾", "蒸汽", "热气", "香火"),
    ("wind", "breeze", "flap", "flutter", "sway", "刮风", "微风", "大风", "风吹", "随风",
     "飘", "摇曳"),
    ("ripple", "wave", "涟漪", "波浪", "波纹"),
    ("fast motion", "speed", "rush", "whizz", "飞驰", "疾驰", "快速"),
    ("crowd", "people", "人群", "人潮", "行人", "路人", "人们"),
    ("night", "dark", "darkness", "underexposed", "夜", "黑暗", "昏暗"),
)  # fmt: skip

# The camera-movement group: a negative prompt that forbids a moving camera fights the
# request's camera move (the LLM's review and the offline restager both drop such terms).
CAMERA_MOVEMENT_TERMS = TermTable(
    (term, term) for term in next(g for g in CONTRADICTION_GROUPS if "camera movement" in g)
)

# A negation shortly before a word ("no people", "不要闪烁") means the caption does not ask
# for it. "不停" and "不断" mean "without stopping", so they are not negations.
_NEGATION = re.compile(
    r"(?:(?<![a-z])(?:no|not|don't|dont|do not|never|without|avoid)(?![a-z])"
    r"|不(?!停|断|时)|没|别|无|勿|禁止)",
    re.IGNORECASE,
)
_NEGATION_REACH = 14  # characters before a word that a negation may govern
_CLAUSE_END = re.compile(r"[,.;:!?，。；：！？\n]")


def _wanted(caption: str, term: str) -> bool:
    for start, _ in find_term(caption, term):
        before = _CLAUSE_END.split(caption[max(0, start - _NEGATION_REACH) : start])[-1]
        if not _NEGATION.search(before):
            return True
    return False


def requested_terms(caption: str) -> tuple[str, ...]:
    """Every word a negative prompt must avoid because the caption asks for its meaning."""
    terms: list[str] = []
    for group in CONTRADICTION_GROUPS:
        if any(_wanted(caption, t) for t in group):
            terms += group
    return tuple(terms)


def respects_negations(prompt: str, forbidden: Iterable[str]) -> CheckResult:
    """What the caption rules out ("no people", "不要下雨") is not asked for by the prompt.

    A negated mention ("an empty lane, no people") is allowed: Kling's guide suggests stating
    exclusions in the prompt itself.
    """
    hits = [t for t in forbidden if _wanted(prompt, t)]
    if hits:
        return CheckResult(False, f"prompt asks for what the caption ruled out: {', '.join(hits)}")
    return PASSED


# --- language of the caption ------------------------------------------------------------------


def detect_language(text: str) -> Language | None:
    """ "zh" or "en" by which script carries more words; None for emoji or digits alone."""
    han = len(_HAN.findall(text))
    words = len(_LATIN_WORD.findall(text))
    if han == 0 and words == 0:
        return None
    return "zh" if han >= _HAN_PER_WORD * words else "en"


def language_matches(prompt: str, expected: str) -> CheckResult:
    """The prompt is written in `expected`, the language the user wrote (or reads) in."""
    found = detect_language(prompt)
    if found != expected:
        return CheckResult(False, f"prompt is {found or 'wordless'}, expected {expected}")
    return PASSED


# --- within the model's limit -------------------------------------------------------------------

# Documented prompt caps per target model, by name prefix, longest prefix first
# (Kling 2500 characters; Vidu 1500 for q1 and 2.0, 2000 for q2, 5000 for q3).
PROMPT_LIMITS: tuple[tuple[str, int], ...] = (
    ("viduq1", 1500),
    ("vidu2.0", 1500),
    ("viduq2", 2000),
    ("viduq3", 5000),
    ("kling", 2500),
)


def prompt_limit(model: str) -> int:
    """The documented prompt length cap of `model`, in characters; KeyError if unknown."""
    for prefix, limit in PROMPT_LIMITS:
        if model.startswith(prefix):
            return limit
    raise KeyError(model)


def within_limit(prompt: str, limit: int) -> CheckResult:
    """The prompt fits the target model's documented cap, so nothing is cut off upstream."""
    if len(prompt) > limit:
        return CheckResult(False, f"{len(prompt)} characters, limit {limit}")
    return PASSED


# --- no instruction echoed ----------------------------------------------------------------------


def _squeeze(text: str) -> str:
    """Case, spacing and punctuation removed, so a copied phrase matches however it is spaced."""
    return re.sub(r"[\W_]+", "", text.casefold())


def _echoes(text: str, phrase: str) -> bool:
    if phrase.isascii():  # whole words, so "DAN" is not found in "dancing"
        words = re.findall(r"[a-z0-9]+", phrase.casefold())
        body = r"[\W_]+".join(map(re.escape, words))
        return bool(words) and bool(
            re.search(r"(?<![a-z0-9])" + body + r"(?![a-z0-9])", text, re.IGNORECASE)
        )
    return bool(_squeeze(phrase)) and _squeeze(phrase) in _squeeze(text)


def no_echo(text: str, phrases: Iterable[str]) -> CheckResult:
    """None of `phrases` (instruction-like caption text) reached the prompt or negative prompt."""
    echoed = [p for p in phrases if _echoes(text, p)]
    if echoed:
        return CheckResult(False, f"echoes the caption's instruction: {', '.join(echoed)}")
    return PASSED


# Captions that talk to the machine rather than describe a scene, up to the clause's end.
_INSTRUCTION = re.compile(
    r"(?:(?<![a-z])(?:ignore|disregard|forget)\s+(?:all\s+|the\s+|any\s+|your\s+)?"
    r"(?:above|previous|prior|earlier|instructions?|rules?)"
    r"|(?<![a-z])(?:make|have|let)\s+(?:the|your)\s+(?:video\s+)?prompt\s+(?:say|read|include|contain)"
    r"|(?<![a-z])(?:system prompt|you are now|pretend (?:to be|you are)|new instructions?)"
    r"|(?<![a-z])(?:print|reveal|repeat|show)\s+(?:your|the)\s+(?:system\s+)?"
    r"(?:prompt|instructions?)"
    r"|(?:忽略|无视|忘记|不要管)(?:掉)?(?:以上|上面|前面|之前|所有|你的)"
    r"|(?:提示词|prompt)(?:里|中|要|必须)?(?:写|改成|加上|包含|说)"
    r"|你现在是|系统提示|假装你是)"
    r"[^.!?。！？\n]*",
    re.IGNORECASE,
)


def instruction_phrases(caption: str) -> list[str]:
    """Parts of a caption that instruct the drafter instead of describing the scene."""
    return [m.group(0).strip() for m in _INSTRUCTION.finditer(caption)]
