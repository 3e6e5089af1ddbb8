"""/export sends the project home as a zip; /forget leaves no row and no file behind."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import func, select

from storage.db import Database
from storage.models import (
    BotMessage,
    Chat,
    Project,
    PromptRevision,
    Shot,
    Take,
    TakeEvent,
    User,
)
from tests.e2e.conftest import RunningBot
from tests.e2e.test_private_chat import button, draft_for_photo, generate, is_draft
from tests.fakes.updates import (
    audio_update,
    button_press,
    command_update,
    photo_update,
    text_update,
)
from tests.unit.test_film_sound_and_words import tone, write_audio


async def count(bot: RunningBot, model: type) -> int:
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await db.dispose()


async def remembered(bot: RunningBot, message: dict) -> None:  # type: ignore[type-arg]
    """Wait until the bot has recorded what `message` stands for (it does so after sending)."""
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        for _ in range(100):
            async with db.session() as session:
                key = (message["chat"]["id"], message["message_id"])
                if await session.get(BotMessage, key) is not None:
                    return
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()
    raise AssertionError("the bot never recorded its message")


def files_under(bot: RunningBot, *names: str) -> list[str]:
    root = bot.settings.data_dir
    return [str(p) for name in names for p in (root / name).rglob("*") if p.is_file()]


async def test_export_zips_photos_prompts_and_clips(bot: RunningBot, city_photo: bytes) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "boats glide on the river")
    await remembered(bot, draft)
    bot.push(text_update(bot.chat, bot.user, "slower, at night", reply_to=draft))
    refined = bot.sent_message(await bot.wait_for("sendMessage", is_draft, count=2))
    await generate(bot, refined)

    bot.push(command_update(bot.chat, bot.user, "/export"))
    call = await bot.wait_for("sendDocument")
    assert "1 shots, 1 clips" in call.params["caption"]
    upload = call.uploads["document"]
    archive = zipfile.ZipFile(io.BytesIO(upload.data))
    names = set(archive.namelist())
    assert {"project.md", "project.json", "photos/shot-01.jpg"} <= names
    [clip] = [n for n in names if n.startswith("clips/")]
    assert archive.read(clip)[4:8] == b"ftyp"  # an MP4
    assert archive.read("photos/shot-01.jpg")[:2] == b"\xff\xd8"
    manifest = json.loads(archive.read("project.json"))
    [shot] = manifest["shots"]
    assert shot["description"] == "boats glide on the river"
    assert [r["instruction"] for r in shot["revisions"]] == [None, "slower, at night"]
    assert shot["takes"][0]["clip"] == clip
    markdown = archive.read("project.md").decode()
    assert "## Shot 1" in markdown and "slower, at night" in markdown


async def test_forget_asks_first_then_leaves_no_row_and_no_file(
    bot: RunningBot, city_photo: bytes
) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "lanterns sway")
    await generate(bot, draft)
    assert files_under(bot, "photos", "clips")

    bot.push(command_update(bot.chat, bot.user, "/forget"))
    confirm = bot.sent_message(
        await bot.wait_for("sendMessage", lambda c: "f:" in str(c.params.get("reply_markup")))
    )
    # "Keep everything" changes nothing.
    no = next(
        d
        for row in confirm["reply_markup"]["inline_keyboard"]
        for d in [b["callback_data"] for b in row]
        if d.endswith(":no")
    )
    bot.push(button_press(bot.user, confirm, no))
    await bot.wait_for("editMessageText", lambda c: "Nothing was deleted" in c.params["text"])
    assert await count(bot, Shot) == 1

    bot.push(button_press(bot.user, confirm, button(confirm, "f")))
    await bot.wait_for("editMessageText", lambda c: "forgot you" in c.params["text"])
    for model in (User, Chat, Project, Shot, PromptRevision, Take, TakeEvent, BotMessage):
        assert await count(bot, model) == 0, model.__name__
    assert files_under(bot, "photos", "clips") == []


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


async def _project_with_end_frame_still_and_clip(bot: RunningBot, photo: bytes) -> None:
    """A shot with a clay still, an end frame and a delivered clip."""
    _, draft = await draft_for_photo(bot, photo, "the tide rises along the Bund")
    bot.push(button_press(bot.user, draft, button(draft, "cs")))
    await bot.wait_for("sendPhoto")
    bot.push(photo_update(bot.stub, bot.chat, bot.user, photo, reply_to=draft))
    ended = await bot.wait_for("sendMessage", lambda c: "End frame" in c.params["text"])
    await generate(bot, bot.sent_message(ended))


async def test_export_holds_relative_paths_only_and_leaves_no_file_behind(
    bot: RunningBot, city_photo: bytes
) -> None:
    await _project_with_end_frame_still_and_clip(bot, city_photo)
    bot.push(command_update(bot.chat, bot.user, "/export"))
    call = await bot.wait_for("sendDocument")
    archive = zipfile.ZipFile(io.BytesIO(call.uploads["document"].data))
    text = archive.read("project.json").decode()
    data_dir = bot.settings.data_dir
    assert str(data_dir) not in text and str(data_dir.resolve()) not in text
    assert str(data_dir.name) not in text
    manifest = json.loads(text)
    assert manifest["shots"][0]["revisions"][-1]["params"]["image_tail_path"]  # still named
    for value in _strings(manifest):
        assert not value.startswith("/"), value
    for name in archive.namelist():
        assert not name.startswith("/") and ".." not in name
    # The zip was streamed from a temporary file, which is gone once sent.
    await _no_exports_left(bot)


async def test_a_failed_export_upload_still_removes_the_temporary_zip(
    bot: RunningBot, city_photo: bytes
) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "boats glide on the river")
    await generate(bot, draft)
    bot.stub.fail_next("sendDocument", 400, "Bad Request: file is too big")
    bot.push(command_update(bot.chat, bot.user, "/export"))
    await bot.wait_for("sendDocument")
    await _no_exports_left(bot)


async def _no_exports_left(bot: RunningBot) -> None:
    folder = bot.settings.data_dir / "exports"
    for _ in range(100):
        if not folder.exists() or not any(folder.iterdir()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"left behind: {list(folder.iterdir())}")


async def test_forget_leaves_no_file_of_the_user_anywhere_under_the_data_dir(
    bot: RunningBot, city_photo: bytes, tmp_path: Path
) -> None:
    await _project_with_end_frame_still_and_clip(bot, city_photo)
    song = write_audio(tmp_path / "song.ogg", tone(2.0, 330), "libopus")
    bot.push(audio_update(bot.stub, bot.chat, bot.user, song.read_bytes(), file_name="song.ogg"))
    await bot.wait_for("sendMessage", lambda c: "🎵" in c.params["text"])
    bot.push(command_update(bot.chat, bot.user, "/board"))
    await bot.wait_for("sendPhoto", lambda c: "shots: 1" in c.params.get("caption", ""))
    bot.push(command_update(bot.chat, bot.user, "/film"))
    await bot.wait_for("sendVideo", count=2, timeout=60)
    data_dir = bot.settings.data_dir
    assert {p.parent.name for p in data_dir.rglob("*") if p.is_file()} > {
        "photos",
        "clips",
        "music",
    }

    bot.push(command_update(bot.chat, bot.user, "/forget"))
    confirm = bot.sent_message(
        await bot.wait_for("sendMessage", lambda c: "f:" in str(c.params.get("reply_markup")))
    )
    bot.push(button_press(bot.user, confirm, button(confirm, "f")))
    await bot.wait_for("editMessageText", lambda c: "forgot you" in c.params["text"])
    left = [
        p.relative_to(data_dir)
        for p in data_dir.rglob("*")
        if p.is_file() and not p.name.startswith("claymate.db")
    ]
    assert left == []
