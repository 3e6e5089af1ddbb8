"""Reading a caption as an animator would: what moves, what the camera should do, what not.

A caption is split into sentences and clauses. Text that instructs the drafter ("ignore the
above…") or talks to the bot ("can u animate this pls", "帮我做成动画") is taken out before
anything else, so it can never reach a prompt. Each remaining clause is searched for the
vocabulary's subjects, motions, camera cues, directions and times of day, and for what a
negation rules out ("no people", "不要下雨"). The drafter then picks the hero clause from
these readings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.providers.offline.vocabulary import (
    Cue,
    Direction,
    Hit,
    Motion,
    Subject,
    TimeOfDay,
    Vocabulary,
    present_participle,
    tokens,
)

SCAN_LIMIT = 4000  # characters read: enough for any caption, no work on pasted novels

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# A sentence ends at these, or at a full stop before a space ("2.5" and "v2.1" go on).
_SENTENCE = re.compile(r"[。！？!?；;\n]+|\.(?=\s|$)|…+")
_CLAUSE = re.compile(r"[，,、：:]+|\s[-–—]+\s|[—–]+")
# Between a Chinese and an English run: in a Chinese draft, two clauses.
_SCRIPT_GAP = re.compile(
    r"(?<=[\u3400-\u9fff])\s+(?=[A-Za-z])|(?<=[A-Za-z.!?])\s+(?=[\u3400-\u9fff])"
)
_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9'’\-]*(?:\s+[A-Za-z0-9][A-Za-z0-9'’\-]*)*")
_EDGES = " \t\"'“”‘’«»()（）[]【】.,;:!?。，；：！？、~…-—–*#"
_MODALS = ("should", "would", "could", "can", "will", "must", "might", "to")
_WISH = re.compile(r"love|like|want|wish|hope|make|let|have|get|想|希望|最好|让", re.IGNORECASE)
# Words that lean on a camera order ("just slowly pan across"): they leave with it.
_LEADING_ADVERBS = re.compile(
    r"(?:\b(?:slowly|gently|smoothly|just|then|and|please|camera)\s*|慢慢|缓缓|镜头)+$", re.I
)
_TRAILING_OF = re.compile(r"\s+of\b|的(?=\S)", re.IGNORECASE)  # "close-up of my dog"
_CAMERA_WORD = re.compile(r"\bcamera\b|镜头|机位", re.IGNORECASE)
_POSSESSIVE_START = re.compile(r"^(?:her|his|its|their)\b", re.IGNORECASE)


def clean_text(text: str) -> str:
    """One line, single spaces: descriptions arrive with newlines, tabs and odd spacing."""
    return " ".join(text.split())


def is_chinese(text: str) -> bool:
    """More Chinese than English in `text` (30 % of the letters are Chinese characters)."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    return han > 0 and han / (han + latin) >= 0.3


# --- what a reading holds -----------------------------------------------------------------


@dataclass(slots=True)
class Clause:
    """One clause of the caption as it will be quoted, and what was found in it."""

    text: str
    sentence: int
    subjects: list[Hit] = field(default_factory=list)
    motions: list[Hit] = field(default_factory=list)
    wish: bool = False  # "I'd love the washing to move": the user's main wish
    narrative: bool = False  # the story of the day, not what the photo shows
    photo_frame: bool = False  # "the photo is …": what the photo shows, said outright
    ruled_out: bool = False  # the clause only says what must not be there
    denies_motion: bool = False  # "the flag is not moving": no words for the prompt
    first_person: bool = False
    times: list[TimeOfDay] = field(default_factory=list)

    @property
    def quotable(self) -> bool:
        """Whether the clause may appear in a prompt."""
        return bool(self.text) and not self.ruled_out

    def best_motion(self, vocabulary: Vocabulary) -> Hit | None:
        """The heaviest motion in the clause (earliest on a tie)."""
        best: Hit | None = None
        for hit in self.motions:
            assert isinstance(hit.entry, Motion)
            if best is None or vocabulary.weight(hit.entry) > vocabulary.weight(_motion(best)):
                best = hit
        return best


