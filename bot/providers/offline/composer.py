"""Turning a read caption into the parts of a clay prompt: hero first, then the rest.

The hero is the clause whose motion carries the shot (a wish like "I'd love the washing to
move" wins, then the heaviest motion, then the earliest), quoted in the user's words with
whatever it leans on ("her veil blowing" needs the couple before it). A caption that names
no motion gets its most lively subject's own movement ("the fog rolling slowly"). The
camera comes from the user's setting, else the caption's cues, else what moves. Nothing the
caption rules out is added, and the negative prompt drops every term that would cancel a
motion or light the prompt asks for.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import script_checks as sc
from bot.domain.types import CAMERA_MOVES, PhotoFacts
from bot.providers.offline.caption import Clause, Reading, starts_with_possessive
from bot.providers.offline.vocabulary import (
    Hit,
    Motion,
    Subject,
    TimeOfDay,
    Vocabulary,
    tokens,
)

FALLBACK_CAMERA = "push_in"  # nothing to go on: a slow push-in suits any still
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)
_PRONOUN = re.compile(r"\{([^|{}]+)\|([^|{}]+)\}")
_LEAD_ARTICLE = re.compile(r"^(?:The|A|An|My|Our|This|These|Some|Two|Three) ")


def _subject(hit: Hit) -> Subject:
    assert isinstance(hit.entry, Subject)
    return hit.entry


def _motion(hit: Hit) -> Motion:
    assert isinstance(hit.entry, Motion)
    return hit.entry


def subject_of(hit: Hit | None) -> Subject | None:
    """The vocabulary subject a hit found, if any."""
    return _subject(hit) if hit is not None else None


def motion_of(hit: Hit | None) -> Motion | None:
    """The vocabulary motion a hit found, if any."""
    return _motion(hit) if hit is not None else None


def numbered(text: str, plural: bool) -> str:
    """ "flicking {its|their} tail" for one cat or for several."""
    return _PRONOUN.sub(lambda m: m.group(2 if plural else 1), text)


def han_length(text: str) -> int:
    return len(_HAN.findall(text))


def word_count(text: str) -> int:
    return len(tokens(text)) + han_length(text) * 2 // 3


# --- the hero ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hero:
    """The clause that leads the prompt, its motion and the subject doing it."""

    clause: int | None  # index in Reading.clauses; None: written from the vocabulary alone
    motion: Hit | None
    subject: Hit | None


_POSSESSOR = re.compile(r"['’]s\b|的")  # "my son's tram", "外滩的旗子": the tram, the flag
_VIEWPOINT = re.compile(r"(?:\bfrom(?:\s+(?:the|a|an|my|our))?|从)$", re.IGNORECASE)


def actors(clause: Clause, vocabulary: Vocabulary) -> list[Hit]:
    """The clause's subjects that can do something: not the place, not where one looks from.

    "女儿在公园里吹泡泡": the daughter blows, not the park; "the skyline from the ferry":
    the ferry is where the photo was taken.
    """
    found = []
    for hit in clause.subjects:
        if vocabulary.kind_of(_subject(hit)) is vocabulary.kinds["place"]:
            continue
        if _VIEWPOINT.search(clause.text[: hit.start].rstrip()):
            continue
        if _POSSESSOR.match(clause.text, hit.end):  # "my son's tram": the tram
            continue
        found.append(hit)
    return found


def _subject_for(clause: Clause, motion: Hit, vocabulary: Vocabulary) -> Hit | None:
    """The actor nearest before the motion ("老师傅踩缝纫机"), else the first after it."""
    candidates = actors(clause, vocabulary) or clause.subjects
    before = [s for s in candidates if s.end <= motion.start]
    if before:
        return before[-1]
    return candidates[0] if candidates else None


def choose_hero(reading: Reading, vocabulary: Vocabulary) -> Hero:
    """The clause to lead with: a wish, else the weightiest motion, else the liveliest thing.

    A thing at rest ("the tower sticking out") leads only when nothing lively is named:
    fog rolling round it is the better shot.
    """
    ruled_out = reading.ruled_out_ids
    usable = [
        i
        for i, c in enumerate(reading.clauses)
        if c.quotable
        and (not c.narrative or c.wish)
        and not any(_subject(s).id in ruled_out for s in c.subjects)  # "boats…", "no boats"
    ]
    if not usable:
        usable = [
            i
            for i, c in enumerate(reading.clauses)
            if c.quotable and not any(_subject(s).id in ruled_out for s in c.subjects)
        ]
    best: tuple[float, int, Hit] | None = None
    for i in usable:
        clause = reading.clauses[i]
        motions = [m for m in clause.motions if _motion(m).id not in ruled_out]
        if not motions:
            continue
        motion = max(motions, key=lambda m: (vocabulary.weight(_motion(m)), -m.start))
        score = vocabulary.weight(_motion(motion)) + 3 * clause.wish + bool(clause.subjects)
        score -= 0.01 * i
        if best is None or score > best[0]:
            best = (score, i, motion)
    # With no verb, the first thing that moves by nature leads ("boats on a river"); a
    # landmark only when nothing livelier is named ("Lujiazui in the fog": the fog).
    lively: tuple[int, int, int, Hit] | None = None
    for i in usable:
        for hit in actors(reading.clauses[i], vocabulary):
            subject = _subject(hit)
            if subject.id in ruled_out:
                continue
            rank = min(vocabulary.kind_of(subject).rank, 2)
            key = (rank, -i, -hit.start, hit)
            if lively is None or key[:3] > lively[:3]:
                lively = key
    if best is not None:
        score, i, motion = best
        resting = vocabulary.weight(_motion(motion)) < 2 and not reading.clauses[i].wish
        livelier = lively is not None and vocabulary.kind_of(_subject(lively[3])).rank >= 3
        if not (resting and livelier):
            return Hero(i, motion, _subject_for(reading.clauses[i], motion, vocabulary))
    if lively is not None:
        return Hero(-lively[1], None, lively[3])
    for i in usable:
        if reading.clauses[i].subjects:
            return Hero(i, None, reading.clauses[i].subjects[0])
    return Hero(usable[0] if usable else None, None, None)


def _neighbours(reading: Reading, index: int, step: int) -> list[int]:
    """Quotable clauses of the same sentence, walking from `index` by `step`."""
    sentence = reading.clauses[index].sentence
    found = []
    said = [reading.clauses[index].text]
    i = index + step
    while 0 <= i < len(reading.clauses) and reading.clauses[i].sentence == sentence:
        clause = reading.clauses[i]
        repeated = any(clause.text in text for text in said)
        if clause.quotable and not clause.narrative and not clause.denies_motion and not repeated:
            found.append(i)
            said.append(clause.text)
        i += step
    return found


def _needs_owner(reading: Reading, hero: Hero) -> bool:
    assert hero.clause is not None
    clause = reading.clauses[hero.clause]
    if hero.subject is None:
        return True
    return _subject(hero.subject).part or starts_with_possessive(clause.text)


_PRONOUN_START = re.compile(r"^(?:it|they|them|he|she|him|her)\b(?!['’]s)", re.IGNORECASE)


def resolve_pronoun(reading: Reading, hero: Hero, vocabulary: Vocabulary) -> Hero:
    """ "the flag is not moving, I want it to wave": "it" is the flag."""
    if hero.clause is None or hero.subject is not None:
        return hero
    clause = reading.clauses[hero.clause]
    if not (m := _PRONOUN_START.match(clause.text)):
        return hero
    for i in range(hero.clause - 1, -1, -1):
        named = actors(reading.clauses[i], vocabulary)
        if named:
            thing = "the " + _ARTICLE.sub("", named[0].text)
            grown = len(thing) - m.end()
            clause.text = thing + clause.text[m.end() :]
            subject = Hit(0, len(thing), named[0].term, thing)
            clause.subjects.insert(0, subject)
            motion = hero.motion
            if motion is not None:
                motion = Hit(motion.start + grown, motion.end + grown, motion.term, motion.text)
            return Hero(hero.clause, motion, subject)
    return hero


def hero_clauses(reading: Reading, hero: Hero, vocabulary: Vocabulary, chinese: bool) -> list[int]:
    """The clauses the opening quotes: the hero's, and those it leans on or runs into."""
    assert hero.clause is not None
    used = [hero.clause]
    before = _neighbours(reading, hero.clause, -1)
    after = _neighbours(reading, hero.clause, 1)
    owner = _needs_owner(reading, hero)
    if chinese:
        budget = vocabulary.text("length", "hero_chars")
        total = han_length(reading.clauses[hero.clause].text)
        if owner and before:
            used.insert(0, before.pop(0))
            total += han_length(reading.clauses[used[0]].text)
        for i in before:
            length = han_length(reading.clauses[i].text)
            if total + length > budget:
                break
            used.insert(0, i)
            total += length
        for i in after:
            clause = reading.clauses[i]
            motion = clause.best_motion(vocabulary)
            length = han_length(clause.text)
            # What follows runs on: more of the action, or (with no verb yet) its state.
            if motion is None:
                runs_on = hero.motion is None and not clause.subjects
            else:
                runs_on = vocabulary.weight(_motion(motion)) >= 3
            if not runs_on or total + length > budget:
                break
            used.append(i)
            total += length
        return used
    if before:
        previous = reading.clauses[before[0]]
        short_hero = word_count(reading.clauses[hero.clause].text) <= 4
        scene_like = not previous.motions and word_count(previous.text) <= 8
        if (owner and previous.subjects) or (short_hero and scene_like):
            used.insert(0, before[0])
    return used


