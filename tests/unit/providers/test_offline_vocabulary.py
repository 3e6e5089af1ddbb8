"""The offline drafter's vocabulary: a data file read once, and words found as users write them.

A new subject, motion or camera cue is a line in vocabulary.toml; these tests hold the file
to its format and the finding rules to what users type: plurals, verb endings, typos, and
Chinese words that hide inside longer ones.
"""

from __future__ import annotations

import pytest

from bot.domain.types import CAMERA_MOVES
from bot.providers.offline.vocabulary import (
    VOCABULARY_FILE,
    Cue,
    Motion,
    Subject,
    TimeOfDay,
    load_vocabulary,
    plural_forms,
    present_participle,
    third_person,
    vocabulary,
)

WORDS = vocabulary()


def ids(text: str, table: str) -> list[str]:
    return [h.entry.id for h in WORDS.find(text, (table,))]  # type: ignore[arg-type,union-attr]


# --- the file -------------------------------------------------------------------------------


def test_the_vocabulary_is_read_once_per_process() -> None:
    assert vocabulary() is vocabulary()


def test_the_shipped_file_covers_both_languages_for_every_entry() -> None:
    raw = WORDS.raw
    for section in ("subject", "motion"):
        for entry in raw[section]:
            assert entry["en"] and entry["zh"], entry["id"]
    for entry in raw["cue"]:
        assert entry.get("en") and entry.get("zh"), entry["move"]
    for subject in WORDS.subjects.values():
        assert subject.act["en"] and subject.act["zh"], subject.id
        assert subject.name["en"] and subject.name["zh"], subject.id
    for time in WORDS.times.values():
        assert time.change["en"] and time.change["zh"], time.id


def test_every_camera_in_the_file_is_one_the_bot_can_ask_for() -> None:
    moves = set(CAMERA_MOVES)
    for entry in WORDS.raw["cue"]:
        assert entry["move"] in moves | {"pan"}, entry
    for name, kind in WORDS.kinds.items():
        assert {kind.camera, kind.rest_camera} <= moves | {"pan", "upright"}, name
    for lang in ("en", "zh"):
        assert set(WORDS.text("camera", "text", lang)) == moves
        assert set(WORDS.text("camera", "short", lang)) == moves


def test_a_subject_of_an_unknown_kind_is_refused_by_name() -> None:
    text = VOCABULARY_FILE.read_text(encoding="utf-8")
    broken = text.replace('id = "boat"\nkind = "vessel"', 'id = "boat"\nkind = "spaceship"', 1)
    assert broken != text
    with pytest.raises(ValueError, match="boat.*spaceship"):
        load_vocabulary(broken)


def test_an_emoji_naming_no_entry_is_refused() -> None:
    text = VOCABULARY_FILE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="emoji"):
        load_vocabulary(text.replace('"🐱" = "cat"', '"🐱" = "unicorn"', 1))


# --- English forms --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "third", "ing"),
    [
        ("glide", "glides", "gliding"),
        ("run", "runs", "running"),
        ("flap", "flaps", "flapping"),
        ("lie", "lies", "lying"),
        ("fly", "flies", "flying"),
        ("pass", "passes", "passing"),
        ("sway", "sways", "swaying"),
        ("flicker", "flickers", "flickering"),
    ],
)
def test_verbs_get_their_regular_endings(verb: str, third: str, ing: str) -> None:
    assert (third_person(verb), present_participle(verb)) == (third, ing)


def test_nouns_get_their_plurals() -> None:
    assert plural_forms("boat") == ["boats"]
    assert plural_forms("ferry") == ["ferries"]
    assert plural_forms("bus") == ["buses"]


def test_plurals_and_every_verb_form_but_the_past_are_found() -> None:
    text = "two ferries crossing while a pigeon takes off"
    subjects = [(h.text, h.term.form) for h in WORDS.find(text, ("subject",))]
    motions = [(h.text, h.term.form) for h in WORDS.find(text, ("motion",))]
    assert ("ferries", "plural") in subjects and ("pigeon", "") in subjects
    assert motions == [("crossing", "ing"), ("takes off", "third")]
    # "moved out" tells a story; it is not something to animate.
    assert ids("most of the neighbours moved out", "motion") == []


def test_the_longest_phrase_wins() -> None:
    assert ids("the old ceiling fan", "subject") == ["fan"]
    assert [h.text for h in WORDS.find("the lights come on", ("motion",))] == ["come on"]


# --- Chinese words inside longer words --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "table", "absent"),
    [
        ("那天被放鸽子了", "subject", "bird"),  # stood up, not a pigeon
        ("游客从桥上走过", "motion", "swim"),  # tourists, not swimming
        ("上海的咖啡馆", "subject", "water"),  # 上海 is no sea
        ("人民广场", "subject", "crowd"),  # People's Square, no people in it
        ("拍照片", "motion", "shine"),  # a photo, not light shining
    ],
)
def test_a_chinese_word_inside_a_longer_word_is_not_found(
    text: str, table: str, absent: str
) -> None:
    assert absent not in ids(text, table)


def test_chinese_subjects_motions_cues_and_times_are_found() -> None:
    assert ids("苏州河上一条小船慢慢划过", "subject") == ["water", "boat"]
    assert ids("苏州河上一条小船慢慢划过", "motion") == ["travel"]
    cue = WORDS.find("从下往上看", ("cue",))[0].entry
    assert isinstance(cue, Cue) and cue.move == "tilt_up"
    time = WORDS.find("黄昏的弄堂", ("time",))[0].entry
    assert isinstance(time, TimeOfDay) and time.id == "dusk"


# --- typos --------------------------------------------------------------------------------------


def test_a_misspelt_word_is_read_as_the_word_it_almost_is() -> None:
    found = WORDS.find("ferrys crusing on the river", ("subject", "motion"), typos=True)
    corrected = {h.text: h.corrected for h in found}
    assert corrected == {"ferrys": "ferries", "crusing": "cruising", "river": None}
    night = WORDS.find("the bund at nigth", ("time",), typos=True)
    assert [h.corrected for h in night] == ["night"]


def test_a_real_word_is_never_corrected_into_another() -> None:
    # "rides" is one letter from "brides"; "bowing" one from "blowing".
    text = "a man rides past, bowing his erhu"
    subjects = WORDS.find(text, ("subject",), typos=True)
    motions = WORDS.find(text, ("motion",), typos=True)
    assert all(h.corrected is None for h in subjects + motions)
    assert [h.text for h in motions if isinstance(h.entry, Motion)] == ["rides", "bowing"]
    assert [h.text for h in subjects if isinstance(h.entry, Subject)] == ["man", "erhu"]
