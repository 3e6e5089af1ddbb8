"""From a phone: open the storyboard, drag shot 3 before shot 1, keep a take, make the film.

The real bot (PTB against the Bot API stub) serves the Mini App on its public server; a
real headless Chromium at phone size (390×844) opens it with init data made for the
stub's token. The database, the chat's project card and the film all follow the page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, generate, is_draft
from tests.fakes.browser import Page, chromium, chromium_path
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import button_press, command_update, photo_update
from tests.fakes.webapp import init_data
from tests.integration.test_storyboard import COLOURS, solid_photo

PUBLIC = "https://storyboard.example"  # what Telegram would open; the page is fetched locally
LINES = ["a red tram turns the corner", "green leaves shiver", "a blue kite climbs"]

# Skipped on a developer's machine without Chromium; CI installs it and sets
# CLAYMATE_REQUIRE_BROWSER, so there a missing browser is a failure, never a skip.
pytestmark = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CLAYMATE_REQUIRE_BROWSER"),
    reason="Chromium is not installed (apt-get install chromium; CI installs it)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def app_bot(stub: TelegramStub, tmp_path: Path) -> AsyncIterator[RunningBot]:
    settings = bot_settings(
        tmp_path,
        stub,
        public_url=PUBLIC,
        webhook_listen="127.0.0.1",
        webhook_port=free_port(),
    )
    running = await start_bot(stub, settings)
    try:
        yield running
    finally:
        await stop_bot(running)


def keyboard(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def is_card(call: Call) -> bool:
    """A project card with its 🎞 Storyboard button (not a take's status being edited)."""
    return "web_app" in json.dumps(call.params.get("reply_markup"))


async def shot_order(bot: RunningBot, project_id: int) -> list[str]:
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.unit_of_work() as uow:
            return [s.description or "" for s in await uow.shots.project_shots(project_id)]
    finally:
        await db.dispose()


async def kept_take(bot: RunningBot, project_id: int) -> list[int | None]:
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.unit_of_work() as uow:
            return [s.kept_take_id for s in await uow.shots.project_shots(project_id)]
    finally:
        await db.dispose()


async def page_shots(page: Page) -> list[int]:
    return list(
        await page.evaluate(
            "[...document.querySelectorAll('li.shot')].map(li => +li.dataset.shot)"
        )
    )


async def test_arranging_the_film_with_a_finger(app_bot: RunningBot, tmp_path: Path) -> None:
    bot = app_bot
    bot.push(command_update(bot.chat, bot.user, "/new", "Harbour"))
    await bot.wait_for("sendMessage")
    drafts = []
    for index, line in enumerate(LINES):  # one after another, so the shots are in this order
        bot.push(photo_update(bot.stub, bot.chat, bot.user, solid_photo(COLOURS[index]), line))
        drafts.append(
            bot.sent_message(await bot.wait_for("sendMessage", is_draft, count=index + 1))
        )
    await generate(bot, drafts[0])  # shot 1 has a clip to play and keep

    # The chat's menu button opens the storyboard.
    (menu,) = bot.stub.calls("setChatMenuButton")
    assert menu.params["menu_button"]["type"] == "web_app"
    assert menu.params["menu_button"]["web_app"]["url"] == f"{PUBLIC}/app"

    # The project card has 🎞 Storyboard, a web_app button (this is a private chat).
    bot.push(command_update(bot.chat, bot.user, "/projects"))
    listing = bot.sent_message(
        await bot.wait_for(
            "sendMessage", lambda c: '"p:' in json.dumps(c.params.get("reply_markup"))
        )
    )
    bot.push(button_press(bot.user, listing, button(listing, "p")))
    card = await bot.wait_for("editMessageText", is_card)
    storyboard = next(b for b in keyboard(card.params) if "web_app" in b)
    url = storyboard["web_app"]["url"]
    match = re.fullmatch(re.escape(PUBLIC) + r"/app\?project=(\d+)", url)
    assert match, url
    project_id = int(match.group(1))
    assert await shot_order(bot, project_id) == LINES

    # Open it in a real browser, as Telegram would, with init data for this bot.
    user = dict(bot.user, language_code="en")
    data = init_data(bot.stub.token, user)
    local = f"http://127.0.0.1:{bot.settings.webhook_port}/app?project={project_id}"
    hook = f"window.__claymateInitData = {json.dumps(data)};"
    async with chromium(tmp_path / "profile", init_script=hook) as page:
        await page.goto(local)
        await page.wait_for("document.querySelectorAll('li.shot').length === 3")
        shots = await page_shots(page)
        assert await page.evaluate("document.querySelector('h1').textContent") == "Harbour"
        # The kept clip plays inline: the browser read its metadata through the signed link.
        await page.wait_for("document.querySelector('li.shot video').readyState >= 1")
        assert await page.evaluate("document.querySelector('li.shot img.still').naturalWidth") > 0

        # Drag shot 3 by its handle to above shot 1.
        renders = await page.evaluate("window.__claymate.renders")
        await page.drag(
            f"li.shot[data-shot='{shots[2]}'] .handle", f"li.shot[data-shot='{shots[0]}']"
        )
        await page.wait_for(f"window.__claymate.renders > {renders}")
        assert await page_shots(page) == [shots[2], shots[0], shots[1]]
        assert await shot_order(bot, project_id) == [LINES[2], LINES[0], LINES[1]]

        # The ↓ control does the same for those who cannot drag.
        renders = await page.evaluate("window.__claymate.renders")
        await page.evaluate(
            f"document.querySelector(\"li.shot[data-shot='{shots[0]}'] .down\").click()"
        )
        await page.wait_for(f"window.__claymate.renders > {renders}")
        assert await shot_order(bot, project_id) == [LINES[2], LINES[1], LINES[0]]

        # ⭐ Keep the take of (what is now) the last shot.
        renders = await page.evaluate("window.__claymate.renders")
        await page.evaluate("document.querySelector('button.take').click()")
        await page.wait_for(f"window.__claymate.renders > {renders}")
        assert (
            await page.evaluate(
                "document.querySelector('button.take').getAttribute('aria-pressed')"
            )
            == "true"
        )
        assert (await kept_take(bot, project_id))[2] is not None

        # 🖼 The shape for new photos: 9:16, the chat's card says the same.
        renders = await page.evaluate("window.__claymate.renders")
        await page.evaluate(
            "const s = document.querySelector('#aspect'); s.value = '9:16';"
            " s.dispatchEvent(new Event('change'))"
        )
        await page.wait_for(f"window.__claymate.renders > {renders}")
        assert await page.evaluate("document.querySelector('#aspect').value") == "9:16"

        screenshot = await page.screenshot(tmp_path / "storyboard-390x844.png")
        if target := os.environ.get("CLAYMATE_SCREENSHOT_DIR"):
            shutil.copy(screenshot, Path(target) / screenshot.name)
        assert screenshot.stat().st_size > 10_000

        # 🎞 Make film: the chat receives it.
        videos = len(bot.stub.calls("sendVideo"))
        await page.evaluate("document.querySelector('#make-film').click()")
        film = await bot.wait_for("sendVideo", count=videos + 1, timeout=120)
        assert film.params["chat_id"] == bot.chat["id"]
        assert "Harbour" in film.params["caption"]

    # The chat's project card shows the new order too: one source of truth.
    bot.push(button_press(bot.user, listing, button(listing, "p")))
    card = await bot.wait_for("editMessageText", is_card, count=2)
    text = card.params["text"]
    assert text.index(LINES[2]) < text.index(LINES[1]) < text.index(LINES[0])
    assert "9:16" in text


async def test_the_storyboard_speaks_chinese_and_wears_telegrams_dark_theme(
    app_bot: RunningBot, tmp_path: Path
) -> None:
    bot = app_bot
    bot.push(command_update(bot.chat, bot.user, "/new", "外滩"))
    await bot.wait_for("sendMessage")
    user = dict(bot.user, language_code="zh-hans")
    data = init_data(bot.stub.token, user)
    # What Telegram's script provides inside the app, for a user in dark mode.
    telegram = {
        "initData": data,
        "initDataUnsafe": {},
        "themeParams": {"bg_color": "#101418", "text_color": "#f0f0f0", "button_color": "#8774e1"},
    }
    hook = (
        f"window.Telegram = {{ WebApp: Object.assign({json.dumps(telegram)}, {{"
        " ready() {}, expand() {}, BackButton: { show() {}, hide() {}, onClick() {} } }) };"
    )
    local = f"http://127.0.0.1:{bot.settings.webhook_port}/app"
    async with chromium(tmp_path / "profile", init_script=hook) as page:
        await page.goto(local)
        await page.wait_for("window.__claymate.ready")
        assert await page.evaluate("document.querySelector('h1').textContent") == "我的项目"
        assert await page.evaluate("document.querySelector('.project-line').textContent") == (
            "外滩0 个镜头 · 0 段视频"
        )
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(16, 20, 24)"
        # Opening it from the list shows its (empty) storyboard with Chinese controls.
        await page.evaluate("document.querySelector('.project-line').click()")
        await page.wait_for("document.querySelector('h1').textContent === '外滩'")
        assert await page.evaluate("document.querySelector('#make-film').textContent") == (
            "🎞 合成影片"
        )
