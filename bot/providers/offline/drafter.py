"""Drafts clay-animation prompts with no network: the drafter that always answers.

The photo already shows the scene, so an image-to-video prompt earns its keep by saying
what MOVES (simple action verbs), what it is made of (plasticine, stop-motion), how the
camera moves and how it is lit, and by staying short. This drafter writes exactly that from
the user's one line and a few measured photo facts. It is deterministic (no randomness, no
clock), so tests can pin its output and the LLM drafter can fall back to it whenever the
endpoint is slow, down or answers nonsense: the user is never left waiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.types import (
    CAMERA_MOVES,
    DURATIONS,
    PROMPT_LIMIT,
    Draft,
    DraftRequest,
    PhotoFacts,
    RefineStep,
)

DEFAULT_CAMERA = "push_in"
DEFAULT_DURATION = 5
SUMMARY_LIMIT = 80
# Long descriptions are cut: the photo already carries the detail, and short prompts work.
SUBJECT_LIMIT = {"en": 240, "zh": 160}
EXTRA_LIMIT = 300  # one refinement direction line
MAX_EXTRAS = 6
MAX_MOTIONS = 3

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LATIN = re.compile(r"[A-Za-z]")
_TRAILING = ".。!！?？,，;；:：、 \t\n"


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


# --- text helpers -----------------------------------------------------------------------


def clean_text(text: str) -> str:
    """One line, single spaces: descriptions arrive with newlines, tabs and odd spacing."""
    return " ".join(text.split())


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


# --- what moves ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MotionRule:
    """Words that suggest something in the photo can move, and how to say it moves."""

    key: str
    en_words: tuple[str, ...]  # whole English words; plural "s"/"es" also match
    zh_words: tuple[str, ...]  # Chinese substrings, chosen so 上海 is not "sea"
    en: str
    zh: str


MOTION_RULES: tuple[MotionRule, ...] = (
    MotionRule(
        "water",
        (
            "river",
            "water",
            "lake",
            "sea",
            "ocean",
            "canal",
            "harbour",
            "harbor",
            "stream",
            "pond",
            "wave",
            "fountain",
            "bay",
            "creek",
            "waterfront",
            "riverside",
            "bund",
        ),
        (
            "江边",
            "江面",
            "江水",
            "黄浦江",
            "浦江",
            "长江",
            "河边",
            "河面",
            "河水",
            "小河",
            "河流",
            "苏州河",
            "运河",
            "湖面",
            "湖边",
            "湖水",
            "西湖",
            "大海",
            "海边",
            "海浪",
            "海面",
            "海滩",
            "海水",
            "水面",
            "流水",
            "水边",
            "溪",
            "池塘",
            "喷泉",
            "瀑布",
            "外滩",
        ),
        "the water ripples gently",
        "水面轻轻荡起涟漪",
    ),
    MotionRule(
        "boats",
        (
            "boat",
            "ship",
            "ferry",
            "ferries",
            "yacht",
            "sailboat",
            "barge",
            "sampan",
            "canoe",
            "kayak",
            "cruise",
        ),
        ("船", "渡轮", "帆", "舟", "游艇"),
        "little clay boats glide slowly across the water",
        "小小的黏土船慢慢滑过水面",
    ),
    MotionRule(
        "people",
        (
            "people",
            "person",
            "man",
            "men",
            "woman",
            "women",
            "crowd",
            "pedestrian",
            "kid",
            "child",
            "children",
            "friend",
            "family",
            "families",
            "tourist",
            "girl",
            "boy",
            "couple",
            "grandma",
            "grandmother",
            "grandpa",
            "grandfather",
            "mum",
            "mom",
            "dad",
            "baby",
            "babies",
            "student",
            "vendor",
            "walker",
            "runner",
            "dancer",
            "selfie",
            "me",
            "we",
            "us",
        ),
        (
            "人",
            "孩子",
            "朋友",
            "家人",
            "游客",
            "女孩",
            "男孩",
            "情侣",
            "奶奶",
            "爷爷",
            "妈妈",
            "爸爸",
            "宝宝",
            "学生",
            "小贩",
            "我们",
            "自拍",
        ),
        "little clay people stroll and wave",
        "小黏土人慢慢散步、挥手",
    ),
    MotionRule(
        "cars",
        (
            "car",
            "traffic",
            "taxi",
            "taxis",
            "bus",
            "tram",
            "truck",
            "van",
            "scooter",
            "motorbike",
            "motorcycle",
            "bike",
            "bicycle",
            "road",
            "highway",
        ),
        (
            "汽车",
            "出租车",
            "公交",
            "巴士",
            "小车",
            "车流",
            "马路",
            "堵车",
            "车辆",
            "电动车",
            "自行车",
            "单车",
            "电车",
        ),
        "little clay cars roll along the road",
        "小小的黏土汽车沿着马路缓缓行驶",
    ),
    MotionRule(
        "train",
        ("train", "metro", "subway", "railway"),
        ("火车", "地铁", "列车", "高铁"),
        "a clay train chugs past",
        "黏土小火车缓缓驶过",
    ),
    MotionRule(
        "trees",
        (
            "tree",
            "leaf",
            "leaves",
            "forest",
            "woods",
            "park",
            "garden",
            "flower",
            "grass",
            "breeze",
            "wind",
            "windy",
            "plant",
            "bamboo",
            "willow",
        ),
        ("树", "叶", "森林", "公园", "花", "草", "微风", "风吹", "大风", "刮风", "竹"),
        "leaves and branches sway in the breeze",
        "树叶和枝条随风轻轻摇摆",
    ),
    MotionRule(
        "clouds",
        ("cloud", "sky", "skies"),
        ("云朵", "白云", "乌云", "云彩", "云层", "天空", "蓝天"),
        "clouds drift slowly across the sky",
        "云朵在天空中慢慢飘动",
    ),
    MotionRule(
        "lights",
        ("light", "neon", "lantern", "lamp", "skyline", "streetlight", "night"),
        ("灯", "霓虹", "夜景"),
        "lights twinkle and glow",
        "灯光一闪一闪，微微发亮",
    ),
    MotionRule(
        "birds",
        ("bird", "pigeon", "gull", "seagull", "duck", "swan", "sparrow"),
        ("鸟", "鸽", "海鸥", "燕子", "鸭"),
        "birds flap their wings and fly past",
        "小鸟扇动翅膀飞过",
    ),
    MotionRule(
        "rain",
        ("rain", "rainy", "raining", "drizzle", "umbrella", "storm"),
        ("雨",),
        "raindrops fall and splash in little puddles",
        "雨滴落下，在小水洼里溅起水花",
    ),
    MotionRule(
        "snow",
        ("snow", "snowy", "snowing", "snowman", "snowmen"),
        ("雪",),
        "snowflakes drift down",
        "雪花缓缓飘落",
    ),
    MotionRule(
        "steam",
        (
            "food",
            "noodle",
            "soup",
            "tea",
            "coffee",
            "dumpling",
            "steam",
            "cooking",
            "hotpot",
            "bowl",
            "breakfast",
            "dinner",
            "lunch",
            "meal",
            "kitchen",
            "bun",
            "baozi",
            "xiaolongbao",
            "wok",
        ),
        (
            "小笼",
            "包子",
            "饺子",
            "面条",
            "拉面",
            "馄饨",
            "火锅",
            "汤",
            "茶",
            "咖啡",
            "热气",
            "蒸",
            "早餐",
            "美食",
            "饭菜",
            "煎饼",
            "烧烤",
        ),
        "steam curls up from the food",
        "食物上冒出袅袅热气",
    ),
    MotionRule(
        "flame",
        ("candle", "campfire", "fire", "fireplace", "bonfire", "flame"),
        ("蜡烛", "篝火", "火焰", "烛光", "炉火"),
        "the flame flickers softly",
        "火苗轻轻跳动",
    ),
    MotionRule(
        "pets",
        ("cat", "dog", "puppy", "puppies", "kitten", "pet"),
        ("猫", "狗", "宠物"),
        "the animal turns its head and blinks",
        "小动物转过头，眨眨眼睛",
    ),
)
_RULES = {rule.key: rule for rule in MOTION_RULES}
GENERIC_MOTION = {
    "en": "everything comes gently to life with small stop-motion movements",
    "zh": "画面里的一切轻轻动起来，带着定格动画的细微动作",
}


def _en_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")(?:s|es)?\b")


_EN_PATTERNS = {rule.key: _en_pattern(rule.en_words) for rule in MOTION_RULES}


def _first_mention(rule: MotionRule, text: str) -> int | None:
    """Where `text` first mentions something `rule` animates (English or Chinese), if at all."""
    positions = [i for i in (text.find(word) for word in rule.zh_words) if i >= 0]
    if m := _EN_PATTERNS[rule.key].search(text.lower()):
        positions.append(m.start())
    return min(positions) if positions else None


def find_motions(text: str, limit: int = MAX_MOTIONS) -> list[str]:
    """Motion rule keys the description suggests, in the order the user mentions them."""
    found = [
        (pos, i, rule.key)
        for i, rule in enumerate(MOTION_RULES)
        if (pos := _first_mention(rule, text)) is not None
    ]
    return [key for _, _, key in sorted(found)][:limit]


# --- camera, light, colour, material ------------------------------------------------------

CAMERA_TEXT = {
    "en": {
        "static": "The camera stays still in a locked-off shot",
        "push_in": "The camera slowly pushes in",
        "pull_out": "The camera slowly pulls out to reveal the whole set",
        "pan_left": "The camera pans slowly to the left",
        "pan_right": "The camera pans slowly to the right",
        "tilt_up": "The camera tilts slowly upwards",
        "tilt_down": "The camera tilts slowly downwards",
        "orbit": "The camera orbits slowly around the scene",
    },
    "zh": {
        "static": "固定机位，镜头保持不动",
        "push_in": "镜头缓缓推进",
        "pull_out": "镜头缓缓拉远，展示整个场景",
        "pan_left": "镜头缓缓向左摇",
        "pan_right": "镜头缓缓向右摇",
        "tilt_up": "镜头缓缓向上摇",
        "tilt_down": "镜头缓缓向下摇",
        "orbit": "镜头缓缓环绕场景",
    },
}
CAMERA_SHORT = {
    "en": {
        "static": "still camera",
        "push_in": "push in",
        "pull_out": "pull out",
        "pan_left": "pan left",
        "pan_right": "pan right",
        "tilt_up": "tilt up",
        "tilt_down": "tilt down",
        "orbit": "orbit",
    },
    "zh": {
        "static": "固定镜头",
        "push_in": "推进",
        "pull_out": "拉远",
        "pan_left": "左摇",
        "pan_right": "右摇",
        "tilt_up": "上摇",
        "tilt_down": "下摇",
        "orbit": "环绕",
    },
}
LIGHTING_TEXT = {
    "en": {
        "day": "Bright, soft daylight",
        "overcast": "Soft, even overcast light",
        "evening": "A warm evening glow from little lamps",
        "night": "Night, with a warm glow from tiny lamps and windows",
        "sunset": "Golden sunset light with long, soft shadows",
        "dawn": "Pale, rosy morning light",
        "studio": "Soft, warm studio light",
    },
    "zh": {
        "day": "明亮柔和的日光",
        "overcast": "柔和均匀的阴天光线",
        "evening": "小灯发出温暖的傍晚光晕",
        "night": "夜晚，小灯和窗户透出温暖的光",
        "sunset": "金色的夕阳光，拉出长长的柔和影子",
        "dawn": "淡粉色的清晨光线",
        "studio": "柔和温暖的棚拍灯光",
    },
}
# Words (in the description or an instruction) that name the light outright.
_LIGHT_WORDS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    (
        "night",
        re.compile(r"\b(?:at night|night(?:time)?|by night|after dark|neon)\b"),
        ("夜晚", "晚上", "夜里", "夜景", "深夜", "夜色", "霓虹"),
    ),
    (
        "sunset",
        re.compile(r"\b(?:sunset|golden hour|dusk|twilight)\b"),
        ("日落", "夕阳", "黄昏", "傍晚", "晚霞"),
    ),
    ("dawn", re.compile(r"\b(?:sunrise|dawn|early morning)\b"), ("日出", "清晨", "黎明", "早晨")),
    ("overcast", re.compile(r"\b(?:overcast|grey day|gray day)\b"), ("阴天",)),
    ("evening", re.compile(r"\bevening\b"), ()),
    (
        "day",
        re.compile(r"\b(?:daylight|daytime|by day|sunny|midday|noon)\b"),
        ("白天", "晴天", "阳光", "日光", "中午"),
    ),
)
COLOUR_ZH = {
    "red": "红色",
    "orange": "橙色",
    "yellow": "黄色",
    "green": "绿色",
    "blue": "蓝色",
    "purple": "紫色",
    "violet": "紫色",
    "pink": "粉色",
    "brown": "棕色",
    "black": "黑色",
    "white": "白色",
    "grey": "灰色",
    "gray": "灰色",
    "cyan": "青色",
    "teal": "青绿色",
    "beige": "米色",
    "gold": "金色",
    "silver": "银色",
    "navy": "藏青色",
    "cream": "奶油色",
}
ORIENTATION_TEXT = {
    "en": {
        "landscape": "wide miniature diorama",
        "portrait": "tall miniature diorama",
        "square": "miniature diorama",
    },
    "zh": {"landscape": "宽幅微缩场景", "portrait": "竖幅微缩场景", "square": "微缩场景"},
}
MATERIAL_TEXT = {
    "en": "Plasticine with visible fingerprints, matte clay texture, "
    "stop-motion animation at 12 fps, soft shadows.",
    "zh": "橡皮泥质感，可见手指印，哑光黏土纹理，12帧定格动画，柔和阴影。",
}
NEGATIVE_TEXT = {
    "en": "blurry, distorted, deformed, extra limbs, extra fingers, photorealistic skin, "
    "realistic photo, text, subtitles, watermark, logo, flicker, morphing, melting shapes, "
    "low quality",
    "zh": "模糊，变形，扭曲，多余的肢体，多余的手指，写实皮肤，真实照片，文字，字幕，水印，标志，"
    "闪烁，形体融化变形，低画质",
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
EXTRA_LABEL = {"en": "Also: ", "zh": "另外："}
DEFAULT_SUBJECT = {"en": "the scene in the photo", "zh": "照片中的场景"}


def lighting_from(description: str, facts: PhotoFacts | None) -> str:
    """Light named in the description wins; otherwise the photo's brightness decides."""
    named = find_lighting(description)
    if named:
        return named[0]
    if facts is None:
        return "studio"
    if facts.brightness >= 0.55:
        return "day"
    if facts.brightness >= 0.35:
        return "overcast"
    return "evening"


