"""The offline drafter's words (vocabulary.toml), read once, and how they are found in text.

The words are data so that a new subject, motion or camera cue is a line in a TOML file,
not code. English phrases are matched as whole words with their regular endings (a noun's
plural, a verb's -s and -ing forms; not the past tense, which tells a story rather than
what moves); Chinese words as substrings, except inside the longer words an entry lists
under `zh_not`. A misspelt English word one swapped or missing letter away from a known
word is read as that word ("crusing" → "cruising").
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.toml")

Lang = Literal["en", "zh"]
Table = Literal["subject", "motion", "cue", "direction", "time", "negation", "only"]
ALL_TABLES: tuple[Table, ...] = (
    "subject",
    "motion",
    "cue",
    "direction",
    "time",
    "negation",
    "only",
)
Form = Literal["", "base", "third", "ing", "plural"]
LANGS: tuple[Lang, ...] = ("en", "zh")

_VOWELS = "aeiou"
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?", re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Shorter words are too often another real word a letter away ("rides" is not "brides").
TYPO_MIN_LENGTH = 5  # for two swapped letters ("nigth")
TYPO_MISSING_MIN_LENGTH = 6  # for a missing letter ("crusing")


# --- the entries ------------------------------------------------------------------------------


Texts = dict[str, str]  # language → text


@dataclass(frozen=True, slots=True)
class Kind:
    """What a kind of subject is like on camera."""

    rank: int  # how likely it carries the motion when the caption names none
    camera: str  # a move, "pan" (side from a cue) or "upright" (by the photo's shape)
    rest_camera: str
    travels: bool = False


@dataclass(frozen=True, slots=True)
class Subject:
    """A thing a caption can be about: a ferry, a cat, fog."""

    id: str
    kind: str
    name: Texts  # with its article: written when the user's own word cannot be quoted
    act: Texts  # what it does when the caption names no motion
    still: Texts  # what it does at rest
    part: bool = False  # belongs to someone named before it ("her veil", 手里)
    ambient: bool = False  # weather that moves on its own in the background


@dataclass(frozen=True, slots=True)
class MotionKind:
    weight: float
    camera: str | None = None
    always: bool = False  # the camera suits this motion whatever moves


@dataclass(frozen=True, slots=True)
class Motion:
    """A way of moving: travel, sway, rise…"""

    id: str
    kind: str
    act: Texts | None = None  # how to write it when it has no words of the user's
    after: Texts | None = None  # what goes with it ("sleeping": the body rising and falling)


@dataclass(frozen=True, slots=True)
class Cue:
    """Words in a caption that choose the camera."""

    move: str  # a CAMERA_MOVE, or "pan" (its side from a direction)
    keep: bool  # the words stay in the scene text
    start: bool  # only at the start of a clause


@dataclass(frozen=True, slots=True)
class Direction:
    way: str  # "left", "right" or "toward"


@dataclass(frozen=True, slots=True)
class TimeOfDay:
    """A time of day, written as a change within the shot (a still cannot be relit)."""

    id: str
    change: Texts
    steady: Texts | None = None  # for a dark time when the photo is dark already
    dark: bool = False


@dataclass(frozen=True, slots=True)
class NegativeTerm:
    """One thing the video must avoid, and the wishes it would cancel."""

    en: str
    zh: str
    avoid_if: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Detail:
    """One small detail of everyday life and the places it suits."""

    concept: str
    places: tuple[str, ...]
    text: Texts


@dataclass(frozen=True, slots=True)
class Marker:
    """A word that is a negation or a limit ("only")."""

    word: str


Entry = Subject | Motion | Cue | Direction | TimeOfDay | Marker


@dataclass(frozen=True, slots=True)
class Term:
    """What one phrase names: its table, its entry and the form it was written in."""

    table: Table
    entry: Entry
    form: Form = ""
    lemma: str = ""  # a verb's base form, first word (English)
    rest: str = ""  # the words after the verb ("off" in "take off")

    @property
    def plural(self) -> bool:
        return self.form == "plural"


@dataclass(frozen=True, slots=True)
class Hit:
    """A term found in a text: where, and the words as the user wrote them."""

    start: int
    end: int
    term: Term
    text: str
    corrected: str | None = None  # the known word a misspelling was read as

    @property
    def table(self) -> Table:
        return self.term.table

    @property
    def entry(self) -> Entry:
        return self.term.entry


# --- English word forms -------------------------------------------------------------------


def third_person(verb: str) -> str:
    """ "glide" → "glides", "fly" → "flies", "pass" → "passes"."""
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(verb) > 1 and verb.endswith("y") and verb[-2] not in _VOWELS:
        return verb[:-1] + "ies"
    return verb + "s"


def _doubles(verb: str) -> bool:
    """Short verbs ending consonant-vowel-consonant double it: run → running, flap → flapping."""
    return (
        len(verb) in (3, 4)
        and verb[-1] not in _VOWELS + "wxy"
        and verb[-2] in _VOWELS
        and verb[-3] not in _VOWELS
    )


def present_participle(verb: str) -> str:
    """ "glide" → "gliding", "run" → "running", "lie" → "lying"."""
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")) and len(verb) > 2:
        return verb[:-1] + "ing"
    if _doubles(verb):
        return verb + verb[-1] + "ing"
    return verb + "ing"


def plural_forms(noun: str) -> list[str]:
    """Regular plurals: "boat" → "boats", "bus" → "buses", "ferry" → "ferries"."""
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return [noun + "es"]
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in _VOWELS:
        return [noun[:-1] + "ies"]
    return [noun + "s"]


def _noun_forms(spec: str) -> list[tuple[str, Form]]:
    """ "leaf/leaves" or "boat": the phrase and its plural, each with its form."""
    singular, _, plural = spec.partition("/")
    if plural:
        plurals = [plural]
    else:
        head, _, last = singular.rpartition(" ")
        plurals = [(head + " " if head else "") + p for p in plural_forms(last)]
    forms: list[tuple[str, Form]] = [(singular, "")]
    return forms + [(p, "plural") for p in plurals if p != singular]


def _verb_forms(spec: str) -> list[tuple[str, Form, str, str]]:
    """ "take off" or "lie/lies/lying": (phrase, form, lemma, rest) for base, -s and -ing."""
    parts = spec.split("/")
    lemma, _, rest = parts[0].partition(" ")
    third = parts[1] if len(parts) > 1 else third_person(lemma)
    ing = parts[2] if len(parts) > 2 else present_participle(lemma)
    tail = " " + rest if rest else ""
    return [
        (lemma + tail, "base", lemma, rest),
        (third + tail, "third", lemma, rest),
        (ing + tail, "ing", lemma, rest),
    ]


def tokens(text: str) -> list[tuple[int, int, str]]:
    """English words (and numbers) with their spans, lower-cased, ’ read as '."""
    return [
        (m.start(), m.end(), m.group().lower().replace("’", "'")) for m in _TOKEN.finditer(text)
    ]


