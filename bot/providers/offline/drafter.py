"""Drafts clay-animation prompts with no network: the drafter that always answers.

The photo already shows the scene, so an image-to-video prompt earns its keep by saying
what MOVES, first and in simple action words, then how the camera moves, how the light
changes during the shot, what it is made of, and by staying short. This drafter reads the
user's caption for that (caption.py), composes the prompt from the caption's own words and
a small vocabulary (composer.py, vocabulary.toml), and checks its answer with the same
script checks the evaluation uses. It is deterministic (no randomness, no clock), so tests
can pin its output and the LLM drafter can fall back to it whenever the endpoint is slow,
down or answers nonsense: the user is never left waiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain import script_checks as sc
from bot.domain.types import (
    CAMERA_MOVES,
    DURATIONS,
    PROMPT_LIMIT,
    Draft,
    DraftRequest,
    RefineStep,
)
from bot.providers.offline import composer
from bot.providers.offline.caption import Reading, clean_text, read_caption
from bot.providers.offline.replies import Changes, clamp_duration, read_instruction, truncate
from bot.providers.offline.vocabulary import Subject, TimeOfDay, vocabulary

__all__ = [
    "CAMERA_SHORT",
    "CAMERA_TEXT",
    "DEFAULT_CAMERA",
    "DEFAULT_DURATION",
    "NEGATIVE_TEXT",
    "SUMMARY_LIMIT",
    "ClayScript",
    "OfflineDrafter",
    "clamp_duration",
    "clean_text",
    "detect_language",
    "language_of",
    "normalise_language",
    "script_for",
    "truncate",
]

WORDS = vocabulary()
DEFAULT_CAMERA = composer.FALLBACK_CAMERA
DEFAULT_DURATION = 5
SUMMARY_LIMIT: int = WORDS.text("length", "summary")
# The whole prompt: within the smallest documented cap, and Kling's.
LENGTH_LIMIT: int = min(PROMPT_LIMIT, WORDS.text("length", "limit"))
MAX_EXTRAS = 6

CAMERA_TEXT: dict[str, dict[str, str]] = {
    lang: dict(WORDS.text("camera", "text", lang)) for lang in ("en", "zh")
}
CAMERA_SHORT: dict[str, dict[str, str]] = {
    lang: dict(WORDS.text("camera", "short", lang)) for lang in ("en", "zh")
}
NEGATIVE_TEXT = {
    "en": ", ".join(n.en for n in WORDS.negatives if n.en),
    "zh": "，".join(n.zh for n in WORDS.negatives if n.zh),
}
SPEED_TEXT = {
    "en": {
        -2: "Everything moves very slowly and calmly.",
        -1: "Everything moves slowly and gently.",
        1: "The movement is lively and brisk.",
        2: "The movement is fast and energetic.",
    },
    "zh": {
        -2: "所有动作都非常缓慢、安静。",
        -1: "所有动作都缓慢、轻柔。",
        1: "动作轻快、活泼。",
        2: "动作快速、充满活力。",
    },
}
COLOUR_ZH = {
    "red": "红色", "orange": "橙色", "yellow": "黄色", "green": "绿色", "blue": "蓝色",
    "purple": "紫色", "violet": "紫色", "pink": "粉色", "brown": "棕色", "black": "黑色",
    "white": "白色", "grey": "灰色", "gray": "灰色", "cyan": "青色", "teal": "青绿色",
    "beige": "米色", "gold": "金色", "silver": "银色", "navy": "藏青色", "cream": "奶油色",
}  # fmt: skip

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LATIN = re.compile(r"[A-Za-z]")


# --- language ---------------------------------------------------------------------------


def detect_language(text: str) -> str:
    """'zh' when CJK characters make up at least 30% of the letters, else 'en'.

    Counting letters rather than words keeps "外滩 the Bund at night" Chinese-ish and
    "I love 上海" English, which is what a user writing that way most likely reads.
    """
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0:
        return "en"
    return "zh" if cjk / (cjk + latin) >= 0.3 else "en"


def normalise_language(code: str | None) -> str | None:
    """Map 'zh-hans', 'zh_CN', 'en-GB'... onto 'zh' / 'en'; anything else means no override."""
    if not code:
        return None
    code = code.strip().lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return None


def language_of(request: DraftRequest) -> str:
    """The language to write in: the request's explicit choice, else the description's."""
    return normalise_language(request.language) or detect_language(request.description)


def _draft_language(request: DraftRequest, reading: Reading) -> str:
    """The request's choice; else the caption's words once instructions are out of them."""
    if chosen := normalise_language(request.language):
        return chosen
    if reading.caption:
        return "zh" if reading.chinese_text else "en"
    return detect_language(request.description)


def palette_text(colours: tuple[str, ...], lang: str) -> str:
    """ "a palette of blue, grey and green clay" from the photo's dominant colours."""
    names = [c for c in (re.sub(r"[^a-z ]", "", c.lower()).strip() for c in colours) if c][:3]
    if not names:
        return ""
    if lang == "zh":
        return "、".join(COLOUR_ZH.get(n, n) for n in names) + "的黏土配色"
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"a palette of {listed} clay"


