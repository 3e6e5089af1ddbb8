"""The director's answer as parts, the prompt assembled from them, and the review before use.

The model does not write the prompt: it fills in parts (the hero action, secondary motions,
camera, a change of light, one detail of life, the clay look, negative terms), and code joins
them hero first. Code then reviews the result with the pure checks of
`bot.domain.script_checks` and repairs what it can (a negative term that forbids what the
user asked to see, a camera sentence naming the wrong move, a static lighting line, a prompt
over the target's limit); what only the model can fix (wrong language, echoed instructions,
a leak of the system prompt, a missing hero) is raised as an `AnswerError` listing every
problem, so the one repair request can name them all.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from bot.domain import script_checks as sc
from bot.domain.types import CAMERA_MOVES, DURATIONS, PROMPT_LIMIT
from bot.providers.offline.drafter import SUMMARY_LIMIT, clamp_duration, clean_text, truncate

log = logging.getLogger(__name__)

MAX_MOTIONS = 2  # secondary motions kept; more split the video model's attention
MAX_NEGATIVE_TERMS = 12
NEGATIVE_TERM_LIMIT = 60  # characters; a longer "term" is a sentence, not a term
LANGUAGE_NAMES = {"zh": "Simplified Chinese", "en": "English"}

# Property order is generation order: the model names its subject before the hero action.
DRAFT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": list(LANGUAGE_NAMES)},
        "subject": {"type": "string", "description": "who or what performs the main action"},
        "main_action": {
            "type": "string",
            "description": "the hero motion: subject, verb, direction; one sentence",
        },
        "motions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "zero to two sentences of secondary motion",
        },
        "camera_move": {"type": "string", "enum": list(CAMERA_MOVES)},
        "camera": {"type": "string", "description": "one sentence saying the camera move"},
        "lighting_change": {
            "type": "string",
            "description": "light changing during the shot, or empty",
        },
        "life_detail": {"type": "string", "description": "exactly one small detail of life"},
        "clay_look": {"type": "string", "description": "what this scene is sculpted from"},
        "negative_terms": {"type": "array", "items": {"type": "string"}},
        "duration": {"type": "integer", "enum": list(DURATIONS)},
        "summary": {"type": "string", "description": "one caption line"},
    },
    "additionalProperties": False,
}
DRAFT_SCHEMA["required"] = list(DRAFT_SCHEMA["properties"])
ANSWER_KEYS: tuple[str, ...] = tuple(DRAFT_SCHEMA["properties"])

# Written by code when the model's own sentence is missing or names another move. Each one
# names its move in words `script_checks.camera_fits` reads as that move.
CAMERA_SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "static": "The camera holds still.",
        "push_in": "The camera slowly pushes in.",
        "pull_out": "The camera slowly pulls back.",
        "pan_left": "The camera pans left.",
        "pan_right": "The camera pans right.",
        "tilt_up": "The camera tilts up.",
        "tilt_down": "The camera tilts down.",
        "orbit": "The camera orbits slowly around the scene.",
    },
    "zh": {
        "static": "镜头固定不动。",
        "push_in": "镜头缓缓推近。",
        "pull_out": "镜头慢慢拉远。",
        "pan_left": "镜头缓缓向左摇。",
        "pan_right": "镜头缓缓向右摇。",
        "tilt_up": "镜头缓缓向上摇。",
        "tilt_down": "镜头缓缓向下摇。",
        "orbit": "镜头环绕拍摄。",
    },
}
# Said when no part mentions clay: the video model must know to render plasticine.
CLAY_SENTENCE = {
    "en": "Hand-sculpted plasticine, stop-motion at 12 fps.",
    "zh": "手捏橡皮泥质感，每秒12帧定格动画。",
}
CLAY_WORDS = (
    "clay|plasticine|claymation|stop-motion|stop motion|polymer clay|"
    "黏土|粘土|橡皮泥|软陶|陶土|油泥|定格"
)
# The negative prompt when the model gives none: no "flicker", which cancels twinkling lights.
BASE_NEGATIVE = {
    "en": ("blurry", "distorted", "extra limbs", "extra fingers", "photorealistic skin",
           "text", "watermark", "logo"),
    "zh": ("模糊", "变形", "多余的肢体", "多余的手指", "写实皮肤", "文字", "水印", "标志"),
}  # fmt: skip

# A lighting sentence says a change when one of these is in it; else it restates the still.
CHANGE_WORDS = (
    "as|while|gradually|slowly|one by one|begin|start|come on|comes on|came on|light up|"
    "turn|fade|dim|darken|deepen|brighten|fall|set|rise|spread|creep|clear|slip|sink|"
    "grow|break|part|glow up|渐渐|慢慢|逐渐|一点点|一盏|一扇|亮起|亮了起来|暗下来|暗了下来|"
    "变暗|变亮|转为|变成|开始|随着|降临|落下|沉下|升起|铺满|爬进|散开|点亮"
)
# What a reply asks for when it asks for other light or another time of day.
LIGHT_REQUESTS = (
    "night|nighttime|evening|dusk|sunset|sundown|dawn|sunrise|twilight|dark|darker|"
    "lights on|lamps on|golden hour|morning|夜|晚上|傍晚|黄昏|日落|天黑|夕阳|黎明|日出|"
    "清晨|早上|早晨|开灯|亮灯|灯亮"
)
_ECHO_WORDS = 3  # this many consecutive words of an instruction in an answer is an echo
_ECHO_HAN = 4  # ... or this many Chinese characters in a row
_STOP_WORDS = frozenset(
    "a an the and or to of in on at it is be this that my your me you i".split()
)
# A reply saying "remove the rain" or "去掉雨" asks for no rain: spelt as a negation, so
# `requested_terms` does not read the rain as wanted.
_REMOVAL = re.compile(
    r"(?<![a-z])(?:remove|get rid of|take out|take away)(?![a-z])"
    r"|去掉|去除|删掉|删除|拿掉|取消|停掉",
    re.IGNORECASE,
)
_TRIM = " \t\n\"'“”‘’「」『』«»"
_END = ".。!！?？"


class AnswerError(Exception):
    """An answer we cannot use; `reason` is safe to send back to the model."""

    def __init__(self, reason: str, *, leak: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.leak = leak


def _as_negation(match: re.Match[str]) -> str:
    return "no" if match.group(0).isascii() else "不要"


class DraftAnswer(BaseModel):
    """The model's JSON, loosely typed so trivial faults can be repaired rather than refused."""

    model_config = ConfigDict(extra="ignore")

    main_action: str
    language: str = ""
    subject: str = ""
    motions: list[str] = []
    camera_move: str = ""
    camera: str = ""
    lighting_change: str = ""
    life_detail: str = ""
    clay_look: str = ""
    negative_terms: list[str] = []
    duration: int | float | str | None = None
    summary: str = ""

    @model_validator(mode="before")
    @classmethod
    def _loosen(cls, data: Any) -> Any:
        """null means absent; a comma list or one sentence where a list belongs is accepted."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if v is not None}
        if isinstance(data.get("negative_terms"), str):
            data["negative_terms"] = re.split(r"[,，、;；]", data["negative_terms"])
        if isinstance(data.get("motions"), str):
            data["motions"] = [data["motions"]]
        return data


def parse_answer(content: str | None) -> DraftAnswer:
    """Find the JSON object in an answer (code fences and chatter tolerated) and type it."""
    text = (content or "").strip()
    if not text:
        raise AnswerError("the answer was empty")
    if text.startswith("```"):
        text = re.sub(r"^```[\w-]*\s*|\s*```$", "", text).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise AnswerError("the answer was not a JSON object")
        text = text[start : end + 1]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerError(
            f"the answer was not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise AnswerError("the answer was JSON but not an object")
    try:
        return DraftAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}"
            for err in exc.errors()
        )
        reason = f"the JSON did not match the format ({truncate(problems, 400)})"
        raise AnswerError(reason) from None


# --- normalising single fields -----------------------------------------------------------------

_CAMERA_SYNONYMS = {
    "zoom_in": "push_in",
    "dolly_in": "push_in",
    "push": "push_in",
    "pushin": "push_in",
    "zoom_out": "pull_out",
    "dolly_out": "pull_out",
    "pull_back": "pull_out",
    "pull": "pull_out",
    "pullout": "pull_out",
    "still": "static",
    "fixed": "static",
    "none": "static",
    "locked": "static",
    "locked_off": "static",
    "arc": "orbit",
    "orbit_left": "orbit",
    "orbit_right": "orbit",
    "rotate": "orbit",
    "pan_to_the_left": "pan_left",
    "pan_to_the_right": "pan_right",
}


def normalise_camera(value: str) -> str | None:
    """'Push In', 'push-in', 'zoom in' → 'push_in'; None when it is no move we know."""
    key = re.sub(r"[\s\-]+", "_", value.strip().lower())
    key = _CAMERA_SYNONYMS.get(key, key)
    return key if key in CAMERA_MOVES else None


def normalise_duration(value: int | float | str | None) -> int | None:
    """5, 5.0, '5', '5s', '10 秒' → a duration we offer (nearest); None when unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return clamp_duration(value) if value > 0 else None
    match = re.search(r"\d+(?:\.\d+)?", value)
    return clamp_duration(float(match.group())) if match else None


