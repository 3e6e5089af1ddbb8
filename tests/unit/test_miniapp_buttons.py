"""Where the storyboard opens from: a web_app button in private chats, a t.me link in groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.miniapp import app_url, storyboard_button
from tests.conftest import make_settings
from tests.fakes.bot_api_spec import default_spec_path


def test_a_private_chat_gets_a_web_app_button_to_its_project(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://bot.example.com/")
    button = storyboard_button(settings, 17, private=True, bot_username="claymate_bot", lang="zh")
    assert button is not None and button.web_app is not None
    assert button.web_app.url == "https://bot.example.com/app?project=17"
    assert button.text == "🎞 故事板"


def test_a_group_gets_a_link_only_with_the_apps_short_name(tmp_path: Path) -> None:
    plain = make_settings(tmp_path, public_url="https://bot.example.com")
    assert storyboard_button(plain, 5, private=False, bot_username="cm_bot", lang="en") is None
    named = make_settings(
        tmp_path, public_url="https://bot.example.com", app_short_name="storyboard"
    )
    button = storyboard_button(named, 5, private=False, bot_username="cm_bot", lang="en")
    assert button is not None and button.web_app is None
    assert button.url == "https://t.me/cm_bot/storyboard?startapp=p5"


def test_no_https_public_url_means_no_storyboard(tmp_path: Path) -> None:
    for public in (None, "http://bot.example.com"):
        settings = make_settings(tmp_path, public_url=public)
        assert app_url(settings) is None
        assert storyboard_button(settings, 1, private=True, bot_username="b", lang="en") is None


def test_telegram_allows_web_app_buttons_in_private_chats_only() -> None:
    """The rule storyboard_button follows, as the Bot API spec states it."""
    path = default_spec_path()
    if not path.is_file():
        pytest.skip(f"no Bot API spec at {path} (set CLAYMATE_BOT_API_SPEC)")
    spec = json.loads(path.read_text())
    fields = {f["name"]: f for f in spec["types"]["InlineKeyboardButton"]["fields"]}
    assert "only in private chats" in fields["web_app"]["description"]