def _act_for(subject: Hit, still: bool, lang: str) -> str:
    entry = _subject(subject)
    return numbered((entry.still if still else entry.act)[lang], subject.term.plural)


def _own_subject(act: str, lang: str) -> bool:
    """Whether an act names its own subject ("the water rippling", "，江水荡漾")."""
    if lang == "zh":
        return act.startswith("，")
    first = act.split(" ", 1)[0]
    return not first.endswith("ing")


def join_act(text: str, act: str, subject: Hit | None, lang: str) -> str:
    """A quoted clause and the movement written for it, joined as the language joins them.

    A clause that is only the thing itself ("the rain") gives way to a movement that names
    it ("rain falling steadily"), so nothing is said twice.
    """
    if subject is not None and _own_subject(act, lang):
        head, sep, last = text.rpartition("，" if lang == "zh" else ", ")
        bare = _ARTICLE.sub("", last).strip().lower()
        if bare == subject.text.lower() and act.lstrip("，").lower().startswith(bare):
            return head + sep + act.lstrip("，") if head else act.lstrip("，")
    if lang == "zh":
        if act.startswith("，") or not text:
            return text + act
        if subject is not None and text.endswith(subject.text):
            return text + act
        return text + "，" + act
    if not text:
        return act
    if _own_subject(act, lang) or subject is None:
        return f"{text}, {act}"
    # "cat on a doorstep, blinking": the subject leads its clause, so the act follows it;
    # "Lujiazui in the fog, the fog rolling": it does not, so the act names it again.
    clause_start = max(text.rfind(", ", 0, subject.start) + 2, 0)
    words = tokens(text[clause_start:])
    near_start = any(subject.start - clause_start <= start for start, _, _ in words[:3])
    if near_start or subject.start > len(text):
        return f"{text}, {act}"
    return f"{text}, the {subject.text.lower()} {act}"