def find_lighting(text: str) -> tuple[str, int, int] | None:
    """The first light word in `text` as (key, start, end), or None."""
    lowered = text.lower()
    hits: list[tuple[int, int, str]] = []
    for key, pattern, zh_words in _LIGHT_WORDS:
        if m := pattern.search(lowered):
            hits.append((m.start(), m.end(), key))
        for word in zh_words:
            if (i := text.find(word)) >= 0:
                hits.append((i, i + len(word), key))
    if not hits:
        return None
    start, end, key = min(hits)
    return key, start, end


def palette_text(colours: tuple[str, ...], lang: str) -> str:
    """ "a palette of blue, grey and green clay" from the photo's dominant colours."""
    names = [c for c in (re.sub(r"[^a-z ]", "", c.lower()).strip() for c in colours) if c][:3]
    if not names:
        return ""
    if lang == "zh":
        return "、".join(COLOUR_ZH.get(n, n) for n in names) + "的黏土配色"
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"a palette of {listed} clay"


def _lower(match: re.Match[str]) -> str:
    return match.group(0).lower()


# --- the draft as data, so refinements can change one part and re-render -----------------


@dataclass(slots=True)
class ClayScript:
    """The parts of an offline prompt. Refinements edit these; `draft()` writes the text."""

    lang: str
    subject: str
    motions: list[str]
    orientation: str | None
    lighting: str | None  # None: keep whatever light `base_text` describes
    palette: str
    camera: str
    duration: int
    speed: int = 0  # -2 (very slow) .. 2 (fast)
    emphasis: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    base_text: str | None = None  # another drafter's prompt, kept and added to
    base_negative: str | None = None
    base_summary: str | None = None

    def render_prompt(self) -> str:
        """The prompt, dropping the oldest extra directions first if it would be too long."""
        extras = list(self.extras)
        while True:
            body = self._body() if self.base_text is None else self._amended_base()
            lines = [body] + [EXTRA_LABEL[self.lang] + extra for extra in extras]
            text = "\n".join(lines)
            if len(text) <= PROMPT_LIMIT or not extras:
                return truncate(text, PROMPT_LIMIT)
            extras.pop(0)

    def _motion_sentence(self) -> str:
        phrases = [getattr(_RULES[key], self.lang) for key in self.motions if key in _RULES]
        if not phrases:
            phrases = [GENERIC_MOTION[self.lang]]
        if self.lang == "zh":
            return "，".join(phrases) + "。"
        # One short sentence per moving thing reads best to video models.
        return " ".join(p[0].upper() + p[1:] + "." for p in phrases)

    def _emphasis_text(self) -> str:
        sep = "" if self.lang == "zh" else " "
        return sep.join(self.emphasis)

    def _body(self) -> str:
        lang = self.lang
        where = ORIENTATION_TEXT[lang].get(self.orientation or "square", "miniature diorama")
        light = LIGHTING_TEXT[lang][self.lighting or "studio"]
        speed = SPEED_TEXT[lang].get(self.speed, "")
        if lang == "zh":
            parts = [
                f"黏土动画：{self.subject}，手工捏制的{where}。",
                self._motion_sentence(),
                speed,
                CAMERA_TEXT[lang][self.camera] + "。",
                light + ("，" + self.palette if self.palette else "") + "。",
                self._emphasis_text(),
                MATERIAL_TEXT[lang],
            ]
            return "".join(p for p in parts if p)
        parts = [
            f"Claymation of {self.subject}: a hand-sculpted {where}.",
            self._motion_sentence(),
            speed,
            CAMERA_TEXT[lang][self.camera] + ".",
            light + (", " + self.palette if self.palette else "") + ".",
            self._emphasis_text(),
            MATERIAL_TEXT[lang],
        ]
        return " ".join(p for p in parts if p)

    def _amended_base(self) -> str:
        """Another drafter's prompt with the camera sentence swapped and new notes added."""
        assert self.base_text is not None
        sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", self.base_text) if s.strip()]
        camera = CAMERA_TEXT[self.lang][self.camera] + ("。" if self.lang == "zh" else ".")
        camera_at = [i for i, s in enumerate(sentences) if re.search(r"\bcamera\b|镜头|机位", s)]
        if camera_at:
            sentences[camera_at[0]] = camera
            sentences = [s for i, s in enumerate(sentences) if i not in camera_at[1:]]
        else:
            sentences.append(camera)
        if self.lighting is not None:
            light = LIGHTING_TEXT[self.lang][self.lighting]
            sentences.append(light + ("。" if self.lang == "zh" else "."))
        if self.speed:
            sentences.append(SPEED_TEXT[self.lang][self.speed])
        sentences += self.emphasis
        base_limit = PROMPT_LIMIT - 400  # leave room for the notes just added
        sep = "" if self.lang == "zh" else " "
        return truncate(sep.join(sentences), base_limit)

    def render_negative(self) -> str:
        base = self.base_negative if self.base_negative is not None else NEGATIVE_TEXT[self.lang]
        sep = "，" if self.lang == "zh" else ", "
        parts = [base] if base else []
        parts += [n for n in self.negatives if n not in base]
        return truncate(sep.join(parts), PROMPT_LIMIT)

    def render_summary(self) -> str:
        """One caption line, at most 80 characters."""
        if self.base_summary:
            return truncate(clean_text(self.base_summary), SUMMARY_LIMIT)
        short = CAMERA_SHORT[self.lang][self.camera]
        if self.lang == "zh":
            tail = f" · 黏土动画 · {short} · {self.duration}秒"
        else:
            tail = f" · clay, {short}, {self.duration}s"
        return truncate(self.subject, SUMMARY_LIMIT - len(tail)) + tail

    def draft(self) -> Draft:
        return Draft(
            prompt=self.render_prompt(),
            negative_prompt=self.render_negative(),
            camera_move=self.camera,
            duration=self.duration,
            summary=self.render_summary(),
            language=self.lang,
            drafter=OfflineDrafter.name,
        )