def _typo_candidates(word: str) -> Iterable[str]:
    """Words one swapped pair or one missing letter away from `word`; "ferrys" → "ferries"."""
    if word.endswith("ys") and len(word) > 3 and word[-3] not in _VOWELS:
        yield word[:-2] + "ies"
    for i in range(len(word) - 1):
        if word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if len(word) >= TYPO_MISSING_MIN_LENGTH:
        for i in range(len(word) + 1):
            for letter in "abcdefghijklmnopqrstuvwxyz":
                yield word[:i] + letter + word[i:]


# --- finding terms --------------------------------------------------------------------------


@dataclass(slots=True)
class _Index:
    """Phrases of some tables, ready to be found: English by first word, Chinese by length."""

    en: dict[str, list[tuple[tuple[str, ...], Term]]] = field(default_factory=dict)
    zh: list[tuple[str, Term, tuple[str, ...]]] = field(default_factory=list)
    single: dict[str, Term] = field(default_factory=dict)  # one-word forms, for typos
    words: set[str] = field(default_factory=set)  # every word of every phrase

    def add_en(self, phrase: str, term: Term) -> None:
        words = tuple(t for _, _, t in tokens(phrase))
        if not words:
            return
        self.words.update(words)
        entries = self.en.setdefault(words[0], [])
        if all(existing != words for existing, _ in entries):
            entries.append((words, term))
        if len(words) == 1 and len(words[0]) >= TYPO_MIN_LENGTH:
            self.single.setdefault(words[0], term)

    def add_zh(self, word: str, term: Term, exceptions: tuple[str, ...]) -> None:
        self.zh.append((word, term, exceptions))

    def finish(self) -> None:
        self.zh.sort(key=lambda item: -len(item[0]))
        for entries in self.en.values():
            entries.sort(key=lambda item: -len(item[0]))


