"""The machine-readable Telegram Bot API spec, and checks of calls against it.

The spec (`shared/telegram-bot-api/api.json`, next to the repository) lets the tests catch what
Telegram would reject or silently ignore: a misspelt parameter, a missing required one, an
unknown field in a keyboard, callback data over 64 bytes, text over the length limits. It is not
on every developer's machine, so everything here degrades to "no spec": `load_spec()` returns
None and `check_limits()` still checks the handful of limits we know by heart.

Length limits in the spec count characters "after entities parsing", so this module also holds
the one part of Telegram's text formatting the limits need: `render_text()` turns HTML or
MarkdownV2 into plain text plus entities, and fails where Telegram answers "can't parse
entities".
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_ENV = "CLAYMATE_BOT_API_SPEC"
REPO_ROOT = Path(__file__).resolve().parents[2]

SCALAR_TYPES = frozenset({"Integer", "Float", "String", "Boolean", "True"})
_ARRAY = "Array of "
_LENGTH_RE = re.compile(r"\b(\d+)-(\d+) (characters|bytes)\b")
_ITEMS_RE = re.compile(r"must include (\d+)-(\d+) items")
# Subtypes say which one they are in a required String field: "Type of the media, must be
# photo", 'The member's status in the chat, always "member"'.
_DISCRIMINATOR_RE = re.compile(r"(?:must be|always) [\"“]?([a-z_]+)[\"”]?")
_DISCRIMINATOR_FIELDS = ("type", "status", "source")


def default_spec_path() -> Path:
    """Where the spec is looked for: $CLAYMATE_BOT_API_SPEC, else ../shared next to the repo."""
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "telegram-bot-api" / "api.json"


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class BotApiSpec:
    """Indexed view of api.json; lookups are case-insensitive like the real API."""

    version: str
    methods: Mapping[str, Mapping[str, Field]]
    returns: Mapping[str, tuple[str, ...]]
    types: Mapping[str, Mapping[str, Field]]
    subtypes: Mapping[str, tuple[str, ...]]
    _method_index: Mapping[str, str] = field(repr=False)
    _discriminators: Mapping[str, tuple[str, str]] = field(repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BotApiSpec:
        methods = {
            name: _fields(entry.get("fields", ())) for name, entry in raw["methods"].items()
        }
        returns = {name: tuple(entry.get("returns", ())) for name, entry in raw["methods"].items()}
        types = {name: _fields(entry.get("fields", ())) for name, entry in raw["types"].items()}
        # Some "subtypes" are scalars ("String" under RichText): keep only real types.
        subtypes = {
            name: tuple(s for s in entry.get("subtypes", ()) if s in raw["types"])
            for name, entry in raw["types"].items()
            if entry.get("subtypes")
        }
        discriminators: dict[str, tuple[str, str]] = {}
        for name, fields in types.items():
            for key in _DISCRIMINATOR_FIELDS:
                f = fields.get(key)
                if f and f.required and f.types == ("String",):
                    match = _DISCRIMINATOR_RE.search(f.description)
                    if match:
                        discriminators[name] = (key, match.group(1))
                        break
        return cls(
            version=str(raw.get("version", "")),
            methods=methods,
            returns=returns,
            types=types,
            subtypes=subtypes,
            _method_index={name.lower(): name for name in methods},
            _discriminators=discriminators,
        )

    def canonical_method(self, name: str) -> str | None:
        """The spec's spelling of a method name ("SENDMESSAGE" -> "sendMessage"), or None."""
        return self._method_index.get(name.lower())

    def param_types(self, method: str, param: str) -> tuple[str, ...] | None:
        canonical = self.canonical_method(method)
        f = self.methods[canonical].get(param) if canonical else None
        return f.types if f else None

    def concrete_types(self, name: str) -> list[str]:
        """A type with subtypes (InputMedia, BotCommandScope...) stands for its subtypes."""
        if name not in self.subtypes:
            return [name]
        out: list[str] = []
        for sub in self.subtypes[name]:
            out.extend(t for t in self.concrete_types(sub) if t not in out)
        return out

    def discriminator(self, type_name: str) -> tuple[str, str] | None:
        return self._discriminators.get(type_name)


def _fields(raw_fields: Iterable[Mapping[str, Any]]) -> dict[str, Field]:
    return {
        f["name"]: Field(
            name=f["name"],
            types=tuple(f.get("types", ())),
            required=bool(f.get("required")),
            description=str(f.get("description", "")),
        )
        for f in raw_fields
    }


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> BotApiSpec | None:
    p = Path(path)
    if not p.is_file():
        return None
    return BotApiSpec.from_json(json.loads(p.read_text(encoding="utf-8")))