def script_for(request: DraftRequest, lang: str | None = None) -> ClayScript:
    """Read a description (and photo facts) into the parts of a clay prompt."""
    lang = lang or language_of(request)
    description = clean_text(request.description).strip(_TRAILING)
    subject = truncate(description, SUBJECT_LIMIT[lang]) if description else DEFAULT_SUBJECT[lang]
    if lang == "en":
        # "Claymation of a cat", not "Claymation of A cat"; names keep their capitals.
        subject = re.sub(r"^(A|An|The|My|Our|Some|This|These|Two|Three) ", _lower, subject)
    # Scan a bounded prefix: enough to find what moves, no work on pasted novels.
    scan = description[:4000]
    facts = request.facts
    camera = request.camera_move if request.camera_move in CAMERA_MOVES else DEFAULT_CAMERA
    duration = clamp_duration(request.duration) if request.duration else DEFAULT_DURATION
    return ClayScript(
        lang=lang,
        subject=subject,
        motions=find_motions(scan),
        orientation=facts.orientation if facts else None,
        lighting=lighting_from(scan, facts),
        palette=palette_text(facts.dominant_colours, lang) if facts else "",
        camera=camera,
        duration=duration,
    )


# --- reading a refinement instruction ------------------------------------------------------

_CAMERA_EN: tuple[tuple[str, str], ...] = (
    (
        r"\b(?:zoom(?:s|ing)? out|pull(?:s|ing)? (?:out|back)|dolly out|wider|pull_out)\b",
        "pull_out",
    ),
    (
        r"\b(?:zoom(?:s|ing)? in|push(?:es|ing)? in|dolly in|(?:move|get) closer|closer"
        r"|push_in)\b",
        "push_in",
    ),
    (r"\bpan(?:s|ning)?(?: the camera)?(?: to the| to)? left\b|\bpan_left\b", "pan_left"),
    (r"\bpan(?:s|ning)?(?: the camera)?(?: to the| to)? right\b|\bpan_right\b", "pan_right"),
    (r"\btilt(?:s|ing)? up(?:wards?)?\b|\btilt_up\b", "tilt_up"),
    (r"\btilt(?:s|ing)? down(?:wards?)?\b|\btilt_down\b", "tilt_down"),
    (r"\b(?:orbit(?:s|ing)?|circle around|go around|360)\b", "orbit"),
    (
        r"\b(?:static|still camera|locked[- ]off|fixed camera|no camera move(?:ment)?|"
        r"don'?t move the camera|keep the camera still)\b",
        "static",
    ),
)
_CAMERA_ZH: tuple[tuple[tuple[str, ...], str], ...] = (
    (("拉远", "拉开", "后拉", "镜头后退", "缩小", "拉出"), "pull_out"),
    (("推进", "推近", "拉近", "靠近", "放大", "推镜"), "push_in"),
    (("左摇", "向左摇", "往左摇", "向左移", "往左移", "向左平移"), "pan_left"),
    (("右摇", "向右摇", "往右摇", "向右移", "往右移", "向右平移"), "pan_right"),
    (("上摇", "向上摇", "往上摇"), "tilt_up"),
    (("下摇", "向下摇", "往下摇"), "tilt_down"),
    (("环绕", "绕着", "旋转", "360"), "orbit"),
    (("固定镜头", "固定机位", "镜头不动", "静止镜头", "不要动镜头"), "static"),
)
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
    r"would|like|go|move|slowly|but|in|on|at|around|s|sec|secs|seconds?)\b"
)
_FILLER_ZH = re.compile(
    r"请|把|镜头|让|一点|一些|再|和|然后|并且|画面|吧|得|的|更|些|要|可以|能|一下|视频|秒"
)