# --- the draft as data, so refinements can change one part and re-render -----------------


@dataclass(slots=True)
class ClayScript:
    """The parts of an offline prompt. Refinements edit these; `draft()` writes the text."""

    lang: str
    hero: str  # the opening: what moves and how, in the user's words where possible
    summary_hero: str  # the same, short, for the caption line
    scene: list[str]  # the caption's other sentences worth keeping
    camera: str
    duration: int
    asked: str = ""  # the caption's words, so the negative never cancels them
    time: TimeOfDay | None = None
    brightness: float | None = None
    orientation: str | None = None
    palette: str = ""
    detail: str = ""  # one small detail of everyday life, or none
    exclusions: list[str] = field(default_factory=list)  # what the caption rules out
    speed: int = 0  # -2 (very slow) .. 2 (fast)
    emphasis: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    base_text: str | None = None  # another drafter's prompt, kept and added to
    base_negative: str | None = None
    base_summary: str | None = None

    # --- rendering --------------------------------------------------------------------------

    def _end(self) -> str:
        return "。" if self.lang == "zh" else "."

    def _join(self, parts: list[str]) -> str:
        return ("" if self.lang == "zh" else " ").join(p for p in parts if p)

    def opening(self) -> str:
        label = WORDS.text("style", "label", self.lang)
        colon = "：" if self.lang == "zh" else ": "
        return f"{label}{colon}{self.hero}{self._end()}"

    def light(self) -> str:
        """The time of day as a change during the shot, or the light as the photo has it."""
        if self.time is not None:
            change = composer.time_sentence(self.time, self.brightness, self.lang, WORDS)
            palette = self.palette[:1].upper() + self.palette[1:] if self.palette else ""
            return self._join([change, palette + self._end() if palette else ""])
        light = composer.light_phrase(self.brightness, self.lang, WORDS)
        comma = "，" if self.lang == "zh" else ", "
        return light + (comma + self.palette if self.palette else "") + self._end()

    def material(self) -> str:
        dioramas = WORDS.text("style", "diorama", self.lang)
        diorama = dioramas.get(self.orientation or "square", dioramas["square"])
        return str(WORDS.text("style", "material", self.lang)).format(diorama=diorama)

    def _body(self, scene: list[str]) -> str:
        parts = [self.opening(), *scene]
        if self.time is not None:
            parts.append(self.light())
        parts += [
            self.detail,
            composer.exclusion_sentence(self.exclusions, self.lang, WORDS),
            SPEED_TEXT[self.lang].get(self.speed, ""),
            CAMERA_TEXT[self.lang][self.camera],
        ]
        if self.time is None:
            parts.append(self.light())
        parts += self.emphasis
        parts.append(self.material())
        return self._join(parts)

    def render_prompt(self) -> str:
        """The prompt; scene sentences, then the oldest extra directions give way to length."""
        extras = list(self.extras)
        scene = list(self.scene)
        label = WORDS.text("style", "also", self.lang)
        while True:
            body = self._body(scene) if self.base_text is None else self._amended_base()
            text = "\n".join([body] + [label + extra for extra in extras])
            if len(text) <= LENGTH_LIMIT or not (extras or scene):
                return truncate(text, LENGTH_LIMIT)
            if len(body) > LENGTH_LIMIT - 400 and scene:
                scene.pop()
            elif extras:
                extras.pop(0)
            else:
                scene.pop()

    def _amended_base(self) -> str:
        """Another drafter's prompt with the camera sentence swapped and new notes added."""
        assert self.base_text is not None
        sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", self.base_text) if s.strip()]
        camera = CAMERA_TEXT[self.lang][self.camera]
        camera_at = [i for i, s in enumerate(sentences) if re.search(r"\bcamera\b|镜头|机位", s)]
        if camera_at:
            sentences[camera_at[0]] = camera
            sentences = [s for i, s in enumerate(sentences) if i not in camera_at[1:]]
        else:
            sentences.append(camera)
        if self.time is not None:
            sentences.append(composer.time_sentence(self.time, None, self.lang, WORDS))
        if self.speed:
            sentences.append(SPEED_TEXT[self.lang][self.speed])
        sentences += self.emphasis
        return truncate(self._join(sentences), LENGTH_LIMIT - 400)

    def render_negative(self, prompt: str) -> str:
        sep = "，" if self.lang == "zh" else ", "
        if self.base_negative is not None:
            parts = [self.base_negative] if self.base_negative else []
            parts += [n for n in self.negatives if n not in self.base_negative]
            return truncate(sep.join(parts), LENGTH_LIMIT)
        terms = composer.negative_prompt(
            self.lang, f"{self.asked}\n{prompt}", self.negatives, WORDS
        )
        return truncate(sep.join(terms), LENGTH_LIMIT)

    def render_summary(self) -> str:
        """One caption line, at most 80 characters."""
        if self.base_summary:
            return truncate(clean_text(self.base_summary), SUMMARY_LIMIT)
        short = CAMERA_SHORT[self.lang][self.camera]
        if self.lang == "zh":
            tail = f" · 黏土动画 · {short} · {self.duration}秒"
        else:
            tail = f" · clay, {short}, {self.duration}s"
        return truncate(clean_text(self.summary_hero), SUMMARY_LIMIT - len(tail)) + tail

    def draft(self) -> Draft:
        prompt = self.render_prompt()
        return Draft(
            prompt=prompt,
            negative_prompt=self.render_negative(prompt),
            camera_move=self.camera,
            duration=self.duration,
            summary=self.render_summary(),
            language=self.lang,
            drafter=OfflineDrafter.name,
        )


