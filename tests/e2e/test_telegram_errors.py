"""Telegram's refusals are errors to report, never network blips to wait out or swallow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from bot.i18n import t
from handlers import render
from storage.models import Project, PromptRevision, Shot
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, draft_for_photo
from tests.fakes.bot_api_spec import render_text, utf16_len
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import button_press, command_update

ADMIN_CHAT = 770_000_111


@pytest.fixture
async def watched_bot(stub: TelegramStub, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """A bot whose operator reads error reports in ADMIN_CHAT."""
    running = await start_bot(stub, bot_settings(tmp_path, stub, admin_chat_id=ADMIN_CHAT))
    try:
        yield running
    finally:
        await stop_bot(running)


def _to(chat_id: int):  # type: ignore[no-untyped-def]
    return lambda call: call.params.get("chat_id") == chat_id


async def test_a_bad_request_is_reported_and_explained_not_swallowed(
    watched_bot: RunningBot,
) -> None:
    bot = watched_bot
    user_chat = bot.chat["id"]
    bot.stub.fail_next(
        "sendMessage",
        400,
        "Bad Request: can't parse entities: unclosed start tag",
        when=lambda params: params.get("chat_id") == user_chat,
    )

    bot.push(command_update(bot.chat, bot.user, "/help"))

    report = await bot.wait_for("sendMessage", _to(ADMIN_CHAT))
    assert "BadRequest" in report.params["text"]
    apology = await bot.wait_for("sendMessage", lambda c: _to(user_chat)(c) and c.ok)
    assert apology.params["text"] == t("error.telegram_refused", "en")
    to_user = [c for c in bot.stub.calls("sendMessage") if _to(user_chat)(c)]
    assert len(to_user) == 2  # refused once, then the apology: not retried


async def test_a_clip_telegram_refuses_fails_the_take_at_once(
    bot: RunningBot, city_photo: bytes
) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "boats glide")
    bot.stub.fail_next("sendVideo", 400, "Bad Request: wrong file identifier/HTTP URL specified")

    bot.push(button_press(bot.user, draft, button(draft, "g")))

    failed = await bot.wait_for(
        "editMessageText", lambda c: t("error.rejected", "en") in c.params["text"], timeout=60
    )
    assert failed.ok
    assert len(bot.stub.calls("sendVideo")) == 1  # a refusal is not retried


@pytest.mark.parametrize(
    "data",
    [
        "g:99999999999999999999",  # past a 64-bit key: OverflowError in the query before
        "g:9223372036854775808",  # 2**63
        "g:0",
        "g:-5",
        "g:²",  # a digit to str.isdigit(), not to int()
        "g:١٢",
        "g:" + "9" * 60,
    ],
)
async def test_forged_button_numbers_are_answered_as_stale(
    watched_bot: RunningBot, city_photo: bytes, data: str
) -> None:
    bot = watched_bot
    _, draft = await draft_for_photo(bot, city_photo, "boats glide")

    bot.push(button_press(bot.user, draft, data))

    answer = await bot.wait_for("answerCallbackQuery")
    assert answer.params["text"] == t("button.stale", "en")
    assert not [c for c in bot.stub.calls("sendMessage") if _to(ADMIN_CHAT)(c)]  # no crash


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_long_draft_is_cut_on_visible_text_and_telegram_accepts_it(
    stub: TelegramStub, lang: str
) -> None:
    sentence = (
        "外滩的灯光在黄浦江上闪烁，游船 & 帆船缓缓驶过 <外白渡桥>。😀 "
        if lang == "zh"
        else "Boats & ferries glide past the <Garden Bridge> as the Bund's lights come on. 😀 "
    )
    project = Project(title="Shanghai <in> clay & more")
    shot = Shot(position=1)
    revision = PromptRevision(
        number=3,
        prompt=sentence * 200,
        negative_prompt="blur & noise " * 40,
        params={"duration": 5, "mode": "std", "camera_move": "static"},
    )

    text = render.draft_text(revision, shot, project, lang)

    rendered = render_text(text, "HTML")  # raises where Telegram would refuse the markup
    assert utf16_len(rendered.text) <= render.MESSAGE_LIMIT
    assert "…" in rendered.text  # it was cut
    async with Bot(stub.token, base_url=f"{stub.api_root}/bot") as telegram:
        sent = await telegram.send_message(777_000_222, text, parse_mode="HTML")
    assert sent.text is not None and utf16_len(sent.text) <= render.MESSAGE_LIMIT


async def test_a_button_too_old_to_answer_is_not_reported(
    watched_bot: RunningBot, city_photo: bytes
) -> None:
    """Telegram refuses answers to presses it has given up on: expected, not an error."""
    bot = watched_bot
    _, draft = await draft_for_photo(bot, city_photo, "boats glide")
    bot.stub.fail_next(
        "answerCallbackQuery",
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )

    bot.push(button_press(bot.user, draft, "g:999999"))
    await bot.wait_for("answerCallbackQuery")
    bot.push(command_update(bot.chat, bot.user, "/help"))  # handled after the press
    await bot.wait_for("sendMessage", lambda c: "Claymate" in c.params.get("text", ""))

    assert not [c for c in bot.stub.calls("sendMessage") if _to(ADMIN_CHAT)(c)]