def _without(text: str, hit: Hit) -> str:
    """The text with a generic motion ("动起来", "come alive") taken out."""
    return re.sub(r"\s{2,}", " ", text[: hit.start] + text[hit.end :]).strip(" ，,")


def hero_text(
    reading: Reading, hero: Hero, used: Sequence[int], vocabulary: Vocabulary, lang: str
) -> str:
    """The opening's words: the quoted clauses, and a movement where they name none."""
    joiner = "，" if lang == "zh" else ", "
    texts = [reading.clauses[i].text for i in used]
    assert hero.clause is not None
    at = list(used).index(hero.clause)
    motion = _motion(hero.motion) if hero.motion else None
    subject = hero.subject
    if motion is not None and hero.motion is not None and motion.kind == "generic":
        texts[at] = _without(texts[at], hero.motion)
        if subject is not None and subject.start > hero.motion.start:
            subject = None  # its offsets moved; the act joins without them
    if lang == "en" and at == 0:
        article = with_article(texts[0], subject, vocabulary)
        if subject is not None and article != texts[0]:
            grown = len(article) - len(texts[0])
            subject = Hit(subject.start + grown, subject.end + grown, subject.term, subject.text)
        texts[0] = article
    text = joiner.join(t for t in texts if t)
    if motion is None:
        act = (
            _act_for(subject, False, lang)
            if subject is not None
            else vocabulary.text("style", "generic_act", lang)
        )
        return join_act(text, act, _shifted(subject, texts, at, joiner), lang)
    if motion.kind in ("posture", "generic") and hero.subject is not None:
        act = _act_for(hero.subject, motion.kind == "posture", lang)
        return join_act(text, act, _shifted(subject, texts, at, joiner), lang)
    if motion.after is not None:
        plural = hero.subject is not None and hero.subject.term.plural
        return f"{text}{joiner}{numbered(motion.after[lang], plural)}"
    return text