@dataclass(slots=True)
class Changes:
    """What one refinement instruction asks for, as far as simple rules can tell."""

    camera: str | None = None
    duration: int | None = None
    speed: int = 0
    lighting: str | None = None
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


def read_instruction(instruction: str) -> Changes:
    """Pick camera, duration, speed, light and more/less/without out of one instruction.

    Each recognised phrase is blanked out of a working copy so later rules do not read it
    twice; whatever meaningful text is left becomes an extra direction line.
    """
    text = clean_text(instruction)
    work = text.lower()
    changes = Changes()
    recognised = False

    hits: list[tuple[int, int, str]] = []
    for pattern, move in _CAMERA_EN:
        if m := re.search(pattern, work):
            hits.append((m.start(), m.end(), move))
    for words, move in _CAMERA_ZH:
        for word in words:
            if (i := work.find(word)) >= 0:
                hits.append((i, i + len(word), move))
    if hits:
        start, end, changes.camera = min(hits)
        work = _blank(work, start, end)
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

    if light := find_lighting(work):
        changes.lighting = light[0]
        work = _blank(work, light[1], light[2])
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
        changes.extra = truncate(text.strip(_TRAILING), EXTRA_LIMIT)
    return changes


def _rule_for(phrase: str) -> str | None:
    keys = find_motions(phrase, limit=1)
    return keys[0] if keys else None


