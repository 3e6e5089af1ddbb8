"""500 users press 🎬 Generate at once: every clip delivered, and the bot stays responsive.

Run: .venv/bin/python bench/bench_generate.py [--users 500] [--min-s 10] [--max-s 60]

Three processes: the fake Kling (tasks take a random 10-60 s each), the bot (`bot.app.serve`
as `claymate run` uses it, KLING_MAX_CONCURRENT=users so the account is not the limit), and
this one, which runs the Bot API stub and plays the users: each sends a captioned photo,
waits for the draft, and presses Generate. Inside the bot process we measure event-loop
stalls (lateness of a 10 ms asyncio.sleep ticker; goal: never over 100 ms while serving,
i.e. from the bot's first getUpdates on; start-up before that is reported on its own),
peak RSS, and the SQL statements the job runner makes per Kling poll (a
before_cursor_execute listener). Results: bench/results/generate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import machine, write_results  # noqa: E402

RESULTS = REPO / "bench" / "results" / "generate.json"
STALL_GOAL_MS = 100.0


# --- the fake Kling, with a random duration per task ------------------------------------


def serve_kling(min_s: float, max_s: float) -> None:
    from tests.fakes.fake_kling import FakeKling, FakeTask

    class RandomKling(FakeKling):
        def state_of(self, task: FakeTask) -> str:
            seconds = random.Random(task.task_id).uniform(min_s, max_s)
            elapsed = self.now() - task.created_at
            if elapsed < seconds * 0.2:
                return "submitted"
            return "processing" if elapsed < seconds else "succeed"

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    fake = RandomKling(task_seconds=max_s).start()
    print(fake.port, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    fake.stop()


# --- the bot, instrumented ---------------------------------------------------------------


def serve_bot(metrics_path: Path) -> None:
    import asyncio
    import resource

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from telegram.ext import Updater

    from bot.app import serve
    from bot.config import load_settings
    from bot.logs import configure_logging
    from bot.providers.kling.client import KlingVideoProvider
    from bot.runner import JobRunner, RunnerPolicy

    counts = {"runner_sql": 0, "all_sql": 0, "polls": 0, "claim_cycles": 0}
    lateness: list[tuple[float, float]] = []  # (wall-clock time a tick began, ms late)

    def on_sql(*_args: Any) -> None:
        counts["all_sql"] += 1
        try:
            name = asyncio.current_task().get_name()  # type: ignore[union-attr]
        except RuntimeError:
            return
        if name.startswith("take-") or name == "job-runner":
            counts["runner_sql"] += 1

    event.listen(Engine, "before_cursor_execute", on_sql)
    status, claim = KlingVideoProvider.status, JobRunner.claim_and_start

    async def counted_status(self: Any, *args: Any) -> Any:
        counts["polls"] += 1
        return await status(self, *args)

    async def counted_claim(self: Any) -> int:
        counts["claim_cycles"] += 1
        return await claim(self)

    KlingVideoProvider.status = counted_status  # type: ignore[method-assign]
    JobRunner.claim_and_start = counted_claim  # type: ignore[method-assign]

    # Serving starts when the bot starts polling. (The stub records a getUpdates when it
    # answers, which for the first long poll is its whole timeout later.)
    start_polling = Updater.start_polling
    serving: dict[str, float] = {}

    async def noted_start_polling(self: Any, *args: Any, **kwargs: Any) -> Any:
        serving.setdefault("from", time.time())
        return await start_polling(self, *args, **kwargs)

    Updater.start_polling = noted_start_polling  # type: ignore[method-assign]

    settings = load_settings()
    configure_logging(settings)

    async def ticker(stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            start, since = loop.time(), time.time()  # a stall is dated from when it began
            await asyncio.sleep(0.01)
            lateness.append((since, (loop.time() - start - 0.01) * 1000))

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        tick = asyncio.create_task(ticker(stop))
        policy = RunnerPolicy(poll_interval_s=settings.kling_poll_interval_s)
        await serve(settings, stop, policy=policy)
        await tick

    asyncio.run(main())
    metrics = {
        **counts,
        "lateness": [(round(at, 3), round(ms, 1)) for at, ms in lateness],
        "serving_from": serving["from"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    metrics_path.write_text(json.dumps(metrics))


# --- the users ---------------------------------------------------------------------------


def run(users: int, min_s: float, max_s: float, database_url: str | None) -> dict[str, Any]:
    from bench.fresh_db import fresh_database
    from bot.media.sample import sample_photo
    from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
    from tests.fakes.telegram_stub import Call, TelegramStub
    from tests.fakes.updates import button_press, photo_update, private_chat, private_user

    def is_draft(call: Call) -> bool:
        rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(b.get("callback_data", "").startswith("g:") for row in rows for b in row)

    me = [sys.executable, str(Path(__file__).resolve())]
    kling = subprocess.Popen(
        [*me, "--serve-kling", "--min-s", str(min_s), "--max-s", str(max_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert kling.stdout is not None
    kling_url = f"http://127.0.0.1:{int(kling.stdout.readline())}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        TelegramStub() as stub,
        fresh_database(database_url, Path(tmp)) as fresh_url,
    ):
        workdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env.update(
            TELEGRAM_BOT_TOKEN=stub.token,
            TELEGRAM_API_URL=stub.api_root,
            KLING_ACCESS_KEY=FAKE_ACCESS_KEY,
            KLING_SECRET_KEY=FAKE_SECRET_KEY,
            KLING_API_URL=kling_url,
            KLING_MAX_CONCURRENT=str(users),
            CLAYMATE_DATA_DIR=str(workdir / "data"),
            DATABASE_URL=fresh_url,
            PYTHONPATH=str(REPO),
        )
        metrics_path = workdir / "metrics.json"
        log = (workdir / "bot.log").open("wb")
        bot = subprocess.Popen(
            [*me, "--serve-bot", str(metrics_path)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            stub.wait_for("getUpdates", timeout=60)
            photo = sample_photo(width=1280, height=960)
            people = [private_user(first_name=f"U{n}") for n in range(users)]
            for person in people:
                stub.push_update(
                    photo_update(stub, private_chat(person), person, photo, caption="boats glide")
                )
            try:
                drafts = stub.wait_for("sendMessage", count=users, timeout=300, predicate=is_draft)
            except TimeoutError:  # a photo that failed gets an apology, not a draft
                drafts = stub.calls("sendMessage")
                drafts = [c for c in drafts if is_draft(c)]
            started = time.time()
            for call in drafts[:users]:
                draft = call.result
                person = next(p for p in people if p["id"] == draft["chat"]["id"])
                data = next(
                    b["callback_data"]
                    for row in draft["reply_markup"]["inline_keyboard"]
                    for b in row
                    if b["callback_data"].startswith("g:")
                )
                stub.push_update(button_press(person, draft, data))
            videos = stub.wait_for("sendVideo", count=len(drafts), timeout=900)
            finished = time.time()
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=120)
            kling.send_signal(signal.SIGTERM)
            kling.wait(timeout=30)
        metrics = json.loads(metrics_path.read_text())
        serving_from = metrics["serving_from"]
    delivered = {int(v.params["chat_id"]) for v in videos if v.ok}
    worst = sorted(
        ((ms, round(at - serving_from, 2)) for at, ms in metrics["lateness"]), reverse=True
    )[:5]
    serving = sorted(ms for at, ms in metrics["lateness"] if at >= serving_from)
    starting = [ms for at, ms in metrics["lateness"] if at < serving_from]
    return {
        "users": users,
        "database": "postgresql" if database_url else "sqlite",
        "drafts": len(drafts),
        "task_seconds": [min_s, max_s],
        "clips_delivered": len(delivered),
        "seconds_from_first_press_to_last_clip": round(finished - started, 1),
        "clips_per_minute": round(60 * len(delivered) / (finished - started), 1),
        "event_loop_stall_max_ms": serving[-1],
        "event_loop_stall_p99_ms": serving[int(len(serving) * 0.99)],
        "event_loop_stall_p999_ms": serving[int(len(serving) * 0.999)],
        "ticks": len(serving),
        "stall_goal_met": serving[-1] <= STALL_GOAL_MS,
        "start_up_stall_max_ms": max(starting, default=0.0),
        "worst_stalls_ms_and_seconds_after_polling_began": worst,
        "peak_rss_mb": metrics["peak_rss_mb"],
        "kling_polls": metrics["polls"],
        "runner_sql_statements": metrics["runner_sql"],
        "runner_sql_per_poll": round(metrics["runner_sql"] / max(1, metrics["polls"]), 2),
        "claim_cycles": metrics["claim_cycles"],
        "all_sql_statements": metrics["all_sql"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--min-s", type=float, default=10.0)
    parser.add_argument("--max-s", type=float, default=60.0)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server (default: SQLite files)"
    )
    parser.add_argument("--serve-kling", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bot", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_kling:
        serve_kling(args.min_s, args.max_s)
        return 0
    if args.serve_bot:
        serve_bot(args.serve_bot)
        return 0
    outcome = run(args.users, args.min_s, args.max_s, args.database_url)
    for key, value in outcome.items():
        print(f"{key:40s} {value}")
    result = {
        "benchmark": "generate",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **outcome,
    }
    return write_results(RESULTS, result)


if __name__ == "__main__":
    sys.exit(main())
