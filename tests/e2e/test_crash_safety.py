"""kill -9 the bot at every state boundary of a take: nothing paid for is lost or made twice.

The bot runs as its own process (tests/fakes/bot_process.py, i.e. `bot.app.serve`) against
the Bot API stub (a thread here) and the fake Kling (its own process, tasks of a few
seconds). Cuts come from CLAYMATE_TEST_CRASH_AT (bot/runner.py `crash_point`: the
process dies with os._exit(137) at a named point) or from SIGKILL sent while the fake Kling
or the stub holds back an answer. After the last restart, each take is delivered and the
fake saw exactly one create for it.

Documented behaviour for the one window no bot can see into: if the process dies after
sendVideo went out and before the answer was recorded, the clip is sent again after the
restart (at least once: a paid clip is never lost, at worst the user gets it twice). Every
other cut delivers exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import normalise_database_url
from bot.media.sample import sample_photo
from storage.db import Database
from storage.models import Take
from storage.uow import UnitOfWork
from tests.conftest import REPO_ROOT
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import button_press, photo_update, private_chat, private_user

# The named cut points in jobs.py, in the order one take meets them.
HOOK_CUTS = (
    "claimed",  # leased by this runner, nothing else done
    "slot_reserved",  # submitting committed, provider not called
    "before_create",  # attempt counted, create not sent
    "created_not_saved",  # Kling created the task; its id not saved
    "submitted",  # task id saved
    "rendering",  # first poll saved
    "downloading",  # Kling said succeed
    "downloaded_not_saved",  # the clip is on disk, not recorded
    "delivering",  # clip recorded, not sent
    "before_send",  # status shown as uploading, sendVideo not called
)
TASK_SECONDS = 2.0


class BotProcess:
    """Start, kill and restart `python -m tests.fakes.bot_process` with a given crash point."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, crash_at: str | None = None) -> None:
        assert self.proc is None or self.proc.poll() is not None
        env = dict(self.env)
        env.pop("CLAYMATE_TEST_CRASH_AT", None)
        if crash_at:
            env["CLAYMATE_TEST_CRASH_AT"] = crash_at
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} crash_at={crash_at}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.bot_process"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def wait_exit(self, timeout: float = 40.0) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            while (code := self.proc.poll()) is None:  # noqa: ASYNC110 - polls state in other threads/processes
                await asyncio.sleep(0.02)
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