@dataclass(slots=True)
class Reading:
    """What a caption says, as the drafter needs it."""

    caption: str  # the caption with instructions and chatter taken out
    clauses: list[Clause]
    chinese_text: bool  # the caption's words are mostly Chinese
    camera: str | None = None  # a cue's move ("pan": the side from `direction`)
    camera_rejected: set[str] = field(default_factory=set)  # moves the caption rules out
    direction: str | None = None  # "left", "right" or "toward"
    times: list[TimeOfDay] = field(default_factory=list)
    only: bool = False  # "only the lights", "只有阳光": add nothing to the scene
    ruled_out: list[str] = field(default_factory=list)  # the user's words for what must not be
    ruled_out_actions: list[str] = field(default_factory=list)  # and for what must not happen
    ruled_out_ids: set[str] = field(default_factory=set)  # subject and motion ids ruled out
    emoji: list[str] = field(default_factory=list)  # vocabulary ids the emoji stand for
    removed: list[str] = field(default_factory=list)  # instruction text taken out


def _motion(hit: Hit) -> Motion:
    assert isinstance(hit.entry, Motion)
    return hit.entry


# --- taking out what is not about the scene ------------------------------------------------


def drop_instructions(text: str, vocabulary: Vocabulary, removed: list[str]) -> str:
    """Cut every instruction to the drafter: to the caption's end, or to its sentence's end."""
    for pattern in vocabulary.patterns("instructions", "to_end"):
        if m := pattern.search(text):
            removed.append(text[m.start() :].strip())
            text = text[: m.start()]
    out: list[str] = []
    position = 0
    for end_mark in [*_SENTENCE.finditer(text), None]:
        end = end_mark.start() if end_mark else len(text)
        sentence = text[position:end]
        for pattern in vocabulary.patterns("instructions", "to_sentence_end"):
            if m := pattern.search(sentence):
                removed.append(sentence[m.start() :].strip())
                sentence = sentence[: m.start()]
        out.append(sentence)
        if end_mark:
            out.append(end_mark.group())
            position = end_mark.end()
    return "".join(out)


def _strip_emoji(text: str, vocabulary: Vocabulary) -> tuple[str, list[str]]:
    """The text without pictographs, and the vocabulary ids of those it knows, in order."""
    ids: list[str] = []
    kept: list[str] = []
    for char in text:
        if char in vocabulary.emoji:
            ids.append(vocabulary.emoji[char])
            kept.append(" ")
        elif unicodedata.category(char) in ("So", "Sk", "Cf", "Co", "Cs") or char == "\ufe0f":
            kept.append(" ")
        else:
            kept.append(char)
    return "".join(kept), ids


@dataclass(frozen=True, slots=True)
class _Framed:
    text: str
    wish: bool  # "I'd love …", "想要…的效果"
    photo_frame: bool  # "the photo is …"
    made: bool  # "make the plants sway": the verb after the thing is the wish


def _join_han(text: str) -> str:
    """Spaces left between Chinese characters by removed words go."""
    return re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", clean_text(text))


def _strip_frames(text: str, vocabulary: Vocabulary) -> _Framed:
    """Remove chatter words and the frames around a wish, noting what they were."""
    wish = frame = made = False
    for pattern in vocabulary.patterns("chatter", "words"):
        text = _join_han(pattern.sub(" ", text)).strip(_EDGES)
    for _ in range(4):  # frames can nest: "and maybe I'd love …"
        before = text
        for pattern in vocabulary.patterns("chatter", "openers"):
            if m := pattern.search(text):
                wish = wish or bool(_WISH.search(m.group()))
                frame = frame or bool(re.search(r"photo|picture|照片|图里|这张", m.group()))
                made = made or bool(re.search(r"\b(?:make|let|have|get)\s*$", m.group(), re.I))
                text = text[m.end() :].strip(_EDGES)
        for pattern in vocabulary.patterns("chatter", "suffixes"):
            if m := pattern.search(text):
                wish = wish or "效果" in m.group() or "动" in m.group()
                text = text[: m.start()].strip(_EDGES)
        if text == before:
            break
    return _Framed(_join_han(text), wish, frame, made)