def _claim(hits: list[Hit]) -> list[Hit]:
    """Longest first, then earliest: no two hits share a character."""
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _excepted(text: str, start: int, end: int, exceptions: tuple[str, ...]) -> bool:
    """Whether text[start:end] lies inside one of the longer words that mean something else."""
    for word in exceptions:
        from_ = max(0, start - len(word))
        at = text.find(word, from_)
        while 0 <= at <= start:
            if at + len(word) >= end:
                return True
            at = text.find(word, at + 1)
    return False


# --- the vocabulary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Everything in vocabulary.toml, typed, with an index per group of tables."""

    raw: dict[str, Any]
    kinds: dict[str, Kind]
    motion_kinds: dict[str, MotionKind]
    subjects: dict[str, Subject]
    motions: dict[str, Motion]
    times: dict[str, TimeOfDay]
    negatives: tuple[NegativeTerm, ...]
    details: tuple[Detail, ...]
    emoji: dict[str, str]
    _indexes: dict[tuple[Table, ...], _Index] = field(default_factory=dict)
    _terms: dict[Table, list[tuple[Lang, str, Term, tuple[str, ...]]]] = field(
        default_factory=dict
    )

    # --- sections as plain values ---------------------------------------------------------

    def text(self, *path: str) -> Any:
        """A value by its path in the file: text("style", "label", "en")."""
        value: Any = self.raw
        for key in path:
            value = value[key]
        return value

    def patterns(self, *path: str) -> tuple[re.Pattern[str], ...]:
        """A list of regular expressions in the file, compiled case-insensitively."""
        return _compiled(self, path)

    def kind_of(self, subject: Subject) -> Kind:
        return self.kinds[subject.kind]

    def weight(self, motion: Motion) -> float:
        return self.motion_kinds[motion.kind].weight

    # --- finding ----------------------------------------------------------------------------

    def find(self, text: str, tables: Sequence[Table], *, typos: bool = False) -> list[Hit]:
        """Every term of `tables` in `text` (English and Chinese), none overlapping."""
        index = self._index(tuple(tables))
        hits: list[Hit] = []
        words = tokens(text)
        matched_at: set[int] = set()
        for i, (start, _, word) in enumerate(words):
            for phrase, term in index.en.get(word, ()):
                if tuple(w for _, _, w in words[i : i + len(phrase)]) == phrase:
                    end = words[i + len(phrase) - 1][1]
                    hits.append(Hit(start, end, term, text[start:end]))
                    matched_at.add(i)
        if typos:
            known = self._index(ALL_TABLES)
            for i, (start, end, word) in enumerate(words):
                if i in matched_at or len(word) < TYPO_MIN_LENGTH or not word.isalpha():
                    continue
                if word in known.words:  # a word the vocabulary knows is no misspelling
                    continue
                for candidate in _typo_candidates(word):
                    if (known_term := index.single.get(candidate)) is not None:
                        hits.append(Hit(start, end, known_term, text[start:end], candidate))
                        break
        if _HAN.search(text):
            for word, term, exceptions in index.zh:
                at = text.find(word)
                while at >= 0:
                    end = at + len(word)
                    if not _excepted(text, at, end, exceptions):
                        hits.append(Hit(at, end, term, word))
                    at = text.find(word, at + 1)
        return _claim(hits)

    def _index(self, tables: tuple[Table, ...]) -> _Index:
        if (index := self._indexes.get(tables)) is None:
            index = _Index()
            for table in tables:
                for lang, phrase, term, exceptions in self._terms.get(table, ()):
                    if lang == "en":
                        index.add_en(phrase, term)
                    else:
                        index.add_zh(phrase, term, exceptions)
            index.finish()
            self._indexes[tables] = index
        return index


@cache
def _compiled_cache(key: tuple[str, ...], values: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(v, re.IGNORECASE) for v in values)


