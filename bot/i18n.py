"""Every user-facing sentence goes through `t()`, in Simplified Chinese and English.

Code names a message by key (`t("draft.title", lang, number=2)`); the words live in gettext
catalogues managed with Babel, `bot/locale/<lang>/LC_MESSAGES/claymate.po`, one per
language, with the key as msgid. They are read with Babel at start-up, so no compiled
.mo files are needed. `tests/unit/test_i18n.py` fails when a key used in the code is
missing from either catalogue, or when the two disagree about the values they use.

To add a message: add the key to both .po files; `make i18n` checks them.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "claymate"


def language_for(code: str | None) -> str:
    """Map a Telegram language_code (or our own 'zh'/'en') onto a supported language."""
    if code and code.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def messages(lang: str) -> dict[str, str]:
    """One language's messages, key → text, read once from its .po catalogue."""
    with catalogue_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=None, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The message `key` in `lang`, with `values` filled in."""
    text = messages(language_for(lang)).get(key) or messages(DEFAULT_LANGUAGE).get(key)
    if text is None:
        raise KeyError(f"no message {key!r} in the catalogues")
    return text.format(**values) if values else text


def has(key: str) -> bool:
    return key in messages(DEFAULT_LANGUAGE)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
