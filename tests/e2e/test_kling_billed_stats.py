"""/stats shows what Kling actually billed (final_unit_deduction), through the real bot."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import draft_for_photo, generate
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import command_update, private_user


async def test_stats_shows_the_units_kling_billed(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    operator = private_user(first_name="Op")
    with FakeKling(task_seconds=0.3) as kling:
        settings = bot_settings(
            tmp_path,
            stub,
            admin_ids=(operator["id"],),
            kling_access_key=FAKE_ACCESS_KEY,
            kling_secret_key=FAKE_SECRET_KEY,
            kling_api_url=kling.url,
        )
        bot: RunningBot = await start_bot(stub, settings)
        bot.user = operator
        try:
            _photo, draft = await draft_for_photo(bot, city_photo, "Boats glide on the river")
            await generate(bot, draft)
            assert kling.stats()["creates"] == 1
            bot.push(command_update(bot.chat, bot.user, "/stats"))
            reply = await bot.wait_for(
                "sendMessage", lambda call: "This month" in str(call.params.get("text"))
            )
            assert "Billed by the providers this month: kling 1.5 units" in reply.params["text"]
        finally:
            await stop_bot(bot)