def load_spec(path: str | Path | None = None) -> BotApiSpec | None:
    """The spec, or None when the file is absent (it is not shipped with the repository)."""
    return _load_cached(str(path if path is not None else default_spec_path()))


# --- text formatting, as far as the length limits need it ---------------------------------


class EntityParseError(ValueError):
    """Text Telegram would refuse with "Bad Request: can't parse entities: ..."."""


@dataclass(frozen=True)
class RenderedText:
    text: str
    entities: tuple[dict[str, Any], ...] = ()


def utf16_len(text: str) -> int:
    """Telegram counts entity offsets in UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def render_text(
    text: str, parse_mode: str | None, entities: Sequence[Mapping[str, Any]] | None = None
) -> RenderedText:
    """What Telegram stores for text sent with a parse mode: plain text plus entities."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _HtmlRenderer(text).render()
    if mode == "markdownv2":
        return _MarkdownV2Renderer(text).render()
    # Legacy "Markdown" is rarely used and loosely specified: keep it as sent.
    return RenderedText(text, tuple(dict(e) for e in entities or ()))


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _EntityBuilder:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.length = 0  # UTF-16 units written so far
        self.entities: list[dict[str, Any]] = []

    def write(self, chunk: str) -> None:
        self.out.append(chunk)
        self.length += utf16_len(chunk)

    def add(self, start: int, entity_type: str, **extra: Any) -> None:
        if self.length > start:
            self.entities.append(
                {"type": entity_type, "offset": start, "length": self.length - start, **extra}
            )

    def result(self) -> RenderedText:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return RenderedText("".join(self.out), tuple(ordered))


_HTML_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*/?>")
_HTML_ATTR_RE = re.compile(r"([a-zA-Z-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))")
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_HTML_OTHER = {"a", "span", "blockquote", "tg-emoji", "tg-time"}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_CHARREF_RE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")