def _rewrite(text: str, vocabulary: Vocabulary) -> str:
    """The prompt speaks about the camera, not to the user: "towards me" → "towards the camera"."""
    for lang in ("en", "zh"):
        for pattern, replacement in vocabulary.text("rewrite", lang):
            text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    kinds = set(vocabulary.text("rewrite", "article_kinds"))
    for hit in reversed(vocabulary.find(text, ("subject",))):
        assert isinstance(hit.entry, Subject)
        before = text[: hit.start]
        after = text[hit.end :]
        if (
            hit.entry.kind in kinds
            and re.search(r"\b(?:my|our)\s+$", before, re.IGNORECASE)
            and not re.match(r"['’]s\b", after)
        ):
            m = re.search(r"\b(?:my|our)\s+$", before, re.IGNORECASE)
            assert m is not None
            text = before[: m.start()] + "the " + text[hit.start :]
    return text


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip(_EDGES)]


def _clauses(sentence: str, vocabulary: Vocabulary, chinese: bool) -> list[str]:
    """A sentence's clauses: at commas and colons, and at "and the …" between two clauses."""
    parts = _CLAUSE.split(sentence)
    if chinese:
        parts = [p for part in parts for p in _SCRIPT_GAP.split(part)]
    joins = "|".join(map(re.escape, vocabulary.text("chatter", "join_words")))
    followers = "|".join(map(re.escape, vocabulary.text("chatter", "followers")))
    joined = re.compile(rf"\s+(?:{joins})\s+(?=(?:{followers})\b)", re.IGNORECASE)
    return [c.strip(_EDGES) for part in parts for c in joined.split(part) if c.strip(_EDGES)]


# --- negations, cues and the words around them --------------------------------------------


def _negated_spans(text: str, vocabulary: Vocabulary) -> list[tuple[int, int]]:
    """Where each negation in a clause reaches: its own words and a few after them."""
    reach = vocabulary.text("negation", "reach")
    ends = vocabulary.text("negation", "ends")
    spans = []
    for hit in vocabulary.find(text, ("negation",)):
        if _HAN.match(hit.text):
            stop = min(len(text), hit.end + reach["zh"])
            for word in ends["zh"]:
                if (at := text.find(word, hit.end, stop)) >= 0:
                    stop = at
        else:
            stop = hit.end
            count = 0
            for _, end, word in tokens(text[hit.end :]):
                if word in ends["en"] or count >= reach["en"]:
                    break
                stop, count = hit.end + end, count + 1
        spans.append((hit.start, stop))
    return spans


def _inside(hit: Hit, spans: list[tuple[int, int]]) -> bool:
    """Whether a negation before `hit` reaches over it ("no people"; not "镜头别动" itself)."""
    return any(start < hit.start and hit.end <= stop for start, stop in spans)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


_STOPWORDS = frozenset(
    "the a an any some too so very want it be to have more much please i you my your this "
    "that there is are of in on at with for more less".split()
)


def _raw_ruled_out(text: str, span: tuple[int, int], found: list[Hit]) -> list[str]:
    """Words a negation rules out that the vocabulary does not know ("no cranes")."""
    if any(span[0] <= h.start and h.end <= span[1] for h in found):
        return []
    words = [w for _, _, w in tokens(text[span[0] : span[1]])[1:] if w not in _STOPWORDS]
    return words[:1] if words and not _HAN.search(text[span[0] : span[1]]) else []


# --- reading a caption ------------------------------------------------------------------------