def _shifted(subject: Hit | None, texts: list[str], at: int, joiner: str) -> Hit | None:
    """The subject's hit moved to where its clause sits in the joined text."""
    if subject is None:
        return None
    offset = sum(len(t) + len(joiner) for t in texts[:at] if t)
    return Hit(subject.start + offset, subject.end + offset, subject.term, subject.text)


_COUNTABLE = frozenset(
    {"animal", "bird", "fish", "person", "vehicle", "vessel", "rider", "object", "machine"}
)


def with_article(text: str, subject: Hit | None, vocabulary: Vocabulary) -> str:
    """ "cat on a doorstep" → "a cat on a doorstep": a bare singular thing gets its article."""
    words = tokens(text)
    if subject is None or subject.term.plural or not words or subject.start != words[0][0]:
        return text
    if subject.text.lower() in vocabulary.text("rewrite", "no_article"):
        return text
    if _subject(subject).kind not in _COUNTABLE or subject.text[:1].isupper():
        return text  # fog, a river; or a name: "Custom House clock"
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


def fit_opening(text: str, lang: str, vocabulary: Vocabulary) -> str:
    """An opening too long for a video model's attention, cut to its first words."""
    if lang == "zh":
        limit = vocabulary.text("length", "hero_chars") + 8
        return text if len(text) <= limit else text[: limit - 1].rstrip("，,、 ") + "…"
    limit = vocabulary.text("length", "hero_words")
    words = tokens(text)
    if len(words) <= limit:
        return text
    return text[: words[limit - 1][1]].rstrip(" ,;") + "…"


def lower_article(text: str) -> str:
    """ "Stop-motion claymation: the cat", not "…: The cat"; names keep their capitals."""
    return _LEAD_ARTICLE.sub(lambda m: m.group(0).lower(), text)


def composed_hero(
    reading: Reading, hero: Hero, vocabulary: Vocabulary, lang: str
) -> tuple[str, Subject | None, Motion | None]:
    """An opening written from the vocabulary: emoji, or a caption in the other language."""
    ids = list(reading.emoji)
    if hero.subject is not None:
        ids.insert(0, _subject(hero.subject).id)
    if hero.motion is not None:
        ids.insert(0, _motion(hero.motion).id)
    ids += [_subject(h).id for c in reading.clauses for h in actors(c, vocabulary)]
    subjects = [
        vocabulary.subjects[i]
        for i in ids
        if i in vocabulary.subjects and i not in reading.ruled_out_ids
    ]
    motions = [vocabulary.motions[i] for i in ids if i in vocabulary.motions]
    leading = [s for s in subjects if not s.ambient] or subjects
    subject = max(leading, key=lambda s: vocabulary.kind_of(s).rank) if leading else None
    act_source = next((m.act for m in motions if m.act), None)
    if subject is None:
        name = vocabulary.text("style", "default_scene", lang)
        act = act_source[lang] if act_source else vocabulary.text("style", "generic_act", lang)
    else:
        name = subject.name[lang]
        act = (act_source or subject.act)[lang]
    act = numbered(act, False)
    motion = motions[0] if motions else None
    if lang == "zh":
        return name + act, subject, motion
    return f"{name}, {act}", subject, motion