class _HtmlRenderer:
    """Telegram's HTML subset; any other tag, or a bare '<', is an error as in the real API."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.b = _EntityBuilder()
        self.stack: list[tuple[str, int, dict[str, str]]] = []

    def render(self) -> RenderedText:
        text, i = self.text, 0
        while i < len(text):
            c = text[i]
            if c == "<":
                m = _HTML_TAG_RE.match(text, i)
                if not m:
                    raise EntityParseError(
                        f"Unexpected start tag at byte offset {_byte_offset(text, i)}"
                    )
                self._tag(m, i)
                i = m.end()
            elif c == "&":
                m = _HTML_CHARREF_RE.match(text, i)
                if m and (m.group(1).startswith("#") or m.group(1) in _HTML_NAMED):
                    ref = m.group(1)
                    if ref.startswith("#x"):
                        self.b.write(chr(int(ref[2:], 16)))
                    elif ref.startswith("#"):
                        self.b.write(chr(int(ref[1:])))
                    else:
                        self.b.write(_HTML_NAMED[ref])
                    i = m.end()
                else:
                    self.b.write(c)
                    i += 1
            else:
                j = i
                while j < len(text) and text[j] not in "<&":
                    j += 1
                self.b.write(text[i:j])
                i = j
        if self.stack:
            tag = self.stack[-1][0]
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        return self.b.result()

    def _tag(self, m: re.Match[str], index: int) -> None:
        closing, name = m.group(1) == "/", m.group(2).lower()
        offset = _byte_offset(self.text, index)
        if name not in _HTML_SIMPLE and name not in _HTML_OTHER:
            kind = "end" if closing else "start"
            raise EntityParseError(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not closing:
            raw_attrs = m.group(3) or ""
            attrs = {
                a.group(1).lower(): next(g for g in a.groups()[1:] if g is not None)
                for a in _HTML_ATTR_RE.finditer(raw_attrs)
            }
            if re.search(r"(?:^|\s)expandable(?:\s|$)", raw_attrs):
                attrs["expandable"] = ""
            self.stack.append((name, self.b.length, attrs))
            return
        if not self.stack or self.stack[-1][0] != name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</'
                f'{self.stack[-1][0] if self.stack else ""}>", found "</{name}>"'
            )
        _, start, attrs = self.stack.pop()
        if name in _HTML_SIMPLE:
            if name == "code" and self.stack and self.stack[-1][0] == "pre":
                language = attrs.get("class", "").removeprefix("language-")
                if language:
                    self.stack[-1][2]["language"] = language
                    return
            extra = (
                {"language": attrs["language"]} if name == "pre" and "language" in attrs else {}
            )
            self.b.add(start, _HTML_SIMPLE[name], **extra)
        elif name == "a":
            href = attrs.get("href", "")
            # Telegram turns a link to tg://user?id=N into a mention of that user.
            if mention := re.fullmatch(r"tg://user\?id=([0-9]{1,19})", href):
                user = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
                self.b.add(start, "text_mention", user=user)
            else:
                self.b.add(start, "text_link", url=href)
        elif name == "span" and attrs.get("class") == "tg-spoiler":
            self.b.add(start, "spoiler")
        elif name == "blockquote":
            expandable = "expandable" in attrs
            self.b.add(start, "expandable_blockquote" if expandable else "blockquote")
        elif name == "tg-emoji":
            self.b.add(start, "custom_emoji", custom_emoji_id=attrs.get("emoji-id", ""))


# Characters MarkdownV2 reserves; outside entities they must be escaped with a backslash.
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_TOGGLES = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)
_MDV2_NAMES = {
    "spoiler": "Spoiler",
    "underline": "Underline",
    "bold": "Bold",
    "italic": "Italic",
    "strikethrough": "Strikethrough",
    "text_link": "TextUrl",
}


class _MarkdownV2Renderer:
    """MarkdownV2 closely enough to fail where Telegram fails (an unescaped '.' or '!')."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.b = _EntityBuilder()
        self.open: list[tuple[str, int, int]] = []  # (entity type, utf16 start, char index)

    def render(self) -> RenderedText:
        text, i = self.text, 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) < 127:
                self.b.write(text[i + 1])
                i += 2
            elif text.startswith("```", i):
                i = self._pre(i)
            elif c == "`":
                i = self._code(i)
            elif c == "[" or text.startswith("![", i):
                self.open.append(("text_link", self.b.length, i))
                i += 2 if c == "!" else 1
            elif c == "]" and self.open and self.open[-1][0] == "text_link":
                i = self._link_end(i)
            elif c == ">" and (i == 0 or text[i - 1] == "\n"):
                i += 1  # blockquote marker; the entity itself is not needed for lengths
            else:
                toggle = next(((m, t) for m, t in _MDV2_TOGGLES if text.startswith(m, i)), None)
                if toggle:
                    self._toggle(toggle[1], i)
                    i += len(toggle[0])
                elif c in _MDV2_RESERVED:
                    raise EntityParseError(
                        f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
                    )
                else:
                    self.b.write(c)
                    i += 1
        if self.open:
            kind, _, index = self.open[-1]
            raise EntityParseError(
                f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset "
                f"{_byte_offset(text, index)}"
            )
        return self.b.result()

    def _toggle(self, kind: str, index: int) -> None:
        if self.open and self.open[-1][0] == kind:
            _, start, _ = self.open.pop()
            self.b.add(start, kind)
        else:
            self.open.append((kind, self.b.length, index))

    def _literal_until(self, i: int, end: str) -> tuple[str, int]:
        """Inside code only '`' and '\\' are escaped; returns (content, index after `end`)."""
        text, chunk = self.text, []
        while i < len(text):
            if text[i] == "\\" and i + 1 < len(text):
                chunk.append(text[i + 1])
                i += 2
            elif text.startswith(end, i):
                return "".join(chunk), i + len(end)
            else:
                chunk.append(text[i])
                i += 1
        raise EntityParseError(
            f"Can't find end of {'Pre' if end == '```' else 'Code'} entity at byte offset "
            f"{_byte_offset(text, i)}"
        )

    def _pre(self, i: int) -> int:
        content, after = self._literal_until(i + 3, "```")
        language, _, body = content.partition("\n") if "\n" in content else ("", "", content)
        start = self.b.length
        self.b.write(body)
        self.b.add(start, "pre", **({"language": language} if language.strip() else {}))
        return after

    def _code(self, i: int) -> int:
        content, after = self._literal_until(i + 1, "`")
        start = self.b.length
        self.b.write(content)
        self.b.add(start, "code")
        return after

    def _link_end(self, i: int) -> int:
        _, start, _ = self.open.pop()
        if not self.text.startswith("(", i + 1):
            raise EntityParseError(
                "Character ']' is reserved and must be escaped with the preceding '\\'"
            )
        url, after = self._literal_until(i + 2, ")")
        self.b.add(start, "text_link", url=url)
        return after


# --- checks ---------------------------------------------------------------------------------