# --- composing a script from a request ----------------------------------------------------


def _read(
    request: DraftRequest, lang: str | None, ruled_out: tuple[str, ...]
) -> tuple[Reading, str]:
    """The caption read, and the language the draft is written in."""
    reading = read_caption(request.description, WORDS, extra_ruled_out=ruled_out)
    return reading, lang or _draft_language(request, reading)


def _quotable_in(reading: Reading, lang: str) -> bool:
    """Whether the caption's words can be quoted in a draft written in `lang`."""
    return bool(reading.caption) and (lang == "zh") == reading.chinese_text


def script_for(
    request: DraftRequest, lang: str | None = None, ruled_out: tuple[str, ...] = ()
) -> ClayScript:
    """Read a caption (and photo facts) into the parts of a clay prompt.

    `ruled_out` holds what replies took away ("no boats"), read as the caption's negations.
    """
    reading, lang = _read(request, lang, ruled_out)
    facts = request.facts
    hero = composer.resolve_pronoun(reading, composer.choose_hero(reading, WORDS), WORDS)
    subject = composer.subject_of(hero.subject)
    motion = composer.motion_of(hero.motion)
    if hero.clause is not None and _quotable_in(reading, lang):
        used = composer.hero_clauses(reading, hero, WORDS, lang == "zh")
        opening = composer.hero_text(reading, hero, used, WORDS, lang)
        scene_ids = composer.scene_clauses(reading, hero, used, WORDS, lang)
        scene = composer.scene_sentences(reading, scene_ids, subject, lang, WORDS)
    else:
        opening, subject, motion = composer.composed_hero(reading, hero, WORDS, lang)
        scene = composer.composed_scene(reading, subject, lang, WORDS)
    if lang == "en":
        opening = composer.lower_article(opening)
    opening = composer.fit_opening(opening, lang, WORDS)
    if ambient := composer.ambient_sentence(reading, subject, lang, WORDS):
        scene.append(ambient)
    duration = clamp_duration(request.duration) if request.duration else DEFAULT_DURATION
    time = composer.time_of_day(reading, WORDS)
    brightness = facts.brightness if facts else None
    script = ClayScript(
        lang=lang,
        hero=opening,
        summary_hero=opening,
        scene=scene,
        camera=composer.choose_camera(request.camera_move, reading, motion, subject, facts, WORDS),
        duration=duration,
        asked=reading.caption,
        time=time,
        brightness=brightness,
        orientation=facts.orientation if facts else None,
        palette=palette_text(facts.dominant_colours, lang) if facts else "",
        exclusions=composer.ruled_out_words(reading, lang, WORDS, actions=False),
        negatives=composer.ruled_out_words(reading, lang, WORDS, actions=False)
        + composer.ruled_out_words(reading, lang, WORDS, actions=True),
    )
    dark = (time is not None and time.dark) or (
        brightness is not None and brightness < WORDS.text("light", "even_from")
    )
    script.detail = composer.life_detail(reading, lang, script.render_prompt(), dark, WORDS)
    _check(script, request.description)
    return script


