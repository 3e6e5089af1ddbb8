"""Edited captions and messages that are not photos, through the real bot and the stub."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from bot.i18n import t
from storage.db import Database
from storage.models import PromptRevision, Shot
from tests.e2e.conftest import RunningBot
from tests.e2e.test_private_chat import button, draft_for_photo, generate, is_draft
from tests.fakes.telegram_stub import BOT_USERNAME
from tests.fakes.updates import (
    _message,
    document_update,
    group_chat,
    photo_update,
    update,
)

_files = itertools.count(1)


async def shots(bot: RunningBot) -> list[Shot]:
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.session() as session:
            return list((await session.scalars(select(Shot).order_by(Shot.id))).all())
    finally:
        await db.dispose()


async def revisions(bot: RunningBot, shot_id: int) -> list[PromptRevision]:
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.session() as session:
            query = select(PromptRevision).where(PromptRevision.shot_id == shot_id)
            return list((await session.scalars(query.order_by(PromptRevision.id))).all())
    finally:
        await db.dispose()


def edited(message: dict[str, Any], caption: str | None) -> dict[str, Any]:
    """The edited_message update Telegram sends when a caption is changed."""
    changed = {k: v for k, v in message.items() if k != "caption"}
    if caption is not None:
        changed["caption"] = caption
    changed["edit_date"] = message["date"] + 30
    return update(edited_message=changed)


def replies_to(message: dict[str, Any]):  # type: ignore[no-untyped-def]
    def check(call: Any) -> bool:
        reply = call.params.get("reply_parameters") or {}
        return reply.get("message_id") == message["message_id"] and call.ok

    return check


# --- edited captions ----------------------------------------------------------------------


async def test_an_edited_caption_redrafts_the_same_shot_before_any_take(
    bot: RunningBot, city_photo: bytes
) -> None:
    photo, draft = await draft_for_photo(bot, city_photo, "boats glide on the river")

    bot.push(edited(photo, "a tram rolls along the Bund at night"))

    redraft = await bot.wait_for("sendMessage", is_draft, count=2)
    assert t("edit.redrafted", "en") in redraft.params["text"]
    (shot,) = await shots(bot)
    assert shot.description == "a tram rolls along the Bund at night"
    assert len(await revisions(bot, shot.id)) == 2  # a new revision: Undo still works


async def test_after_a_take_an_edited_caption_updates_the_description_and_offers_a_redraft(
    bot: RunningBot, city_photo: bytes
) -> None:
    photo, draft = await draft_for_photo(bot, city_photo, "boats glide on the river")
    await generate(bot, draft)

    bot.push(edited(photo, "fireworks over the river"))

    answer = await bot.wait_for(
        "sendMessage", lambda c: t("edit.description_updated", "en") in c.params["text"]
    )
    assert button(bot.sent_message(answer), "n")  # 🔄 New draft, for this shot
    (shot,) = await shots(bot)
    assert shot.description == "fireworks over the river"
    assert len(await revisions(bot, shot.id)) == 1  # the generated draft is left alone


async def test_a_caption_added_to_a_waiting_photo_drafts_it(
    bot: RunningBot, city_photo: bytes
) -> None:
    update_ = bot.push(photo_update(bot.stub, bot.chat, bot.user, city_photo))
    await bot.wait_for("sendMessage", lambda c: t("ask.description", "en") in c.params["text"])

    bot.push(edited(update_["message"], "boats glide on the river"))

    await bot.wait_for("sendMessage", is_draft)
    (shot,) = await shots(bot)
    assert shot.description == "boats glide on the river" and shot.status == "drafted"


async def test_a_removed_caption_keeps_the_description(bot: RunningBot, city_photo: bytes) -> None:
    photo, _ = await draft_for_photo(bot, city_photo, "boats glide on the river")

    bot.push(edited(photo, None))

    await bot.wait_for(
        "sendMessage", lambda c: t("edit.caption_removed", "en") in c.params["text"]
    )
    (shot,) = await shots(bot)
    assert shot.description == "boats glide on the river"


# --- what is not a photo ------------------------------------------------------------------


def _file(**fields: Any) -> dict[str, Any]:
    number = next(_files)
    return {"file_id": f"media-{number}", "file_unique_id": f"u-media-{number}", **fields}


def media(kind: str) -> dict[str, Any]:
    """The message fields Telegram sends for each kind."""
    if kind == "sticker":
        return {
            "sticker": _file(
                type="regular", width=512, height=512, is_animated=False, is_video=False
            )
        }
    if kind == "animation":
        mp4 = _file(width=320, height=240, duration=3, mime_type="video/mp4")
        return {"animation": mp4, "document": {**mp4, "file_name": "funny.mp4"}}
    if kind == "video":
        return {"video": _file(width=1280, height=720, duration=12, mime_type="video/mp4")}
    if kind == "video_note":
        return {"video_note": _file(length=240, duration=8)}
    if kind == "voice":
        return {"voice": _file(duration=4, mime_type="audio/ogg")}
    if kind == "audio":
        return {"audio": _file(duration=180, mime_type="audio/mpeg", title="Song")}
    raise ValueError(kind)


def media_update(chat: dict[str, Any], user: dict[str, Any], kind: str, **extra: Any) -> Any:
    message = _message(chat, user, reply_to=None, thread_id=None)
    message.update(media(kind))
    message.update(extra)
    return update(message=message)


KINDS = ["sticker", "animation", "video", "video_note", "voice"]  # a song is film music


@pytest.mark.parametrize("kind", KINDS)
async def test_each_kind_that_is_not_a_photo_gets_its_own_answer(
    bot: RunningBot, kind: str
) -> None:
    sent = bot.push(media_update(bot.chat, bot.user, kind))

    call = await bot.wait_for("sendMessage", replies_to(sent["message"]))

    assert call.params["text"] == t(f"other.{kind}", "en")
    assert not await shots(bot)


@pytest.mark.parametrize("kind", ["sticker", "voice"])
async def test_the_answer_speaks_the_users_language(bot: RunningBot, kind: str) -> None:
    bot.user["language_code"] = "zh-hans"
    sent = bot.push(media_update(bot.chat, bot.user, kind))

    call = await bot.wait_for("sendMessage", replies_to(sent["message"]))

    assert call.params["text"] == t(f"other.{kind}", "zh")


async def test_a_pdf_is_not_a_photo_but_a_png_file_still_is(
    bot: RunningBot, city_photo: bytes
) -> None:
    pdf = bot.push(
        document_update(
            bot.stub,
            bot.chat,
            bot.user,
            b"%PDF-1.7\n",
            None,
            file_name="plan.pdf",
            mime_type="application/pdf",
        )
    )
    refusal = await bot.wait_for("sendMessage", replies_to(pdf["message"]))
    assert refusal.params["text"] == t("intake.not_image", "en")

    import io

    from PIL import Image

    png = io.BytesIO()
    Image.open(io.BytesIO(city_photo)).save(png, "PNG")
    bot.push(
        document_update(
            bot.stub,
            bot.chat,
            bot.user,
            png.getvalue(),
            "boats glide",
            file_name="bund.png",
            mime_type="image/png",
        )
    )
    await bot.wait_for("sendMessage", is_draft)
    assert len(await shots(bot)) == 1


async def test_in_a_group_only_media_addressed_to_the_bot_is_answered(bot: RunningBot) -> None:
    group = group_chat()
    chatter = [bot.push(media_update(group, bot.user, kind)) for kind in KINDS]
    addressed = bot.push(
        media_update(group, bot.user, "video", caption=f"@{BOT_USERNAME} make this clay")
    )

    call = await bot.wait_for("sendMessage", replies_to(addressed["message"]))

    assert call.params["text"] == t("other.video", "en")
    for sent in chatter:
        assert not [c for c in bot.stub.calls("sendMessage") if replies_to(sent["message"])(c)]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_24_megapixel_heic_sent_as_a_file_is_told_to_come_as_a_photo(
    bot: RunningBot, lang: str
) -> None:
    """An iPhone's 24 MP HEIC sent as a file is more than intake opens in its memory bound;
    the answer says exactly what to do: send it as a photo, which Telegram compresses."""
    import io

    from PIL import Image

    if lang == "zh":
        bot.user["language_code"] = "zh-hans"
    heic = io.BytesIO()
    Image.new("RGB", (5712, 4284), (120, 80, 40)).save(heic, "HEIF", quality=50)
    sent = bot.push(
        document_update(
            bot.stub,
            bot.chat,
            bot.user,
            heic.getvalue(),
            "boats glide",
            file_name="IMG_0001.HEIC",
            mime_type="image/heic",
        )
    )
    answer = await bot.wait_for("sendMessage", replies_to(sent["message"]))
    text = answer.params["text"]
    assert text == t("intake.too_many_pixels", lang, format="HEIF", megapixels="24")
    if lang == "en":
        assert "as a photo, not as a file" in text and "compress" in text.lower()
    else:
        assert "以照片" in text and "不要以文件" in text and "压缩" in text
    assert await shots(bot) == []