# What check_limits() knows without the spec: (field, lo, hi, unit, counted after entities).
_TEXT_LIMIT = (1, 4096, "characters")
_CAPTION_LIMIT = (0, 1024, "characters")
_CALLBACK_DATA_LIMIT = (1, 64, "bytes")
_TEXT_METHODS = frozenset({"sendMessage", "editMessageText"})


def _length_problem(
    path: str, value: str, lo: int, hi: int, unit: str, parse_mode: str | None = None
) -> str | None:
    if unit == "bytes":
        n = len(value.encode("utf-8"))
    else:
        try:
            n = len(render_text(value, parse_mode).text)
        except EntityParseError:
            n = len(value)
    if n > hi:
        return f"{path}: {n} {unit}, over the limit of {hi} ({lo}-{hi} {unit})"
    if n < lo:
        return f"{path}: {n} {unit}, under the minimum of {lo} ({lo}-{hi} {unit})"
    return None


def _count_problem(path: str, value: Sequence[Any], lo: int, hi: int) -> str | None:
    if lo <= len(value) <= hi:
        return None
    return f"{path}: {len(value)} items, must include {lo}-{hi} items"


def check_limits(method: str, params: Mapping[str, Any], files: Iterable[str] = ()) -> list[str]:
    """The limits that bite in practice, checked without the spec (and merged into check_call).

    text 1-4096 characters and captions 0-1024 after entities parsing; callback_data 1-64 bytes;
    sendMediaGroup 2-10 items; "attach://" references that name no uploaded part.
    """
    problems: list[str] = []

    def add(problem: str | None) -> None:
        if problem and problem not in problems:
            problems.append(problem)

    text = params.get("text")
    if method in _TEXT_METHODS and isinstance(text, str):
        add(_length_problem(f"{method}.text", text, *_TEXT_LIMIT, params.get("parse_mode")))
    caption = params.get("caption")
    if isinstance(caption, str):
        add(
            _length_problem(
                f"{method}.caption", caption, *_CAPTION_LIMIT, params.get("parse_mode")
            )
        )
    markup = params.get("reply_markup")
    if isinstance(markup, Mapping) and isinstance(markup.get("inline_keyboard"), list):
        for r, row in enumerate(markup["inline_keyboard"]):
            for c, button in enumerate(row if isinstance(row, list) else ()):
                data = button.get("callback_data") if isinstance(button, Mapping) else None
                if isinstance(data, str):
                    path = f"{method}.reply_markup.inline_keyboard[{r}][{c}].callback_data"
                    add(_length_problem(path, data, *_CALLBACK_DATA_LIMIT))
    media = params.get("media")
    if method == "sendMediaGroup" and isinstance(media, list):
        add(_count_problem(f"{method}.media", media, 2, 10))
        for i, item in enumerate(media):
            cap = item.get("caption") if isinstance(item, Mapping) else None
            if isinstance(cap, str):
                add(
                    _length_problem(
                        f"{method}.media[{i}].caption",
                        cap,
                        *_CAPTION_LIMIT,
                        item.get("parse_mode"),
                    )
                )
    for problem in _attach_problems(method, params, set(files)):
        add(problem)
    return problems


def _attach_problems(path: str, value: Any, files: set[str]) -> Iterable[str]:
    if isinstance(value, str):
        if value.startswith("attach://") and value[len("attach://") :] not in files:
            yield f"{path}: {value!r} names no uploaded file part"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _attach_problems(f"{path}.{key}", item, files)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _attach_problems(f"{path}[{i}]", item, files)


def check_call(
    spec: BotApiSpec, method: str, params: Mapping[str, Any], files: Iterable[str] = ()
) -> list[str]:
    """Everything about one Bot API call that Telegram would reject or silently ignore.

    `params` are decoded values (nested objects as dicts); `files` names the multipart parts,
    which count as present parameters (an uploaded "video" is not in params).
    """
    canonical = spec.canonical_method(method)
    if canonical is None:
        return [f"{method}: not a Bot API method (spec {spec.version})"]
    files = list(files)
    fields = spec.methods[canonical]
    problems: list[str] = []
    for name in params:
        if name not in fields:
            problems.append(f"{canonical}: unknown parameter {name!r}")
    for f in fields.values():
        if f.required and f.name not in params and f.name not in files:
            problems.append(f"{canonical}: missing required parameter {f.name!r}")
    walker = _Walker(spec, problems)
    for name, value in params.items():
        if name in fields:
            walker.field(f"{canonical}.{name}", fields[name], value, params)
    for problem in check_limits(canonical, params, files):
        if problem not in problems:
            problems.append(problem)
    return problems