def sentence(text: str, lang: str) -> str:
    """One part as a clean sentence: one line, no wrapping quotes, capital, end mark."""
    text = clean_text(text).strip(_TRIM)
    if not text:
        return ""
    if lang == "en":
        text = text[0].upper() + text[1:]
    if text[-1] in _END:
        return text
    return text.rstrip(",，;；:：、") + ("。" if lang == "zh" else ".")


def join(sentences: list[str], lang: str) -> str:
    """Sentences as one paragraph: Chinese runs on, English takes a space."""
    return ("" if lang == "zh" else " ").join(s for s in sentences if s)


# --- what a usable answer must agree with ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Brief:
    """What the user asked for, as the review needs it; explicit choices win over the model's."""

    lang: str
    wanted: str  # the description and every instruction: what the user asked to see
    camera: str | None = None
    duration: int | None = None
    default_camera: str = "static"
    default_duration: int = 5
    prompt_limit: int = PROMPT_LIMIT
    light_change: bool = False  # the latest instruction asks for other light
    latest: str = ""  # the latest instruction: what it rules out wins over earlier wishes

    @property
    def requested(self) -> tuple[str, ...]:
        """Words a negative term must not hold, because the user asked to see their meaning."""
        wanted = sc.requested_terms(_REMOVAL.sub(_as_negation, self.wanted))
        if not self.latest:
            return wanted
        latest = _REMOVAL.sub(_as_negation, self.latest)
        still = set(sc.requested_terms(latest))
        ruled_out = {
            term
            for group in sc.CONTRADICTION_GROUPS
            if any(sc.mentions(latest, t) for t in group) and not still.intersection(group)
            for term in group
        }
        return tuple(t for t in wanted if t not in ruled_out)

    @property
    def instructions(self) -> list[str]:
        """Instruction-like phrases in what the user wrote; none may reach the answer."""
        return sc.instruction_phrases(self.wanted)