def composed_scene(
    reading: Reading, subject: Subject | None, lang: str, vocabulary: Vocabulary
) -> list[str]:
    """Places and landmarks the caption names, in the draft's language ("The Bund.")."""
    names: list[str] = []
    for clause in reading.clauses:
        for hit in clause.subjects:
            entry = _subject(hit)
            if entry is subject or entry.id in reading.ruled_out_ids:
                continue
            if entry.kind in ("waterfront", "landmark") and entry.name[lang] not in names:
                names.append(entry.name[lang])
    if not names:
        return []
    if lang == "zh":
        return ["、".join(names) + "。"]
    text = ", ".join(names)
    return [text[:1].upper() + text[1:] + "."]


# --- the rest of the scene ------------------------------------------------------------------


def _repeats_hero(clause: Clause, reading: Reading, hero: Hero) -> bool:
    """A clause saying again what the opening says ("老师傅在里面踩缝纫机")."""
    if hero.motion is None or hero.subject is None:
        return False
    subject, motion = _subject(hero.subject).id, _motion(hero.motion).id
    return any(_subject(s).id == subject for s in clause.subjects) and any(
        _motion(m).id == motion for m in clause.motions
    )


def _only_the_light(clause: Clause, vocabulary: Vocabulary) -> bool:
    """ "the light to change, going golden": the time-of-day sentence says it better."""
    if not clause.times:
        return False
    kinds = {vocabulary.kind_of(_subject(s)) for s in clause.subjects}
    light = vocabulary.kinds["light"]
    moving = [m for m in clause.motions if _motion(m).kind not in ("light", "change", "move")]
    return not moving and all(k is light for k in kinds)


def scene_clauses(
    reading: Reading, hero: Hero, used: Sequence[int], vocabulary: Vocabulary, lang: str
) -> list[int]:
    """The caption's other clauses worth quoting, within the scene's length budget."""
    budget = vocabulary.text("length", "scene", lang)
    candidates = []
    said = [reading.clauses[i].text for i in used]
    for i, clause in enumerate(reading.clauses):
        if i in used or not clause.quotable or clause.narrative or clause.denies_motion:
            continue
        if any(clause.text in text for text in said):
            continue  # said already ("黄浦江上的渡轮慢慢开过，" a thousand times)
        said.append(clause.text)
        if _repeats_hero(clause, reading, hero) or _only_the_light(clause, vocabulary):
            continue
        if any(_subject(s).id in reading.ruled_out_ids for s in clause.subjects):
            continue  # "boats on the river" after "no boats"
        candidates.append(i)

    def size(i: int) -> int:
        return len(reading.clauses[i].text)

    if sum(size(i) for i in candidates) <= budget:
        return candidates

    def worth(i: int) -> tuple[float, int]:
        c = reading.clauses[i]
        score = 2 * c.photo_frame + bool(c.motions) + min(2, len(c.subjects)) - 2 * c.first_person
        return (score, -i)

    chosen: list[int] = []
    total = 0
    for i in sorted(candidates, key=worth, reverse=True):
        if worth(i)[0] <= 0 or total + size(i) > budget:
            continue
        chosen.append(i)
        total += size(i)
    return sorted(chosen)


