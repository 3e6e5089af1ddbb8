"""Webhook mode, Kling callbacks, /healthz and /metrics: the real bot's HTTP side."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import httpx

from bot.app import serve
from bot.runner import RunnerPolicy
from bot.web import kling_callback_token
from tests.e2e.conftest import FAST, RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, draft_for_photo
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import button_press, command_update


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_webhook_bot(stub: TelegramStub, settings) -> RunningBot:  # type: ignore[no-untyped-def]
    running = RunningBot(stub, settings, asyncio.Event())
    running.task = asyncio.create_task(serve(settings, running.stop, policy=FAST, poll_timeout=1))
    await stub.wait_for_async("setWebhook", timeout=20)
    running.raise_if_crashed()
    return running


async def test_webhook_mode_sets_the_webhook_checks_the_secret_and_serves_updates(
    stub: TelegramStub, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    settings = bot_settings(
        tmp_path,
        stub,
        webhook_url=f"http://127.0.0.1:{port}/tg/updates",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        metrics_port=metrics_port,
    )
    bot = await start_webhook_bot(stub, settings)
    try:
        hook = stub.last("setWebhook").params
        assert hook["url"] == f"http://127.0.0.1:{port}/tg/updates"
        secret = hook["secret_token"]
        assert secret and secret not in stub.token  # derived from the token, not the token
        assert "callback_query" in hook["allowed_updates"]
        update = command_update(bot.chat, bot.user, "/start")
        update["update_id"] = 7001
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            refused = await client.post("/tg/updates", json=update)
            assert refused.status_code == 403
            wrong = await client.post(
                "/tg/updates",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "nope"},
            )
            assert wrong.status_code == 403
            assert stub.calls("sendMessage") == []
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            not_json = await client.post("/tg/updates", content=b"{", headers=headers)
            assert not_json.status_code == 400
            garbage = await client.post(
                "/tg/updates", json={"update_id": 1, "message": {"x": 1}}, headers=headers
            )
            assert garbage.status_code == 400
            ok = await client.post(
                "/tg/updates", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
            )
            assert ok.status_code == 200
            call = await bot.wait_for("sendMessage")
            assert "Claymate" in call.params["text"]

            health = await client.get("/healthz")
            assert health.status_code == 200
            assert health.json() == {
                "status": "ok",
                "database": "ok",
                "runner": "alive",
                "polling_leader": False,
            }
            # /metrics is never on the public port: it has its own (local) bind.
            assert (await client.get("/metrics")).status_code == 404
            metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            assert 'claymate_updates_handled_total{source="webhook"} 1.0' in metrics
            assert 'claymate_takes{state="queued"} 0.0' in metrics
            assert "claymate_queue_depth 0.0" in metrics
        # Webhook instances never long-poll (Telegram would answer 409).
        assert stub.calls("getUpdates") == []
    finally:
        await stop_bot(bot)

    # Switching back: a polling start deletes the webhook and polls.
    polling = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        assert stub.calls("deleteWebhook")
        polling.push(command_update(polling.chat, polling.user, "/help"))
        await polling.wait_for("sendMessage", count=2)
    finally:
        await stop_bot(polling)


async def test_polling_mode_serves_health_and_metrics_on_the_metrics_port(
    stub: TelegramStub, tmp_path: Path
) -> None:
    port = free_port()
    settings = bot_settings(tmp_path, stub, webhook_listen="127.0.0.1", metrics_port=port)
    bot = await start_bot(stub, settings)
    try:
        stub.fail_next("sendMessage", 429, retry_after=1)  # waited out, retried, counted
        bot.push(command_update(bot.chat, bot.user, "/start"))
        await bot.wait_for("sendMessage", lambda call: call.ok)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = (await client.get("/healthz")).json()
            assert health["database"] == "ok" and health["polling_leader"] is True
            metrics = (await client.get("/metrics")).text
            assert 'claymate_updates_handled_total{source="polling"} 1.0' in metrics
            assert "claymate_telegram_flood_waits_total 1.0" in metrics
            # No webhook or callback routes on a metrics-only port.
            assert (await client.post("/kling/callback/x", json={})).status_code == 404
    finally:
        await stop_bot(bot)


async def test_kling_callbacks_make_the_take_due_and_are_verified(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    port, metrics_port = free_port(), free_port()
    with FakeKling(task_seconds=1.0) as kling:
        settings = bot_settings(
            tmp_path,
            stub,
            kling_access_key=FAKE_ACCESS_KEY,
            kling_secret_key=FAKE_SECRET_KEY,
            kling_api_url=kling.url,
            public_url=f"http://127.0.0.1:{port}",
            webhook_listen="127.0.0.1",
            webhook_port=port,
            metrics_port=metrics_port,
        )
        # Polls so rare that only a callback can get the clip delivered within the test.
        slow_polls = RunnerPolicy(poll_interval_s=600, queue_recheck_s=0.2, tick_s=0.1)
        bot = RunningBot(stub, settings, asyncio.Event())
        bot.task = asyncio.create_task(
            serve(settings, bot.stop, policy=slow_polls, poll_timeout=1)
        )
        await stub.wait_for_async("getUpdates", timeout=20)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                token = kling_callback_token(settings)
                forged = await client.post("/kling/callback/wrong", json={"task_id": "t"})
                assert forged.status_code == 404
                unknown = await client.post(
                    f"/kling/callback/{token}",
                    json={"task_id": "not-ours", "task_status": "succeed"},
                )
                # 200 even for a task we don't know: Kling would otherwise keep sending it.
                assert unknown.status_code == 200

                _photo, draft = await draft_for_photo(bot, city_photo, "Boats glide on the river")
                bot.push(button_press(bot.user, draft, button(draft, "g")))
                video = await bot.wait_for("sendVideo", timeout=60)
                assert video.params["supports_streaming"] is True

                stats = kling.stats()
                assert stats["creates"] == 1
                assert stats["callbacks_sent"] >= 1
                # With 600 s between polls, only the callbacks can have got the clip here: each
                # one made the take due for one status query (plus the first poll and download).
                assert stats["queries"] <= stats["callbacks_sent"] + 2, stats

                # The delivery is recorded just after sendVideo returns.
                for _ in range(100):
                    metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                    if 'claymate_takes{state="delivered"} 1.0' in metrics:
                        break
                    await asyncio.sleep(0.1)
                assert 'claymate_takes{state="delivered"} 1.0' in metrics
                submits = (
                    'claymate_provider_request_seconds_count{operation="submit",provider="kling"}'
                )
                assert f"{submits} 1.0" in metrics
        finally:
            bot.stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(bot.task, timeout=30)