def _convert_verbs(text: str, vocabulary: Vocabulary, after_make: bool) -> str:
    """ "the washing to move" → "the washing moving"; "should move" → "moving".

    After `make`/`let` ("make the plants sway") the first verb is the wish; after one
    conversion, "and flicker" follows it ("twinkling and flickering").
    """
    triggers = list(_MODALS)
    for _ in range(4):
        changed = False
        for hit in vocabulary.find(text, ("motion",)):
            if hit.term.form != "base" or not hit.term.lemma:
                continue
            before = text[: hit.start]
            m = re.search(r"\b(?:" + "|".join(triggers) + r")\s+(?:be\s+)?$", before, re.I)
            if m or after_make:
                ing = present_participle(hit.term.lemma)
                rest = text[hit.start + len(hit.term.lemma) : hit.end]
                start = m.start() if m and m.group().split()[0].lower() in _MODALS else hit.start
                text = text[:start] + ing + rest + text[hit.end :]
                after_make, changed = False, True
                triggers = [*_MODALS, "and", "or"]
                break
        if not changed:
            break
    return text


def _correct_typos(text: str, vocabulary: Vocabulary) -> str:
    """Known words for misspelt ones, so the prompt carries no typos."""
    for table in (("subject",), ("motion",), ("time",)):
        for hit in reversed(vocabulary.find(text, table, typos=True)):
            if hit.corrected:
                word = hit.corrected
                if hit.text[:1].isupper():
                    word = word[:1].upper() + word[1:]
                text = text[: hit.start] + word + text[hit.end :]
    return text


def read_caption(
    description: str, vocabulary: Vocabulary, *, extra_ruled_out: tuple[str, ...] = ()
) -> Reading:
    """Read a caption into clauses with their subjects and motions, cues and negations.

    A mostly Chinese caption is quoted without its English words ("so crowded"), which
    the vocabulary reads all the same. `extra_ruled_out` adds what replies took away.
    """
    removed: list[str] = []
    text = clean_text(description)[:SCAN_LIMIT]
    text, emoji = _strip_emoji(text, vocabulary)
    text = drop_instructions(text, vocabulary, removed)
    for phrase in extra_ruled_out:
        text += ("。不要" if _HAN.search(phrase) else ". No ") + phrase
    words = clean_text(text)
    chinese_text = is_chinese(words) if (_HAN.search(words) or _LATIN.search(words)) else False
    quote_chinese = chinese_text
    reading = Reading(caption="", clauses=[], chinese_text=chinese_text, emoji=emoji)
    reading.removed = removed

    kept_text: list[str] = []
    first_person = vocabulary.patterns("chatter", "first_person")
    for number, sentence in enumerate(_sentences(text)):
        sentence_is_personal = any(p.search(sentence) for p in first_person)
        for raw in _clauses(sentence, vocabulary, quote_chinese):
            if any(p.search(raw) for p in vocabulary.patterns("instructions", "clause")):
                removed.append(raw)
                continue
            if any(p.search(raw) for p in vocabulary.patterns("chatter", "clause")):
                continue
            clause = _read_clause(raw, number, vocabulary, reading)
            if clause is None:
                continue
            clause.first_person = sentence_is_personal
            clause.narrative = any(
                p.search(raw) for p in vocabulary.patterns("chatter", "narrative")
            )
            if quote_chinese:
                clause.text = clean_text(_LATIN_RUN.sub(" ", clause.text)).strip(_EDGES)
                if clause.text and not _HAN.search(clause.text):
                    clause.text = ""
            if clause.text or clause.ruled_out:
                reading.clauses.append(clause)
                kept_text.append(clause.text)
    reading.caption = " ".join(t for t in kept_text if t)
    for emoji_id in emoji:
        if (time := vocabulary.times.get(emoji_id)) is not None and time not in reading.times:
            reading.times.append(time)
    return reading


