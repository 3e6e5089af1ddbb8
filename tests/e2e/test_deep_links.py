"""🔗 Share links told as users meet them: the owner's bookmark, a group member opening the
group's project in private, and everyone a link must refuse."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import update as sql_update

from storage.db import Database
from storage.models import ProjectLink, utcnow
from tests.e2e.conftest import RunningBot, still_first_off
from tests.e2e.test_private_chat import button, is_draft
from tests.fakes.telegram_stub import Call
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_chat,
    private_user,
)

LINK = re.compile(r"https://t\.me/claymate_test_bot\?start=(p_[A-Za-z0-9_-]+)")


async def share_link(bot: RunningBot, chat: dict, user: dict) -> str:
    """/projects, open the newest, press 🔗 Share link: the payload of the link it gives."""
    bot.push(command_update(chat, user, "/projects"))
    listing = await bot.wait_for("sendMessage", lambda c: _has(c, "p:"))
    bot.push(button_press(user, bot.sent_message(listing), button(bot.sent_message(listing), "p")))
    card = await bot.wait_for("editMessageText", lambda c: _has(c, "sl:"))
    bot.push(button_press(user, bot.sent_message(card), button(bot.sent_message(card), "sl")))
    shared = await bot.wait_for("sendMessage", lambda c: "t.me/" in c.params["text"])
    match = LINK.search(shared.params["text"])
    assert match is not None and shared.params["chat_id"] == chat["id"]
    return match.group(1)


def _has(call: Call, prefix: str) -> bool:
    return prefix in str(call.params.get("reply_markup"))


async def follow(bot: RunningBot, user: dict[str, Any], payload: str, count: int = 1) -> Call:
    """The user taps the link: Telegram opens their private chat and sends /start payload."""
    bot.push(command_update(private_chat(user), user, "/start", payload))
    return await bot.wait_for(
        "sendMessage", lambda c: c.params["chat_id"] == user["id"], count=count
    )


async def test_the_owner_opens_their_project_by_link_and_nobody_else_can(
    bot: RunningBot,
) -> None:
    lin = bot.user
    bot.push(command_update(bot.chat, lin, "/new", "Harbour", "at", "dusk"))
    await bot.wait_for("sendMessage", lambda c: "Harbour" in c.params["text"])
    payload = await share_link(bot, bot.chat, lin)
    assert len(payload) <= 64

    opened = await follow(bot, lin, payload, count=4)
    assert "Harbour at dusk" in opened.params["text"] and _has(opened, "sl:")

    mallory = private_user(first_name="Mallory")
    refused = await follow(bot, mallory, payload)
    assert "owner" in refused.params["text"] and "Harbour" not in refused.params["text"]
    forged = await follow(bot, mallory, "p_" + secrets.token_urlsafe(24), count=2)
    assert "doesn't work" in forged.params["text"]
    raw_id = await follow(bot, mallory, "1", count=3)
    assert "doesn't work" in raw_id.params["text"]

    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.session.execute(
                sql_update(ProjectLink).values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await db.dispose()
    expired = await follow(bot, lin, payload, count=5)
    assert "expired" in expired.params["text"]


async def test_a_group_member_sees_the_groups_project_and_its_clips_in_private(
    bot: RunningBot, city_photo: bytes
) -> None:
    group = group_chat(title="Clay club")
    await still_first_off(bot, group)
    alice, bob, eve = (private_user(first_name=n) for n in ("Alice", "Bob", "Eve"))
    bot.push(photo_update(bot.stub, group, alice, city_photo, caption="/clay boats glide"))
    draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))
    bot.push(button_press(alice, draft, button(draft, "g")))
    clip = await bot.wait_for("sendVideo", timeout=60)
    file_id = bot.sent_message(clip)["video"]["file_id"]
    payload = await share_link(bot, group, alice)

    bot.stub.set_member_status(group["id"], bob["id"], "member")
    shown = await follow(bot, bob, payload)
    assert "Clay club" in shown.params["text"] and "reply_markup" not in shown.params
    assert "current project" not in shown.params["text"]  # Bob's own current one is his
    video = await bot.wait_for("sendVideo", count=2)
    assert video.params["chat_id"] == bob["id"] and video.params["video"] == file_id

    bot.stub.set_member_status(group["id"], eve["id"], "left")
    refused = await follow(bot, eve, payload)
    assert "members of the group" in refused.params["text"]
    assert "boats" not in refused.params["text"]
    assert len(bot.stub.calls("sendVideo")) == 2  # Eve got no clip
