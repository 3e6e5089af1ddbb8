"""A group as a shared studio, told as the stream of updates a privacy-mode bot receives.

In privacy mode Telegram hands a group bot only commands meant for it, messages that
mention it, replies to its messages, service messages and button presses; the stream below
also carries some chatter (as a bot with privacy mode off would see) to show it is ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import PromptRevision, Shot, Take
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, still_first_off, stop_bot
from tests.e2e.test_privacy_export_forget import remembered
from tests.e2e.test_private_chat import button, buttons, is_draft
from tests.fakes.telegram_stub import BOT_USERNAME, Call, TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_user,
    text_update,
)


@pytest.fixture
async def bot(stub: TelegramStub, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """Few status edits: Telegram allows a group about 20 messages a minute (PTB waits)."""
    running = await start_bot(stub, bot_settings(tmp_path, stub, status_edit_interval_s=60))
    try:
        yield running
    finally:
        await stop_bot(running)


async def rows(bot: RunningBot, model: type, *where: Any) -> list[Any]:
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.session() as session:
            return list((await session.execute(select(model).where(*where))).scalars())
    finally:
        await db.dispose()


def keep_label(call: Call) -> str:
    markup = call.params["reply_markup"]
    return next(
        b["text"]
        for row in markup["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("k:")
    )


async def test_a_group_shares_drafts_keeps_quiet_and_lets_admins_decide(
    bot: RunningBot, city_photo: bytes
) -> None:
    group = group_chat(title="Clay club")
    await still_first_off(bot, group)  # this story pays for takes from the draft itself
    alice = private_user(first_name="Alice")
    bob = private_user(first_name="Bob", language_code="zh-hans")
    carol = private_user(first_name="Carol")
    bot.stub.set_member_status(group["id"], carol["id"], "administrator")

    # Chatter and an unaddressed photo: no answer at all, and nothing downloaded.
    bot.push(text_update(group, alice, "look what I shot on the Bund today"))
    bot.push(photo_update(bot.stub, group, bob, city_photo, caption="nice!"))
    # /clay@bot on a photo: a draft for the group, without the command in the description.
    photo = bot.push(
        photo_update(
            bot.stub, group, alice, city_photo, caption=f"/clay@{BOT_USERNAME} boats glide"
        )
    )
    draft_call = await bot.wait_for("sendMessage", is_draft)
    draft = bot.sent_message(draft_call)
    assert draft_call.params["reply_parameters"]["message_id"] == photo["message"]["message_id"]
    assert len(bot.stub.calls("getFile")) == 1
    assert [c for c in bot.stub.calls("sendMessage") if not is_draft(c)] == []
    [shot] = await rows(bot, Shot, Shot.chat_id == group["id"])
    assert (shot.description, shot.created_by) == ("boats glide", alice["id"])

    # Bob refines Alice's draft by replying to it; the revision records him.
    await remembered(bot, draft)
    bot.push(text_update(group, bob, "slower, at night", reply_to=draft))
    refined_call = await bot.wait_for("sendMessage", is_draft, count=2)
    refined = bot.sent_message(refined_call)
    revisions = await rows(bot, PromptRevision, PromptRevision.shot_id == shot.id)
    assert [r.created_by for r in revisions] == [alice["id"], bob["id"]]

    # Carol (an admin) keeps Generate for admins; Bob is told no, Carol generates.
    bot.push(command_update(group, carol, "/generate", "admins", bot_username=BOT_USERNAME))
    policy = await bot.wait_for("sendMessage", lambda c: "admins only" in c.params["text"])
    assert policy.params["chat_id"] == group["id"]
    bot.push(button_press(bob, refined, button(refined, "g")))
    refusal = await bot.wait_for(
        "answerCallbackQuery", lambda c: "管理员" in str(c.params.get("text"))
    )
    assert refusal.params["show_alert"] is True
    assert await rows(bot, Take) == []
    bot.push(button_press(carol, refined, button(refined, "g")))
    video_call = await bot.wait_for("sendVideo", timeout=60)
    clip = bot.sent_message(video_call)
    [take] = await rows(bot, Take)
    assert take.requested_by == carol["id"]

    # Alice and Bob vote with ⭐: the count shows on the clip's button; it is the kept take.
    bot.push(button_press(alice, clip, button(clip, "k")))
    first = await bot.wait_for("editMessageReplyMarkup")
    assert keep_label(first).endswith(" 1")
    bot.push(button_press(bob, clip, button(clip, "k")))
    second = await bot.wait_for("editMessageReplyMarkup", count=2)
    assert keep_label(second).endswith(" 2")
    bot.push(button_press(bob, clip, button(clip, "k")))  # one vote per member
    third = await bot.wait_for("editMessageReplyMarkup", count=3)
    assert keep_label(third).endswith(" 2")
    [shot] = await rows(bot, Shot, Shot.id == shot.id)
    assert shot.kept_take_id == take.id and not shot.kept_by_admin

    # Mentioning the bot on a photo works too; /projects lists the group's project.
    bot.push(
        photo_update(bot.stub, group, bob, city_photo, caption=f"@{BOT_USERNAME} a tram rolls")
    )
    await bot.wait_for("sendMessage", is_draft, count=3)
    shots = await rows(bot, Shot, Shot.chat_id == group["id"])
    assert sorted(s.description for s in shots) == ["a tram rolls", "boats glide"]
    bot.push(command_update(group, alice, "/projects", bot_username=BOT_USERNAME))
    listing = await bot.wait_for("sendMessage", lambda c: "2 shots" in c.params["text"])
    assert listing.params["chat_id"] == group["id"]
    assert any(d.startswith("p:") for d in buttons(bot.sent_message(listing)))

    # Still no hint was ever sent for the chatter.
    await asyncio.sleep(0.3)
    texts = [c.params["text"] for c in bot.stub.calls("sendMessage")]
    assert not any("Send me a photo" in text for text in texts)


async def test_an_admins_star_picks_the_kept_take_over_the_votes(
    bot: RunningBot, city_photo: bytes
) -> None:
    group = group_chat()
    await still_first_off(bot, group)
    alice, bob, carol = (private_user(first_name=n) for n in ("Alice", "Bob", "Carol"))
    bot.stub.set_member_status(group["id"], carol["id"], "creator")
    bot.push(photo_update(bot.stub, group, alice, city_photo, caption="/clay lanterns sway"))
    draft = bot.sent_message(await bot.wait_for("sendMessage", is_draft))
    bot.push(button_press(alice, draft, button(draft, "g")))
    first = bot.sent_message(await bot.wait_for("sendVideo", timeout=60))
    bot.push(button_press(bob, first, button(first, "a")))  # 🔁 Again: a second take
    second = bot.sent_message(await bot.wait_for("sendVideo", count=2, timeout=60))
    bot.push(button_press(alice, first, button(first, "k")))
    bot.push(button_press(bob, first, button(first, "k")))
    await bot.wait_for("editMessageReplyMarkup", count=2)
    bot.push(button_press(carol, second, button(second, "k")))
    await bot.wait_for("answerCallbackQuery", lambda c: "admin" in str(c.params.get("text")))
    takes = await rows(bot, Take)
    [shot] = await rows(bot, Shot)
    assert shot.kept_by_admin and shot.kept_take_id == max(t.id for t in takes)


async def test_privacy_mode_is_read_from_getme_and_logged_at_start(
    stub: TelegramStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="handlers.groups"):
        running = await start_bot(stub, bot_settings(tmp_path, stub))
        try:
            await running.wait_for("setMyCommands", count=2)
            for _ in range(50):
                if "privacy mode is on" in caplog.text:
                    break
                await asyncio.sleep(0.05)
        finally:
            await stop_bot(running)
    assert "privacy mode is on" in caplog.text
    assert "replies to its messages" in caplog.text