def _compiled(vocabulary: Vocabulary, path: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return _compiled_cache(path, tuple(vocabulary.text(*path)))


def _texts(raw: Any) -> Texts:
    return {"en": str(raw["en"]), "zh": str(raw["zh"])}


def _strings(raw: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in raw or ())


def _build(raw: dict[str, Any]) -> Vocabulary:
    terms: dict[Table, list[tuple[Lang, str, Term, tuple[str, ...]]]] = {}

    def add(table: Table, lang: Lang, phrase: str, term: Term, exceptions: Sequence[str]) -> None:
        terms.setdefault(table, []).append((lang, phrase, term, tuple(exceptions)))

    kinds = {name: Kind(**spec) for name, spec in raw["kinds"].items()}
    subjects: dict[str, Subject] = {}
    for spec in raw["subject"]:
        act = _texts(spec["act"])
        subject = Subject(
            id=spec["id"],
            kind=spec["kind"],
            name=_texts(spec["name"]),
            act=act,
            still=_texts(spec["still"]) if "still" in spec else act,
            part=bool(spec.get("part", False)),
            ambient=bool(spec.get("ambient", False)),
        )
        if subject.kind not in kinds:
            raise ValueError(f"subject {subject.id}: unknown kind {subject.kind}")
        subjects[subject.id] = subject
        for noun in spec["en"]:
            for phrase, form in _noun_forms(noun):
                add("subject", "en", phrase, Term("subject", subject, form), ())
        for word in spec["zh"]:
            add("subject", "zh", word, Term("subject", subject), spec.get("zh_not", ()))

    motion_kinds = {name: MotionKind(**spec) for name, spec in raw["motion_kinds"].items()}
    motions: dict[str, Motion] = {}
    for spec in raw["motion"]:
        motion = Motion(
            spec["id"],
            spec["kind"],
            _texts(spec["act"]) if "act" in spec else None,
            _texts(spec["after"]) if "after" in spec else None,
        )
        if motion.kind not in motion_kinds:
            raise ValueError(f"motion {motion.id}: unknown kind {motion.kind}")
        motions[motion.id] = motion
        for verb in spec["en"]:
            for phrase, form, lemma, rest in _verb_forms(verb):
                add("motion", "en", phrase, Term("motion", motion, form, lemma, rest), ())
        for word in spec["zh"]:
            add("motion", "zh", word, Term("motion", motion), spec.get("zh_not", ()))

    for spec in raw["cue"]:
        cue = Cue(spec["move"], bool(spec.get("keep", False)), bool(spec.get("start", False)))
        for lang in LANGS:
            for phrase in spec.get(lang, ()):
                add("cue", lang, phrase, Term("cue", cue), ())
    for spec in raw["direction"]:
        direction = Direction(spec["way"])
        for lang in LANGS:
            for phrase in spec.get(lang, ()):
                add("direction", lang, phrase, Term("direction", direction), ())

    times: dict[str, TimeOfDay] = {}
    for spec in raw["time"]:
        time = TimeOfDay(
            spec["id"],
            _texts(spec["change"]),
            _texts(spec["steady"]) if "steady" in spec else None,
            bool(spec.get("dark", False)),
        )
        times[time.id] = time
        for lang in LANGS:
            for phrase in spec.get(lang, ()):
                add("time", lang, phrase, Term("time", time), spec.get("zh_not", ()))

    negation = raw["negation"]
    for lang in LANGS:
        for word in negation[lang]:
            add("negation", lang, word, Term("negation", Marker(word)), negation["zh_not"])
        for word in negation["only"][lang]:
            add("only", lang, word, Term("only", Marker(word)), ())

    negatives = tuple(
        NegativeTerm(spec["en"], spec["zh"], _strings(spec["avoid_if"]))
        for spec in raw["negative"]
    )
    details = tuple(
        Detail(spec["concept"], _strings(spec["places"]), _texts(spec)) for spec in raw["detail"]
    )
    emoji: dict[str, str] = dict(raw["emoji"])
    known = set(subjects) | set(motions) | set(times)
    if unknown := set(emoji.values()) - known:
        raise ValueError(f"emoji name unknown ids: {sorted(unknown)}")
    return Vocabulary(
        raw=raw,
        kinds=kinds,
        motion_kinds=motion_kinds,
        subjects=subjects,
        motions=motions,
        times=times,
        negatives=negatives,
        details=details,
        emoji=emoji,
        _terms=terms,
    )


@cache
def vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    """The vocabulary, read and checked once per process."""
    with path.open("rb") as f:
        return _build(tomllib.load(f))


def load_vocabulary(text: str) -> Vocabulary:
    """A vocabulary from TOML text (for tests of the file's format)."""
    return _build(tomllib.loads(text))