class FakeKlingProcess:
    def __init__(self, tmp_path: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.fake_kling",
                "--port",
                "0",
                "--task-seconds",
                str(TASK_SECONDS),
                "--state-file",
                str(tmp_path / "kling-state.json"),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_fake/stats", timeout=5).json()

    def configure(self, config: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_fake/config", json=config, timeout=5).raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def kling(tmp_path: Path) -> Iterator[FakeKlingProcess]:
    fake = FakeKlingProcess(tmp_path)
    try:
        yield fake
    finally:
        fake.stop()


class Scenario:
    """One user, one bot process, the fakes and a read-only view of the database."""

    def __init__(
        self, stub: TelegramStub, bot: BotProcess, kling: FakeKlingProcess, db: Database
    ) -> None:
        self.stub, self.bot, self.kling, self.db = stub, bot, kling, db
        self.user = private_user(first_name="Wei")
        self.chat = private_chat(self.user)

    def videos(self) -> list[Call]:
        return [c for c in self.stub.calls("sendVideo") if c.ok]

    async def press_generate(self, caption: str) -> None:
        """Photo → draft → 🎬, as a user does it (the bot must be running)."""
        before = len(self._drafts())
        self.stub.push_update(
            photo_update(
                self.stub,
                self.chat,
                self.user,
                sample_photo(width=640, height=480),
                caption=caption,
            )
        )
        [*_, draft_call] = await self.stub.wait_for_async(
            "sendMessage", count=before + 1, timeout=30, predicate=_is_draft
        )
        draft = draft_call.result
        data = next(
            b["callback_data"]
            for row in draft["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith("g:")
        )
        self.stub.push_update(button_press(self.user, draft, data))

    def _drafts(self) -> list[Call]:
        return [c for c in self.stub.calls("sendMessage") if _is_draft(c)]

    async def takes(self) -> list[Take]:
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            ids = [t.id for t in await _all_takes(uow)]
            return [t for i in ids if (t := await uow.takes.get_take(i)) is not None]

    async def wait_take(self, predicate: Any, timeout: float = 60.0) -> Take:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                for take in await self.takes():
                    if predicate(take):
                        return take
                await asyncio.sleep(0.05)

    async def start_polling(self) -> None:
        """Start the bot without a crash point and wait until its runner is working."""
        self.bot.start()
        async with asyncio.timeout(30):
            while "job runner" not in self.bot.log_tail().rsplit("===== start", 1)[-1]:  # noqa: ASYNC110 - polls state in other threads/processes
                await asyncio.sleep(0.05)

    async def crash_at(self, point: str) -> None:
        try:
            code = await self.bot.wait_exit()
        except TimeoutError:
            raise AssertionError(f"never reached {point}\n{self.bot.log_tail()}") from None
        assert code == 137, f"expected a crash at {point}, exit {code}\n{self.bot.log_tail()}"

    async def statuses(self, take_id: int) -> list[str]:
        async with self.db.session() as session:
            return [e.status for e in await UnitOfWork(session).takes.take_events(take_id)]


async def _all_takes(uow: UnitOfWork) -> list[Take]:
    from sqlalchemy import select

    return list((await uow.session.execute(select(Take).order_by(Take.id))).scalars())


def _is_draft(call: Call) -> bool:
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(b.get("callback_data", "").startswith("g:") for row in rows for b in row)


@pytest.fixture
async def scenario(
    stub: TelegramStub, kling: FakeKlingProcess, database_url: str, tmp_path: Path
) -> AsyncIterator[Scenario]:
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN=stub.token,
        TELEGRAM_API_URL=stub.api_root,
        KLING_ACCESS_KEY=FAKE_ACCESS_KEY,
        KLING_SECRET_KEY=FAKE_SECRET_KEY,
        KLING_API_URL=kling.url,
        KLING_POLL_INTERVAL="0.3",
        DATABASE_URL=database_url,
        CLAYMATE_DATA_DIR=str(tmp_path / "data"),
        CLAYMATE_STATUS_EDIT_INTERVAL="0",
        CLAYMATE_LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO_ROOT),
    )
    bot = BotProcess(env, tmp_path / "bot.log")
    db = Database.from_url(normalise_database_url(database_url))
    try:
        yield Scenario(stub, bot, kling, db)
    finally:
        bot.terminate()
        await db.dispose()


async def test_a_take_survives_a_kill_at_every_state_boundary(scenario: Scenario) -> None:
    """One take, killed at each cut in turn; each restart carries it one step further."""
    s = scenario
    s.kling.configure({"task_seconds": 600})  # rendering until we say otherwise
    s.bot.start(crash_at=HOOK_CUTS[0])
    await s.stub.wait_for_async("getUpdates", timeout=30)
    await s.press_generate("boats glide along the river")
    await s.crash_at(HOOK_CUTS[0])
    for point in HOOK_CUTS[1:]:
        s.bot.start(crash_at=point)
        await s.crash_at(point)
        if point == "rendering":
            s.kling.configure({"task_seconds": 0.5})  # now the task has finished upstream
    s.bot.start()
    take = await s.wait_take(lambda t: t.status == "delivered")
    assert s.bot.terminate() == 0, s.bot.log_tail()

    stats = s.kling.stats()
    assert stats["create_requests_by_external_id"] == {take.external_id: 1}
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    [video] = s.videos()  # exactly once
    assert take.delivered_message_id == video.result["message_id"]
    assert take.telegram_file_id == video.result["video"]["file_id"]
    statuses = await s.statuses(take.id)
    assert statuses.count("delivered") == 1 and statuses.count("submitted") == 1
    for status in ("queued", "submitting", "rendering", "downloading", "delivering"):
        assert status in statuses
    assert s.bot.starts == len(HOOK_CUTS) + 1


async def test_kills_while_kling_or_telegram_hold_their_answer(scenario: Scenario) -> None:
    """SIGKILL with a create in flight, then with sendVideo done but unanswered."""
    s = scenario
    s.kling.configure({"hang_create": {"mode": "delay", "seconds": 30, "times": 1}})
    s.bot.start()
    await s.stub.wait_for_async("getUpdates", timeout=30)
    await s.press_generate("lanterns sway over Suzhou Creek")
    async with asyncio.timeout(30):
        while s.kling.stats()["create_requests"] < 1:  # noqa: ASYNC110 - polls state in other threads/processes
            await asyncio.sleep(0.02)
    s.bot.kill()  # Kling made the task; the bot never heard its id
    [queued] = await s.takes()
    assert queued.status == "submitting" and queued.upstream_task_id is None

    release = s.stub.hold("sendVideo")
    s.bot.start()
    [held] = await s.stub.wait_for_async("sendVideo", timeout=60)
    s.bot.kill()  # Telegram has the clip; the bot never heard back
    release.set()
    [before] = await s.takes()
    assert before.status == "delivering" and before.delivered_message_id is None

    s.bot.start()
    take = await s.wait_take(lambda t: t.status == "delivered")
    assert s.bot.terminate() == 0, s.bot.log_tail()
    stats = s.kling.stats()
    assert stats["create_requests_by_external_id"] == {take.external_id: 1}
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    # At least once in the blind window: the clip went again, and the second one is recorded.
    first, second = s.videos()
    assert first is held
    assert take.delivered_message_id == second.result["message_id"]
    assert (await s.statuses(take.id)).count("delivered") == 1


async def test_kills_after_send_and_after_delivered(scenario: Scenario) -> None:
    """Cut after sendVideo returned (resent once), and after `delivered` (never resent)."""
    s = scenario
    s.kling.configure({"task_seconds": 1.0})
    s.bot.start(crash_at="sent_not_saved")
    await s.stub.wait_for_async("getUpdates", timeout=30)
    await s.press_generate("a tram rolls past the Bund")
    await s.crash_at("sent_not_saved")
    assert len(s.videos()) == 1
    s.bot.start(crash_at="delivered")
    await s.crash_at("delivered")
    await s.start_polling()
    take = await s.wait_take(lambda t: t.status == "delivered")
    await asyncio.sleep(1.0)  # a restarted runner would resend now if it were going to
    assert s.bot.terminate() == 0, s.bot.log_tail()
    assert len(s.videos()) == 2
    assert take.delivered_message_id == s.videos()[1].result["message_id"]
    assert s.kling.stats()["creates_by_external_id"] == {take.external_id: 1}