def apply_changes(script: ClayScript, changes: Changes) -> None:
    """Change `script` in place as `changes` asks; every change is bounded."""
    zh = script.lang == "zh"
    if changes.camera:
        script.camera = changes.camera
    if changes.duration:
        script.duration = changes.duration
    if changes.speed:
        script.speed = max(-2, min(2, script.speed + changes.speed))
    if changes.lighting:
        script.lighting = changes.lighting
    for phrase in changes.without:
        if (key := _rule_for(phrase)) in script.motions:
            script.motions.remove(key)
        script.negatives.append(phrase)
    for phrase in changes.less:
        if (key := _rule_for(phrase)) in script.motions:
            script.motions.remove(key)
        script.emphasis.append(f"少一些{phrase}。" if zh else f"Fewer {phrase}, kept subtle.")
    for phrase in changes.more:
        key = _rule_for(phrase)
        if key and key not in script.motions:
            script.motions.append(key)
        script.emphasis.append(f"更多{phrase}。" if zh else f"More {phrase}.")
    script.emphasis = script.emphasis[-4:]
    script.negatives = script.negatives[-6:]
    if changes.extra and changes.extra not in script.extras:
        script.extras = (script.extras + [changes.extra])[-MAX_EXTRAS:]


# --- the drafter ------------------------------------------------------------------------------


class OfflineDrafter:
    """A PromptDrafter that needs nothing but Python: rules, phrase tables, no randomness."""

    name = "offline"

    async def draft(self, request: DraftRequest) -> Draft:
        """Subject from the description, motion from its nouns, light from the photo."""
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
        script = script_for(request, lang)
        if previous.drafter == self.name:
            for step in history:
                apply_changes(script, read_instruction(step.instruction))
        else:
            script.base_text = previous.prompt
            script.base_negative = previous.negative_prompt
            script.base_summary = previous.summary
            script.lighting = None
        if previous.camera_move in CAMERA_MOVES:
            script.camera = previous.camera_move
        if previous.duration in DURATIONS:
            script.duration = previous.duration
        apply_changes(script, read_instruction(instruction))
        return script.draft()