def _read_clause(
    raw: str, sentence: int, vocabulary: Vocabulary, reading: Reading
) -> Clause | None:
    """One clause: its cues and negations noted in `reading`, its words ready to quote."""
    if vocabulary.find(raw, ("only",)):
        reading.only = True
    framed = _strip_frames(raw, vocabulary)
    text = framed.text
    if not text:
        return None
    text = _rewrite(_correct_typos(text, vocabulary), vocabulary)
    negations = _negated_spans(text, vocabulary)

    # Camera cues, directions and times: noted, and orders to the camera taken out.
    drop: list[tuple[int, int]] = []
    fixed = vocabulary.find(text, ("cue", "direction", "time"))
    times: list[TimeOfDay] = []
    for hit in fixed:
        negated = _inside(hit, negations)
        if isinstance(hit.entry, Cue):
            cue = hit.entry
            if cue.start and text[: hit.start].strip(_EDGES):
                continue  # "dancing along to the music" is no order to follow
            if negated:
                reading.camera_rejected.add(cue.move)
            elif reading.camera is None:
                reading.camera = cue.move
            # A view ("looking up") stays in the text unless the clause orders the camera.
            if not cue.keep or _CAMERA_WORD.search(text):
                lead = _LEADING_ADVERBS.search(text[: hit.start])
                tail = _TRAILING_OF.match(text, hit.end)
                drop.append((lead.start() if lead else hit.start, tail.end() if tail else hit.end))
        elif isinstance(hit.entry, Direction):
            reading.direction = reading.direction or hit.entry.way
        elif isinstance(hit.entry, TimeOfDay) and not negated:
            times.append(hit.entry)
    if drop:  # "pan across … from left to right": the side belongs to the pan
        drop += [(h.start, h.end) for h in fixed if isinstance(h.entry, Direction)]
    for time in times:
        if time not in reading.times:
            reading.times.append(time)

    # What the negations rule out: things for the prompt to exclude, actions to avoid.
    blanked = _blank(text, drop)
    found: list[Hit] = []
    denies_motion = False
    for table in ("subject", "motion"):
        for hit in vocabulary.find(blanked, (table,)):
            if not _inside(hit, negations):
                continue
            found.append(hit)
            entry = hit.entry
            assert isinstance(entry, Subject | Motion)
            if isinstance(entry, Motion):
                denies_motion = True
                if entry.kind in ("move", "generic"):
                    continue  # "not moving" says how the photo is, not what to avoid
            reading.ruled_out_ids.add(entry.id)
            words = reading.ruled_out if table == "subject" else reading.ruled_out_actions
            if hit.text not in words:
                words.append(hit.text)
    for span in negations:
        if any(start < span[1] and span[0] < end for start, end in drop):
            continue  # "don't zoom in": a camera the caption turned down, not a thing
        for word in _raw_ruled_out(blanked, span, found):
            if word not in reading.ruled_out:
                reading.ruled_out.append(word)

    # The rest of the clause; one that only says what must not be is marked so.
    rest = re.sub(r"\s+([,.;:!?，。])", r"\1", clean_text(blanked)).strip(_EDGES)
    leftover = clean_text(_blank(text, drop + negations))
    meaningful = re.sub(r"[\W_]+|\b(?:please|the|a|an|just|only)\b|[的了有]", "", leftover)
    clause = Clause(text=rest, sentence=sentence, wish=framed.wish, photo_frame=framed.photo_frame)
    clause.times = times
    clause.denies_motion = denies_motion
    if negations and len(meaningful) < 2:
        clause.ruled_out = True
        return clause
    # A clause that is only a view ("全景") or a side ("从左到右") has said its part.
    views = [(h.start, h.end) for h in fixed if not isinstance(h.entry, TimeOfDay)]
    if len(re.sub(r"[\W_]+", "", clean_text(_blank(blanked, views)))) < 2:
        return None
    clause.text = _convert_verbs(rest, vocabulary, framed.made)
    negations = _negated_spans(clause.text, vocabulary)
    # Times and cues keep their words ("going golden" is no journey).
    words_only = _blank(
        clause.text,
        [(h.start, h.end) for h in vocabulary.find(clause.text, ("cue", "direction", "time"))],
    )
    clause.subjects = [
        h for h in vocabulary.find(words_only, ("subject",)) if not _inside(h, negations)
    ]
    clause.motions = [
        h for h in vocabulary.find(words_only, ("motion",)) if not _inside(h, negations)
    ]
    return clause


def starts_with_possessive(text: str) -> bool:
    """ "her veil blowing": the clause needs the one it belongs to."""
    return bool(_POSSESSIVE_START.match(text))
