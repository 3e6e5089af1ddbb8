"""🎬 Generate all on an album: every shot queued by one press, within the quota or not at all."""

from __future__ import annotations

from pathlib import Path

from bot.media.sample import sample_photo
from storage.models import Take, UsageEntry
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_groups_studio import rows
from tests.e2e.test_private_chat import buttons
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import album_updates, button_press


def has_generate_all(call: Call) -> bool:
    return "ga:" in str(call.params.get("reply_markup"))


async def album_answer(bot: RunningBot, count: int, caption: str, nth: int = 1) -> dict:
    photos = [sample_photo(width=640 + 8 * i, height=480) for i in range(count)]
    for update in album_updates(bot.stub, bot.chat, bot.user, photos, caption=caption):
        bot.push(update)
    call = await bot.wait_for("sendMessage", has_generate_all, count=nth, timeout=30)
    return bot.sent_message(call)


def generate_all(message: dict) -> str:
    return next(d for d in buttons(message) if d.startswith("ga:"))


async def test_generate_all_queues_every_shot_or_none_within_the_quota(
    stub: TelegramStub, tmp_path: Path
) -> None:
    # Takes stay queued (no offline render slot), so the test sees them before any clip.
    settings = bot_settings(
        tmp_path, stub, costs="offline=1", quota_user_day=3, offline_max_concurrent=0
    )
    bot = await start_bot(stub, settings)
    try:
        big = await album_answer(bot, 4, "boats glide on the river")
        assert "Generate all (4)" in str(big["reply_markup"])
        bot.push(button_press(bot.user, big, generate_all(big)))
        refused = await bot.wait_for("answerCallbackQuery")
        assert refused.params["show_alert"] is True
        assert "costs 4 units, and 3 are left" in refused.params["text"]
        assert "Nothing was queued" in refused.params["text"]
        assert await rows(bot, Take) == [] and await rows(bot, UsageEntry) == []

        small = await album_answer(bot, 2, "trams roll by", nth=2)
        photo_ids = [s["message_id"] for s in stub.messages(bot.chat["id"], from_bot=False)][-2:]
        bot.push(button_press(bot.user, small, generate_all(small)))
        notice = await bot.wait_for("answerCallbackQuery", count=2)
        assert notice.params["text"] == "2 clips queued."
        report = await bot.wait_for("sendMessage", lambda c: "Generate all:" in c.params["text"])
        assert (
            "shot 5: queued" in report.params["text"] and "shot 6: queued" in report.params["text"]
        )
        statuses = [c for c in stub.calls("sendMessage") if "Queued" in c.params["text"]]
        assert sorted(c.params["reply_parameters"]["message_id"] for c in statuses) == photo_ids
        takes = await rows(bot, Take)
        assert len(takes) == 2 and all(t.status_message_id for t in takes)
        assert sum(u.units for u in await rows(bot, UsageEntry)) == 2

        # Pressed again while they wait: nothing new, and the report says so per shot.
        bot.push(button_press(bot.user, small, generate_all(small)))
        again = await bot.wait_for(
            "sendMessage", lambda c: "Generate all:" in c.params["text"], count=2
        )
        assert again.params["text"].count("already being made") == 2
        assert len(await rows(bot, Take)) == 2
    finally:
        await stop_bot(bot)


async def test_a_group_with_still_first_gets_no_generate_all(
    stub: TelegramStub, tmp_path: Path
) -> None:
    from tests.fakes.updates import group_chat, private_user

    bot = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        group, alice = group_chat(), private_user(first_name="Alice")
        photos = [sample_photo(width=640 + 8 * i, height=480) for i in range(2)]
        for update in album_updates(stub, group, alice, photos, caption="/clay boats glide"):
            bot.push(update)
        answer = await bot.wait_for(
            "sendMessage", lambda c: "o:" in str(c.params.get("reply_markup")), timeout=30
        )
        assert not has_generate_all(answer)
    finally:
        await stop_bot(bot)