def scene_sentences(
    reading: Reading,
    clauses: Sequence[int],
    hero_subject: Subject | None,
    lang: str,
    vocabulary: Vocabulary,
) -> list[str]:
    """The chosen clauses as sentences, one per caption sentence, with one ambient motion."""
    joiner, end = ("，", "。") if lang == "zh" else (", ", ".")
    groups: list[list[str]] = []
    last_sentence = None
    ambient_done = reading.only
    for i in clauses:
        clause = reading.clauses[i]
        text = clause.text
        if not ambient_done and not clause.motions:
            for hit in clause.subjects:
                subject = _subject(hit)
                if subject.ambient and subject is not hero_subject:
                    text = join_act(text, _act_for(hit, False, lang), hit, lang)
                    ambient_done = True
                    break
        if clause.sentence != last_sentence:
            groups.append([])
            last_sentence = clause.sentence
        groups[-1].append(text)
    sentences = []
    for group in groups:
        sentence = joiner.join(group)
        if lang == "en":
            sentence = sentence[:1].upper() + sentence[1:]
        sentences.append(sentence + end)
    return sentences


def ambient_sentence(
    reading: Reading, hero_subject: Subject | None, lang: str, vocabulary: Vocabulary
) -> str:
    """Weather that an emoji named (🌧️): one background motion of its own."""
    if reading.only:
        return ""
    for emoji_id in reading.emoji:
        subject = vocabulary.subjects.get(emoji_id)
        if subject and subject.ambient and subject is not hero_subject:
            act = numbered(subject.act[lang], False).lstrip("，")
            if lang == "zh":
                return act + "。"
            return act[:1].upper() + act[1:] + "."
    return ""


# --- the camera -------------------------------------------------------------------------------


def _resolve(move: str, reading: Reading, facts: PhotoFacts | None, vocabulary: Vocabulary) -> str:
    if move == "pan":
        side = reading.direction if reading.direction in ("left", "right") else "default"
        return str(vocabulary.text("camera", "pan", side))
    if move == "upright":
        orientation = facts.orientation if facts else "square"
        return _resolve(
            str(vocabulary.text("camera", "upright", orientation)), reading, facts, vocabulary
        )
    return move


def choose_camera(
    chosen: str | None,
    reading: Reading,
    motion: Motion | None,
    subject: Subject | None,
    facts: PhotoFacts | None,
    vocabulary: Vocabulary,
) -> str:
    """The user's setting; else the caption's cue; else the move that suits what moves.

    A journey is followed with a pan (its side from "from left to right"), birds taking off
    with a tilt up, a dance with an orbit, something coming at the camera by pulling out;
    otherwise the subject decides: a still life pushes in, weather and crowds hold still,
    a tall building in a tall photo is looked up at.
    """
    if chosen in CAMERA_MOVES:
        return chosen
    candidates: list[str] = []
    if reading.camera:
        candidates.append(reading.camera)
    kind = vocabulary.kind_of(subject) if subject else None
    if motion is not None:
        moving = vocabulary.motion_kinds[motion.kind]
        if reading.direction == "toward" and motion.kind in ("run", "travel", "walk", "fly"):
            candidates.append("pull_out")
        if moving.camera and (moving.always or kind is None or kind.travels):
            candidates.append(moving.camera)
    if kind is not None:
        at_rest = motion is not None and motion.kind == "posture"
        candidates.append(kind.rest_camera if at_rest else kind.camera)
    candidates += [FALLBACK_CAMERA, "static"]
    rejected = {_resolve(m, reading, facts, vocabulary) for m in reading.camera_rejected}
    if "pan" in reading.camera_rejected:
        rejected |= {"pan_left", "pan_right"}
    for move in candidates:
        resolved = _resolve(move, reading, facts, vocabulary)
        if resolved in CAMERA_MOVES and resolved not in rejected:
            return resolved
    return "static"


# --- light, detail, exclusions, negative --------------------------------------------------


def time_of_day(reading: Reading, vocabulary: Vocabulary) -> TimeOfDay | None:
    """The most specific time the caption names (the vocabulary lists them in that order)."""
    if not reading.times:
        return None
    order = list(vocabulary.times)
    return min(reading.times, key=lambda t: order.index(t.id))


def time_sentence(
    time: TimeOfDay, brightness: float | None, lang: str, vocabulary: Vocabulary
) -> str:
    """A change during the shot; a dark time in a photo already dark stays as it is."""
    dark_photo = brightness is not None and brightness < vocabulary.text("light", "even_from")
    if time.steady is not None and time.dark and dark_photo:
        return time.steady[lang]
    return time.change[lang]


