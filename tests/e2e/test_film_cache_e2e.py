"""/film twice in the chat: the second answer re-sends Telegram's copy by its file_id without
assembling; a change makes it anew; an over-the-limit film is re-encoded, and the user told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.services import projects as projects_module
from storage.db import Database
from storage.models import FilmCopy
from tests.e2e.conftest import RunningBot, all_takes_delivered
from tests.e2e.test_private_chat import draft_for_photo
from tests.e2e.test_private_chat import generate as press_generate
from tests.fakes.updates import command_update
from tests.integration.test_storyboard import COLOURS, solid_photo


async def generate(bot: RunningBot, draft: dict[str, Any]) -> Any:
    """🎬 Generate, and wait until the take is delivered in the database."""
    clip = await press_generate(bot, draft)
    await all_takes_delivered(bot)
    return clip


@pytest.fixture
def assemblies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every film the bot assembles (the bot runs in this process)."""
    made: list[Path] = []
    real = projects_module.assemble_film

    def counting(paths: list[Path], dest: Path, **kwargs: Any) -> Any:
        made.append(dest)
        return real(paths, dest, **kwargs)

    monkeypatch.setattr(projects_module, "assemble_film", counting)
    return made


async def test_asking_again_re_sends_the_file_id_and_a_change_assembles_again(
    bot: RunningBot, assemblies: list[Path]
) -> None:
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[0]), "a red tram rolls past")
    await generate(bot, draft)

    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    first = await bot.wait_for("sendVideo", count=2, timeout=120)
    assert "video" in first.uploads and len(assemblies) == 1
    file_id = bot.sent_message(first)["video"]["file_id"]

    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    second = await bot.wait_for("sendVideo", count=3, timeout=120)
    assert second.params["video"] == file_id and "video" not in second.uploads
    assert second.params["supports_streaming"] is True
    assert int(second.params["duration"]) == int(first.params["duration"])
    assert len(assemblies) == 1  # nothing was assembled the second time

    bot.push(command_update(bot.chat, bot.user, "/music", "calm"))
    await bot.wait_for("sendMessage", lambda c: "gentle generated tune" in c.params["text"])
    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    third = await bot.wait_for("sendVideo", count=4, timeout=120)
    assert "video" in third.uploads and len(assemblies) == 2
    assert bot.stub.unanswered_callback_queries() == []


async def test_a_film_over_the_upload_limit_is_re_encoded_and_the_user_told(
    bot: RunningBot, assemblies: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[1]), "green leaves sway")
    clip = await generate(bot, draft)
    # A limit under the clip's own size: an artificial stand-in for Telegram's 50 MB.
    limit = clip.uploads["video"].size * 3 // 4
    # The bot is already running: its Projects reads the limit through this property.
    monkeypatch.setattr(
        projects_module.Projects,
        "upload_limit_bytes",
        property(lambda self: limit, lambda self, value: None),
        raising=False,
    )
    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    told = await bot.wait_for("sendMessage", lambda c: "🗜" in c.params["text"], timeout=120)
    assert "lower bitrate" in told.params["text"]
    film = await bot.wait_for("sendVideo", count=2, timeout=120)
    assert film.uploads["video"].size <= limit


async def test_a_file_id_telegram_no_longer_has_is_dropped_and_the_film_uploaded(
    bot: RunningBot, assemblies: list[Path]
) -> None:
    _, draft = await draft_for_photo(bot, solid_photo(COLOURS[2]), "blue kites rise")
    await generate(bot, draft)
    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    await bot.wait_for("sendVideo", count=2, timeout=120)
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.session.execute(update(FilmCopy).values(file_id="BAACAgIAAxkBAAI-gone"))
    finally:
        await db.dispose()

    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    # The clip, the first film, the refused file_id, and the film made and uploaded again.
    uploaded = await bot.wait_for("sendVideo", count=4, timeout=120)
    assert "video" in uploaded.uploads
    stale = [
        c for c in bot.stub.calls("sendVideo") if c.params.get("video") == "BAACAgIAAxkBAAI-gone"
    ]
    assert len(stale) == 1 and len(assemblies) == 2  # tried once, then made and sent again
    assert uploaded.params["supports_streaming"] is True
