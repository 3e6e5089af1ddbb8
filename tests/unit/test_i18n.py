"""Every message exists in English and Chinese, and the code uses no key the catalogues lack."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.app import COMMANDS
from bot.domain.errors import ErrorKind
from bot.domain.types import CAMERA_MOVES, MODES
from bot.i18n import LANGUAGES, language_for, messages, placeholders, t

ROOT = Path(__file__).resolve().parents[2]


def keys_used_in_code() -> set[str]:
    """Every literal key passed to t(), found with Babel's own extractor."""
    found: set[str] = set()
    for package in ("bot", "handlers"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, keywords={"t": None}, comment_tags=(), strip_comment_tags=True
        ):
            if isinstance(message, str):
                found.add(message)
    return found


def keys_built_at_run_time() -> set[str]:
    return (
        {f"error.{kind.value}" for kind in ErrorKind}
        | {f"camera.{move}" for move in CAMERA_MOVES}
        | {f"mode.{mode}" for mode in MODES}
        | {f"menu.{name}" for name in COMMANDS}
    )


def test_both_languages_have_the_same_keys() -> None:
    assert set(messages("en")) == set(messages("zh"))


def test_every_key_the_code_uses_is_in_both_catalogues() -> None:
    used = keys_used_in_code() | keys_built_at_run_time()
    assert len(used) > 50  # the extractor really found the calls
    for lang in LANGUAGES:
        missing = sorted(used - set(messages(lang)))
        assert missing == [], f"{lang} lacks {missing}"


@pytest.mark.parametrize("key", sorted(messages("en")))
def test_each_message_is_translated_with_the_same_placeholders(key: str) -> None:
    english, chinese = messages("en")[key], messages("zh")[key]
    assert english.strip() and chinese.strip()
    assert placeholders(english) == placeholders(chinese)
    words = "".join(part for part, *_ in string.Formatter().parse(english))
    if any(c.isascii() and c.isalpha() for c in words):
        assert english != chinese, "not translated"


def test_language_follows_telegram_language_code() -> None:
    assert language_for("zh-hans") == "zh"
    assert language_for("zh-TW") == "zh"
    assert language_for("en-GB") == "en"
    assert language_for(None) == "en"
    assert t("button.generate", "zh-hans") == "🎬 生成"


def test_an_unknown_key_is_an_error_not_a_silent_blank() -> None:
    with pytest.raises(KeyError):
        t("no.such.key", "en")