def _check(script: ClayScript, description: str) -> None:
    """Run the script checks on the draft and take out whatever fails them.

    The quoted scene may still name a camera move ("the crowd moves back") or echo an
    instruction the reader did not recognise; such a sentence goes. A detail of life goes
    when the quoted words already hold one the caption did not ask for.
    """
    instructions = sc.instruction_phrases(description)
    for _ in range(len(script.scene) + 1):
        prompt = script.render_prompt()
        bad = [
            s
            for s in script.scene
            if not sc.camera_fits(s, script.camera).ok or not sc.no_echo(s, instructions).ok
        ]
        if not bad:
            break
        script.scene = [s for s in script.scene if s not in bad]
    if not sc.camera_fits(script.hero, script.camera).ok:
        for phrase, _ in sc.camera_moves_named(script.hero):
            script.hero = clean_text(script.hero.replace(phrase, ""))
    prompt = script.render_prompt()
    if len(sc.life_details(prompt) - sc.life_details(script.asked)) > 1:
        script.detail = ""


# --- refinements ----------------------------------------------------------------------------


def _subject_of(phrase: str) -> Subject | None:
    hits = WORDS.find(phrase, ("subject",))
    entry = hits[0].entry if hits else None
    return entry if isinstance(entry, Subject) else None


def apply_changes(script: ClayScript, changes: Changes) -> None:
    """Change `script` in place as `changes` asks; every change is bounded."""
    zh = script.lang == "zh"
    if changes.camera:
        move = changes.camera
        if move == "pan":
            side = changes.direction if changes.direction in ("left", "right") else "default"
            move = str(WORDS.text("camera", "pan", side))
        if move in CAMERA_MOVES:
            script.camera = move
    if changes.duration:
        script.duration = changes.duration
    if changes.speed:
        script.speed = max(-2, min(2, script.speed + changes.speed))
    if changes.time is not None:
        script.time = changes.time
    for phrase in changes.without:
        if phrase not in script.negatives:
            script.negatives.append(phrase)
    for phrase in changes.less:
        script.emphasis.append(f"少一些{phrase}。" if zh else f"Fewer {phrase}, kept subtle.")
        if subject := _subject_of(phrase):
            script.scene = [s for s in script.scene if not _names(s, subject)]
            if _names(script.detail, subject):
                script.detail = ""
    for phrase in changes.more:
        if (subject := _subject_of(phrase)) is not None:
            act = composer.numbered(subject.act[script.lang], True).lstrip("，")
            line = f"{phrase}{act}。" if zh else f"{phrase[:1].upper()}{phrase[1:]} {act}."
            if line not in script.scene:
                script.scene.append(line)
        script.emphasis.append(f"更多{phrase}。" if zh else f"More {phrase}.")
    script.emphasis = script.emphasis[-4:]
    script.negatives = script.negatives[-8:]
    if changes.extra and changes.extra not in script.extras:
        script.extras = (script.extras + [changes.extra])[-MAX_EXTRAS:]


def _names(sentence: str, subject: Subject) -> bool:
    return any(h.entry is subject for h in WORDS.find(sentence, ("subject",)))


# --- the drafter ------------------------------------------------------------------------------


class OfflineDrafter:
    """A PromptDrafter that needs nothing but Python: rules, a vocabulary, no randomness."""

    name = "offline"

    async def draft(self, request: DraftRequest) -> Draft:
        """The hero action first, then the scene, the camera, the light and the clay."""
        return script_for(request).draft()

    async def refine(
        self,
        request: DraftRequest,
        previous: Draft,
        instruction: str,
        history: tuple[RefineStep, ...] = (),
    ) -> Draft:
        """Apply `instruction` to `previous` by simple, deterministic rules.

        An offline `previous` is rebuilt from the description with the history replayed, so
        the prompt stays one clean paragraph. Another drafter's prompt is kept as written
        and only amended: its camera sentence swapped, new notes added after it.
        """
        lang = normalise_language(request.language) or normalise_language(previous.language)
        changes = read_instruction(instruction, WORDS)
        if previous.drafter == self.name:
            steps = [read_instruction(step.instruction, WORDS) for step in history]
            ruled_out = tuple(w for c in [*steps, changes] for w in c.without)
            script = script_for(request, lang, ruled_out)
            for step in steps:
                apply_changes(script, step)
        else:
            script = script_for(request, lang)
            script.base_text = previous.prompt
            script.base_negative = previous.negative_prompt
            script.base_summary = previous.summary
            script.time = None
        if previous.camera_move in CAMERA_MOVES:
            script.camera = previous.camera_move
        if previous.duration in DURATIONS:
            script.duration = previous.duration
        apply_changes(script, changes)
        return script.draft()