def asks_for_light(instruction: str) -> bool:
    """Whether a reply asks for night, dusk, dawn or lights: a change during the shot."""
    return sc.mentions_any(instruction, LIGHT_REQUESTS)


@dataclass(frozen=True, slots=True)
class Script:
    """A reviewed answer: the assembled prompt and the rest of the draft."""

    prompt: str
    negative_prompt: str
    camera_move: str
    duration: int
    summary: str
    repairs: tuple[str, ...] = ()


@dataclass(slots=True)
class _Parts:
    lang: str
    main_action: str
    motions: list[str]
    camera: str
    lighting: str
    life_detail: str
    clay_look: str
    repairs: list[str] = field(default_factory=list)

    def prompt(self) -> str:
        return join(
            [
                self.main_action,
                *self.motions,
                self.camera,
                self.lighting,
                self.life_detail,
                self.clay_look,
            ],
            self.lang,
        )


def echoed(text: str, phrases: list[str]) -> list[str]:
    """The instruction phrases (or runs of their words) that `text` repeats.

    A whole phrase, three of its words in a row or four of its Chinese characters count, and
    so does any instruction-like text of the answer's own: a model that says "ignore the
    above" has been talked into something, whatever it was.
    """
    found = [p for p in phrases if not sc.no_echo(text, [p]).ok]
    squeezed = re.sub(r"[\W_]+", "", text.casefold())
    for phrase in phrases:
        if phrase in found:
            continue
        words = re.findall(r"[a-z0-9]+", phrase.casefold())
        runs = [
            " ".join(words[i : i + _ECHO_WORDS])
            for i in range(len(words) - _ECHO_WORDS + 1)
            if any(w not in _STOP_WORDS for w in words[i : i + _ECHO_WORDS])
        ]
        han = "".join(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]", phrase))
        han_runs = [han[i : i + _ECHO_HAN] for i in range(len(han) - _ECHO_HAN + 1)]
        if any(sc.mentions(text, run, inflect=False) for run in runs) or any(
            run in squeezed for run in han_runs
        ):
            found.append(phrase)
    found += [p for p in sc.instruction_phrases(text) if p not in found]
    return found


