"""Kling callbacks: answered 200 at once, processed afterwards, optionally signed.

A real tornado server on 127.0.0.1 and a real HTTP client; the processing step is a gate
the test holds shut, so "answered before processing" is observed, not assumed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from bot.config import ConfigError, load_settings
from bot.metrics import Metrics
from bot.providers.kling.webhook import sign
from bot.web import WebServer, WebState, kling_callback_token, routes_for
from tests.conftest import make_settings

SECRET = "whsec_" + base64.b64encode(b"kling-webhook-secret-for-tests").decode()


class Processing:
    """on_kling_task that waits for the test's say-so and records what it was given."""

    def __init__(self, ours: bool = True, fail: bool = False) -> None:
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.done: list[tuple[str, str | None]] = []
        self.cancelled = False
        self.ours, self.fail = ours, fail

    async def __call__(self, task_id: str, external_id: str | None) -> bool:
        self.started.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.fail:
            raise RuntimeError(f"database down; token {TOKEN_HOLDER[0]}")
        self.done.append((task_id, external_id))
        return self.ours


TOKEN_HOLDER: list[str] = [""]


class Served:
    def __init__(self, server: WebServer, state: WebState, token: str) -> None:
        self.server, self.state, self.token = server, state, token
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5)

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        raw = json.dumps(body).encode()
        return await self.client.post(
            f"/kling/callback/{self.token}", content=raw, headers=headers or {}
        )


async def _serve(tmp_path: Path, processing: Processing, secret: str = "") -> Served:
    settings = make_settings(tmp_path, telegram_bot_token="1:abc", public_url="https://x.test")
    token = kling_callback_token(settings)
    TOKEN_HOLDER[0] = token
    state = WebState(
        db=None,  # type: ignore[arg-type]  # callbacks never touch it
        metrics=Metrics(),
        kling_token=token,
        on_kling_task=processing,
        kling_webhook_secret=secret,
    )
    server = WebServer(
        "127.0.0.1", 0, routes_for(settings, webhook=False, callbacks=True, metrics=False), state
    )
    server.start()
    return Served(server, state, token)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Served, Processing]]:
    processing = Processing()
    web = await _serve(tmp_path, processing)
    yield web, processing
    processing.gate.set()
    await web.client.aclose()
    await web.server.stop()
    await web.state.background.aclose()


TASK = {"task_id": "t-1", "task_status": "succeed", "task_info": {"external_task_id": "take-1"}}


async def test_a_callback_is_answered_before_it_is_processed(
    served: tuple[Served, Processing],
) -> None:
    web, processing = served
    answer = await web.post(TASK)
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    await asyncio.wait_for(processing.started.wait(), 5)
    assert processing.done == [] and len(web.state.background) == 1  # still being processed
    processing.gate.set()
    await web.state.background.aclose()
    assert processing.done == [("t-1", "take-1")]
    assert len(web.state.background) == 0


async def test_the_enveloped_body_is_accepted_too(served: tuple[Served, Processing]) -> None:
    web, processing = served
    processing.gate.set()
    answer = await web.post({"code": 0, "message": "SUCCEED", "data": TASK})
    assert answer.status_code == 200
    await web.state.background.aclose()
    assert processing.done == [("t-1", "take-1")]


async def test_a_callback_for_a_task_we_dont_know_is_answered_200(tmp_path: Path) -> None:
    # Kling redelivers what it thinks failed: a 4xx for a task that is not ours (an old
    # take /forget removed) would only bring the same callback back again.
    processing = Processing(ours=False)
    processing.gate.set()
    web = await _serve(tmp_path, processing)
    try:
        assert (await web.post({"task_id": "not-ours"})).status_code == 200
        await web.state.background.aclose()
        assert processing.done == [("not-ours", None)]
    finally:
        await web.client.aclose()
        await web.server.stop()


async def test_wrong_token_and_unreadable_bodies_are_refused_without_processing(
    served: tuple[Served, Processing],
) -> None:
    web, processing = served
    forged = await web.client.post("/kling/callback/wrong", json=TASK)
    assert forged.status_code == 404
    assert (await web.post({"no": "task id"})).status_code == 400
    bad = await web.client.post(f"/kling/callback/{web.token}", content=b"{not json")
    assert bad.status_code == 400
    assert len(web.state.background) == 0 and not processing.started.is_set()


async def test_a_failure_while_processing_is_logged_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    processing = Processing(fail=True)
    processing.gate.set()
    web = await _serve(tmp_path, processing)
    try:
        with caplog.at_level(logging.INFO, logger="claymate.web"):
            assert (await web.post(TASK)).status_code == 200
            await web.state.background.aclose()
    finally:
        await web.client.aclose()
        await web.server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "claymate.web"]
    assert any("kling callback for task t-1 failed: RuntimeError" in line for line in lines)
    assert all(web.token not in line for line in caplog.text.splitlines())


async def test_shutdown_cancels_work_that_does_not_finish(
    served: tuple[Served, Processing],
) -> None:
    web, processing = served
    assert (await web.post(TASK)).status_code == 200
    await asyncio.wait_for(processing.started.wait(), 5)
    await web.state.background.aclose(timeout=0.1)  # the gate stays shut
    assert processing.cancelled and len(web.state.background) == 0


def _signed(body: dict[str, Any], *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    stamp = int(time.time() - age)
    raw = json.dumps(body).encode()
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, "msg_1", stamp, raw),
    }


async def test_with_a_webhook_secret_only_signed_fresh_callbacks_are_accepted(
    tmp_path: Path,
) -> None:
    processing = Processing()
    processing.gate.set()
    web = await _serve(tmp_path, processing, secret=SECRET)
    other = "whsec_" + base64.b64encode(b"someone-else").decode()
    try:
        assert (await web.post(TASK)).status_code == 401  # unsigned
        assert (await web.post(TASK, _signed(TASK, secret=other))).status_code == 401
        assert (await web.post(TASK, _signed(TASK, age=600))).status_code == 401  # replayed
        tampered = _signed(TASK)
        assert (await web.post({**TASK, "task_id": "t-2"}, tampered)).status_code == 401
        assert processing.done == []
        # During a secret rotation Kling sends several signatures; one valid is enough.
        rotating = _signed(TASK)
        rotating["webhook-signature"] = "v1,AAAA " + rotating["webhook-signature"]
        assert (await web.post(TASK, rotating)).status_code == 200
        await web.state.background.aclose()
        assert processing.done == [("t-1", "take-1")]
    finally:
        await web.client.aclose()
        await web.server.stop()


def test_a_malformed_webhook_secret_is_refused_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    with pytest.raises(ConfigError) as error:
        load_settings(kling_webhook_secret="whsec_not base64!")
    assert str(error.value).startswith("KLING_WEBHOOK_SECRET: ")
    assert "not base64" not in str(error.value)  # the value itself is never echoed
    with pytest.raises(ValidationError):
        make_settings(tmp_path, kling_webhook_secret="whsec_")
    assert make_settings(tmp_path, kling_webhook_secret=SECRET).kling_webhook_secret
