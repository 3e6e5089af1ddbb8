"""A paid take is made once however often Telegram delivers the press, or the user taps.

The real handlers (bot.app.build_application) process updates given to them directly, so a
redelivery is exact: the same update, byte for byte, twice. The Bot API stub answers the
bot's calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.media.sample import sample_photo
from bot.wiring import build_services
from storage.models import Shot, Take
from tests.conftest import make_settings
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import button_press, photo_update, private_chat, private_user


@pytest.fixture
async def app(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[Application, TelegramStub]]:
    with TelegramStub() as stub:
        settings = make_settings(
            tmp_path,
            telegram_bot_token=stub.token,
            telegram_api_url=stub.api_root,
            database_url=database_url,
            status_edit_interval_s=0.0,
        )
        wiring = await build_services(settings)
        application = build_application(settings, wiring)
        try:
            async with application:
                yield application, stub
        finally:
            await wiring.aclose()
        assert stub.spec_violations == [] and stub.server_errors == []


async def deliver(application: Application, data: dict[str, Any]) -> None:
    """What the updater does with one update from getUpdates (or a webhook POST)."""
    await application.process_update(Update.de_json(data, application.bot))


async def count(application: Application, model: type) -> int:
    db = application.bot_data["runner"].db  # the database the bot works on
    async with db.session() as session:
        return int(await session.scalar(select(func.count(model.id))) or 0)


async def drafted(application: Application, stub: TelegramStub, user: dict) -> dict[str, Any]:
    chat = private_chat(user)
    photo = photo_update(stub, chat, user, sample_photo(width=640, height=480), caption="boats")
    photo["update_id"] = 900_001
    await deliver(application, photo)
    await deliver(application, photo)  # redelivered: still one shot, one draft
    assert await count(application, Shot) == 1
    drafts = [c for c in stub.calls("sendMessage") if "g:" in str(c.params.get("reply_markup"))]
    assert len(drafts) == 1
    return drafts[0].result


def generate_data(draft: dict[str, Any]) -> str:
    rows = draft["reply_markup"]["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if b["callback_data"][:2] == "g:")


async def test_a_redelivered_generate_update_makes_one_take(
    app: tuple[Application, TelegramStub],
) -> None:
    application, stub = app
    user = private_user(first_name="Mei")
    draft = await drafted(application, stub, user)
    press = button_press(user, draft, generate_data(draft))
    press["update_id"] = 900_002
    await deliver(application, press)
    await deliver(application, press)  # Telegram sent it again (e.g. after a restart)
    assert await count(application, Take) == 1
    # The redelivery was dropped before any handler: one answer, one status message.
    assert len(stub.calls("answerCallbackQuery")) == 1
    statuses = [c for c in stub.calls("sendMessage") if "c:" in str(c.params.get("reply_markup"))]
    assert len(statuses) == 1


async def test_the_same_press_under_a_new_update_id_makes_no_second_take(
    app: tuple[Application, TelegramStub],
) -> None:
    """If the update-id record were lost, the callback query id still names the press."""
    application, stub = app
    user = private_user(first_name="Mei")
    draft = await drafted(application, stub, user)
    press = button_press(user, draft, generate_data(draft))
    for update_id in (900_010, 900_011):
        await deliver(application, {**press, "update_id": update_id})
    assert await count(application, Take) == 1
    answers = [c.params.get("text") or "" for c in stub.calls("answerCallbackQuery")]
    assert len(answers) == 2 and "already being generated" in answers[1]


async def test_a_double_tapped_generate_makes_one_take(
    app: tuple[Application, TelegramStub],
) -> None:
    application, stub = app
    user = private_user(first_name="Mei")
    draft = await drafted(application, stub, user)
    data = generate_data(draft)
    await deliver(application, {**button_press(user, draft, data), "update_id": 900_020})
    await deliver(application, {**button_press(user, draft, data), "update_id": 900_021})
    assert await count(application, Take) == 1
    answers = [c.params.get("text") or "" for c in stub.calls("answerCallbackQuery")]
    assert len(answers) == 2 and "already being generated" in answers[1]


async def test_twenty_parallel_presses_of_one_generate_button_make_one_take(
    app: tuple[Application, TelegramStub],
) -> None:
    """Twenty callback updates for one button, handled at once (PostgreSQL: in parallel)."""
    import asyncio

    application, stub = app
    user = private_user(first_name="Mei")
    draft = await drafted(application, stub, user)
    data = generate_data(draft)
    presses = [{**button_press(user, draft, data), "update_id": 900_100 + n} for n in range(20)]
    await asyncio.gather(*(deliver(application, press) for press in presses))
    assert await count(application, Take) == 1
    statuses = [c for c in stub.calls("sendMessage") if "c:" in str(c.params.get("reply_markup"))]
    assert len(statuses) == 1
    assert len(stub.calls("answerCallbackQuery")) == 20