def review(
    answer: DraftAnswer,
    brief: Brief,
    leaks: Callable[[str], bool] | None = None,
    *,
    lenient: bool = False,
) -> Script:
    """Assemble the prompt from the parts, repair what code can, raise what it cannot.

    `leaks` tells whether a text repeats the system prompt. A `lenient` review (of the
    answer to the one repair request) lets minor problems pass: a usable prompt with a
    blemish beats falling back to the offline drafter.
    """
    lang = brief.lang
    texts = [
        answer.main_action,
        answer.subject,
        *answer.motions,
        answer.camera,
        answer.lighting_change,
        answer.life_detail,
        answer.clay_look,
        *answer.negative_terms,
        answer.summary,
    ]
    if leaks is not None and any(leaks(text) for text in texts if text):
        reason = "it repeated your instructions instead of describing the clip"
        raise AnswerError(reason, leak=True)

    problems: list[str] = []
    minor: list[str] = []  # asked about once, then accepted
    camera_move = _camera_move(answer, brief, problems)
    duration = _duration(answer, brief, problems)
    parts = _Parts(
        lang=lang,
        main_action=sentence(answer.main_action, lang),
        motions=[m for m in (sentence(x, lang) for x in answer.motions) if m][:MAX_MOTIONS],
        camera=sentence(answer.camera, lang),
        lighting=sentence(answer.lighting_change, lang),
        life_detail=sentence(answer.life_detail, lang),
        clay_look=sentence(answer.clay_look, lang),
    )
    if not parts.main_action:
        problems.append("main_action is empty: say who or what moves, how and which way")
    _review_camera(parts, camera_move, minor)
    _review_lighting(parts, brief, problems)
    _review_life(parts, brief)
    if not sc.mentions_any(parts.prompt(), CLAY_WORDS):
        parts.clay_look = join([parts.clay_look, CLAY_SENTENCE[lang]], lang)
        parts.repairs.append("clay named")
    prompt = _within_limit(parts, brief.prompt_limit)

    if parts.main_action and not (verdict := sc.language_matches(prompt, lang)).ok:
        problems.append(
            f"{verdict.detail}: write every text part in {LANGUAGE_NAMES[lang]}, "
            "the language the user writes in"
        )
    negative = _negative(answer.negative_terms, prompt, camera_move, brief, parts.repairs)
    summary = truncate(clean_text(answer.summary.split("\n", 1)[0]).strip(_TRIM), SUMMARY_LIMIT)
    if summary and sc.detect_language(summary) not in (lang, None):
        summary = ""  # a caption the user cannot read: the hero line stands in for it
        parts.repairs.append("summary in another language replaced")
    if echoes := echoed(f"{prompt}\n{negative}\n{summary}", brief.instructions):
        quoted = "; ".join(f"«{truncate(e, 120)}»" for e in echoes)
        problems.append(
            f"it copied text that talks to the bot instead of describing the scene: {quoted}. "
            "Leave that text out of every part"
        )
    if problems or (minor and not lenient):
        raise AnswerError("; ".join(problems + minor))
    if parts.repairs:
        log.info("LLM answer repaired in code: %s", ", ".join(parts.repairs))
    return Script(
        prompt=prompt,
        negative_prompt=negative,
        camera_move=camera_move,
        duration=duration,
        summary=summary or truncate(clean_text(parts.main_action), SUMMARY_LIMIT),
        repairs=tuple(parts.repairs),
    )


def _camera_move(answer: DraftAnswer, brief: Brief, problems: list[str]) -> str:
    if brief.camera is not None:
        return brief.camera
    if not answer.camera_move.strip():
        return brief.default_camera
    move = normalise_camera(answer.camera_move)
    if move is None:
        problems.append(
            f"camera_move {truncate(answer.camera_move, 40)!r} is not one of "
            + ", ".join(CAMERA_MOVES)
        )
        return brief.default_camera
    return move