def light_phrase(brightness: float | None, lang: str, vocabulary: Vocabulary) -> str:
    """The light as the photo shows it: the first frame is the still."""
    if brightness is None:
        key = "studio"
    elif brightness >= vocabulary.text("light", "bright_from"):
        key = "bright"
    elif brightness >= vocabulary.text("light", "even_from"):
        key = "even"
    else:
        key = "low"
    return str(vocabulary.text("light", key, lang))


_LIVELY_KINDS = frozenset({"person", "crowd", "rider", "animal", "bird", "fish"})


def life_detail(
    reading: Reading, lang: str, written: str, dark: bool, vocabulary: Vocabulary
) -> str:
    """One quiet detail of everyday life for a scene that has none, where its place suits it.

    None when the caption limits the scene ("only", a negation), when someone or some animal
    is in it already, at night or in weather (a cat dozing in a downpour), when the caption
    names such a detail or the thing it shows, or when what is written already holds one.
    """
    if reading.only or reading.ruled_out or reading.ruled_out_actions or reading.camera_rejected:
        return ""
    named = {
        _subject(hit).id: _subject(hit)
        for clause in reading.clauses
        if clause.quotable
        for hit in clause.subjects
    }
    if dark or any(s.kind in _LIVELY_KINDS or s.ambient for s in named.values()):
        return ""
    caption = reading.caption
    if sc.life_details(caption) or sc.life_details(written) - sc.life_details(caption):
        return ""
    named_ids = {i for i, s in named.items() if s.kind != "place"}
    fitting = []
    for detail in vocabulary.details:
        if not sc.mentions_any(caption, detail.places):
            continue
        shown = {_subject(h).id for h in vocabulary.find(detail.text["en"], ("subject",))}
        if not shown & named_ids:
            fitting.append(detail)
    if not fitting:
        return ""
    detail = fitting[zlib.crc32(caption.encode("utf-8")) % len(fitting)]
    return detail.text[lang]


def _in_language(word: str, lang: str) -> bool:
    return bool(_HAN.search(word)) == (lang == "zh")


def ruled_out_words(
    reading: Reading, lang: str, vocabulary: Vocabulary, actions: bool
) -> list[str]:
    """The user's words for what must not be there, in the draft's language."""
    words = reading.ruled_out_actions if actions else reading.ruled_out
    out = [w for w in words if _in_language(w, lang)]
    if len(out) < len(words):  # said in the other language: the vocabulary's own words
        for entry_id in sorted(reading.ruled_out_ids):
            subject = vocabulary.subjects.get(entry_id)
            if subject is not None and not actions:
                name = _ARTICLE.sub("", subject.name[lang])
                if name not in out:
                    out.append(name)
    return out


def exclusion_sentence(words: Sequence[str], lang: str, vocabulary: Vocabulary) -> str:
    """ "No people, no cars." / "画面中没有行人，没有汽车。": each with its own "no"."""
    if not words:
        return ""
    joined = vocabulary.text("style", "exclusion_join", lang).join(words)
    return str(vocabulary.text("style", "exclusion", lang)).format(item=joined)


def negative_prompt(
    lang: str, asked: str, extra: Sequence[str], vocabulary: Vocabulary
) -> list[str]:
    """The terms the video must avoid, minus any that would cancel what `asked` wants.

    `asked` is the caption and the prompt: a negative "flicker" would cancel the twinkling
    lights they ask for, "blurry" the blurry street outside a café window.
    """
    requested = sc.requested_terms(asked)
    terms: list[str] = []
    for term in vocabulary.negatives:
        word = term.en if lang == "en" else term.zh
        if not word or word in terms:
            continue
        if sc.mentions_any(asked, term.avoid_if):
            continue
        if any(sc.mentions(word, r) for r in requested):
            continue
        terms.append(word)
    for word in extra:
        if word and word not in terms:
            terms.append(word)
    return terms