def check_object(
    spec: BotApiSpec, type_name: str, value: Any, path: str | None = None
) -> list[str]:
    """Check a JSON value against a spec type: an Update a factory built, a stub's result."""
    problems: list[str] = []
    _Walker(spec, problems).value(path or type_name, (type_name,), value)
    return problems


def check_result(spec: BotApiSpec, method: str, result: Any) -> list[str]:
    """Check a method's result against the spec's declared return type."""
    canonical = spec.canonical_method(method)
    if canonical is None:
        return [f"{method}: not a Bot API method"]
    problems: list[str] = []
    _Walker(spec, problems).value(f"{canonical}()", spec.returns[canonical], result)
    return problems


class _Walker:
    """Recursive check of a value against a list of alternative spec types."""

    def __init__(self, spec: BotApiSpec, problems: list[str]) -> None:
        self.spec = spec
        self.problems = problems

    def field(self, path: str, f: Field, value: Any, container: Mapping[str, Any]) -> None:
        self.value(path, f.types, value)
        if isinstance(value, str):
            m = _LENGTH_RE.search(f.description)
            if m:
                parse_mode = None
                if "after entities parsing" in f.description:
                    key = "quote_parse_mode" if f.name == "quote" else "parse_mode"
                    parse_mode = container.get(key)
                problem = _length_problem(
                    path, value, int(m.group(1)), int(m.group(2)), m.group(3), parse_mode
                )
                if problem:
                    self.problems.append(problem)
        elif isinstance(value, list):
            m = _ITEMS_RE.search(f.description)
            if m:
                problem = _count_problem(path, value, int(m.group(1)), int(m.group(2)))
                if problem:
                    self.problems.append(problem)

    def value(self, path: str, types: Sequence[str], value: Any) -> None:
        if value is None:
            self.problems.append(f"{path}: null is never valid in the Bot API")
            return
        if isinstance(value, list):
            inner = [t[len(_ARRAY) :] for t in types if t.startswith(_ARRAY)]
            if not inner:
                self.problems.append(f"{path}: an array, expected {' or '.join(types)}")
                return
            for i, item in enumerate(value):
                self.value(f"{path}[{i}]", inner, item)
            return
        if isinstance(value, Mapping):
            candidates = [
                t
                for t in types
                if not t.startswith(_ARRAY) and t in self.spec.types and t != "InputFile"
            ]
            if not candidates:
                self.problems.append(f"{path}: an object, expected {' or '.join(types)}")
                return
            chosen = self._pick(path, candidates, value)
            if chosen:
                self.object(path, chosen, value)
            return
        if not any(_scalar_matches(value, t) for t in types):
            self.problems.append(f"{path}: {value!r} is not {' or '.join(types)}")

    def _pick(self, path: str, candidates: Sequence[str], value: Mapping[str, Any]) -> str | None:
        concrete: list[str] = []
        for c in candidates:
            concrete.extend(t for t in self.spec.concrete_types(c) if t not in concrete)
        discriminated = [t for t in concrete if self.spec.discriminator(t)]
        for t in discriminated:
            key, expected = self.spec.discriminator(t) or ("", "")
            if value.get(key) == expected:
                return t
        keys = {d[0] for d in map(self.spec.discriminator, discriminated) if d}
        if discriminated and len(discriminated) == len(concrete):
            shown = ", ".join(f"{k}={value.get(k)!r}" for k in sorted(keys))
            self.problems.append(f"{path}: {shown} matches none of {', '.join(concrete)}")
            return None

        def score(t: str) -> tuple[int, int]:
            fields = self.spec.types[t]
            missing = sum(1 for f in fields.values() if f.required and f.name not in value)
            unknown = sum(1 for k in value if k not in fields)
            return (missing, unknown)

        return min(concrete, key=score)

    def object(self, path: str, type_name: str, value: Mapping[str, Any]) -> None:
        fields = self.spec.types[type_name]
        if not fields:
            return  # CallbackGame, InputFile...: nothing to check
        for key in value:
            if key not in fields:
                self.problems.append(f"{path}: unknown field {key!r} for {type_name}")
        for f in fields.values():
            if f.required and f.name not in value:
                self.problems.append(f"{path}: missing required field {f.name!r} of {type_name}")
        for key, item in value.items():
            if key in fields:
                self.field(f"{path}.{key}", fields[key], item, value)


def _scalar_matches(value: Any, type_name: str) -> bool:
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "True":
        return value is True
    if type_name == "InputFile":
        return isinstance(value, str)  # "attach://name"; the bytes travel as a multipart part
    return False