def _duration(answer: DraftAnswer, brief: Brief, problems: list[str]) -> int:
    if brief.duration is not None:
        return brief.duration
    if answer.duration is None or answer.duration == "":
        return brief.default_duration
    duration = normalise_duration(answer.duration)
    if duration is None:
        problems.append(f"duration must be one of {', '.join(map(str, DURATIONS))}")
        return brief.default_duration
    return duration


def _review_camera(parts: _Parts, move: str, minor: list[str]) -> None:
    """One camera move: the camera sentence says it, and no other part names another."""
    if not parts.camera or not sc.camera_fits(parts.camera, move).ok:
        parts.camera = CAMERA_SENTENCES[parts.lang][move]
        parts.repairs.append("camera sentence rewritten")
    kept = []
    for motion in parts.motions:
        if sc.camera_fits(motion, move).ok:
            kept.append(motion)
        else:
            parts.repairs.append("motion naming another camera move dropped")
    parts.motions = kept
    for name in ("lighting", "life_detail", "clay_look"):
        if not sc.camera_fits(getattr(parts, name), move).ok:
            setattr(parts, name, "")
            parts.repairs.append(f"{name} naming another camera move dropped")
    if not (verdict := sc.camera_fits(parts.main_action, move)).ok:
        minor.append(f"main_action describes the camera ({verdict.detail}); leave that out")


def _review_lighting(parts: _Parts, brief: Brief, problems: list[str]) -> None:
    """Light can only change during the shot: a static description restates the still."""
    if parts.lighting and not sc.mentions_any(parts.lighting, CHANGE_WORDS):
        parts.lighting = ""
        parts.repairs.append("static lighting dropped")
    if brief.light_change and not parts.lighting:
        problems.append(
            "the user asked for other light or another time of day, and the first frame "
            "cannot be relit: write it in lighting_change as a change that happens during "
            "the shot (as dusk falls, the lamps come on one by one)"
        )


def _review_life(parts: _Parts, brief: Brief) -> None:
    """At most one added detail of life: drop the life detail, then secondary motions."""
    if sc.life_details_within(parts.prompt(), brief.wanted).ok:
        return
    if parts.life_detail:
        parts.life_detail = ""
        parts.repairs.append("second detail of life dropped")
    while not sc.life_details_within(parts.prompt(), brief.wanted).ok and parts.motions:
        parts.motions.pop()
        parts.repairs.append("motion adding a detail of life dropped")


def _within_limit(parts: _Parts, limit: int) -> str:
    """The prompt under the target's cap, dropping the least needed parts before cutting."""
    prompt = parts.prompt()
    for trim in ("life_detail", "motions", "lighting", "clay_look"):
        if len(prompt) <= limit:
            return prompt
        if trim == "motions":
            while parts.motions and len(parts.prompt()) > limit:
                parts.motions.pop()
        elif trim == "clay_look":
            parts.clay_look = CLAY_SENTENCE[parts.lang]
        else:
            setattr(parts, trim, "")
        parts.repairs.append(f"{trim} trimmed for length")
        prompt = parts.prompt()
    if len(prompt) > limit:
        log.info("LLM prompt of %d characters cut to %d", len(prompt), limit)
        prompt = truncate(prompt, limit)
    return prompt


def _negative(terms: list[str], prompt: str, move: str, brief: Brief, repairs: list[str]) -> str:
    """Negative terms that forbid nothing the user asked for or the prompt shows."""
    requested = brief.requested
    cleaned = []
    for raw in terms:
        term = clean_text(raw).strip(_TRIM + ".,，。;；、")
        if not term or len(term) > NEGATIVE_TERM_LIMIT or term in cleaned:
            continue
        cleaned.append(term)
    if not cleaned:
        cleaned = list(BASE_NEGATIVE[brief.lang])
    kept = []
    for term in cleaned[:MAX_NEGATIVE_TERMS]:
        if any(sc.mentions(term, r) for r in requested):
            repairs.append(f"negative term {term!r} forbade what was asked")
        elif move != "static" and sc.CAMERA_MOVEMENT_TERMS.mentioned_in(term):
            repairs.append(f"negative term {term!r} forbade the camera move")
        elif not sc.respects_negations(prompt, [term]).ok:
            repairs.append(f"negative term {term!r} forbade what the prompt shows")
        else:
            kept.append(term)
    return truncate(("，" if brief.lang == "zh" else ", ").join(kept), brief.prompt_limit)
