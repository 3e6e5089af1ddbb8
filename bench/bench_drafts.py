"""From photo to draft under load, and the bot's CPU per user: Claymate against a bare bot.

Run: .venv/bin/python bench/bench_drafts.py [--users 50 200] [--rounds 3]
     [--database-url postgresql://postgres@127.0.0.1/postgres]
     [--sqlite-driver claymate aiosqlite]

For each user count, 50 (then 200) different users each send /start, then a captioned
1280x960 photo (each kind of update is pushed to the local Bot API stub in one burst; the
photos once every /start is answered). We time each user from the photo update being
available to the draft being sent (the stub records the sendMessage), and read the bot
process's user+system CPU time (/proc/<pid>/stat) from just before the /start burst to
just after the last draft, divided by users.

Claymate runs as `claymate run` with the OpenAI-compatible LLM drafter against a local fake
endpoint that answers at once (tests/fakes/fake_openai.py, in this process), on SQLite
unless --database-url. The bare bot is bench/bare_bot.py: the same PTB setup (concurrent
updates and the same rate limiter, bot.ratelimit.telegram_rate_limiter), answering at once.
Both bots are separate processes; the stub runs here. The two bots alternate for --rounds
rounds; each row reports the median of its rounds, and the ratios of each round (same
moment, same machine load) as well as the ratio of the medians.

--sqlite-driver picks the SQLite driver the bot runs on (storage.db.sqlite_driver, through
CLAYMATE_SQLITE_DRIVER): the inline `claymate` driver (the default) or stock `aiosqlite`.
Given both, each round runs the bare bot and then Claymate on each driver (their order
swapped every other round), and the rows also compare every driver with the first.
Results: bench/results/drafts.json.

Targets: Claymate's CPU per user within 2.5x of the bare bot's; its p95 within 2x of the bare
bot's at 50 users, 3x at 200.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.fresh_db import fresh_database  # noqa: E402
from bot.media.sample import sample_photo  # noqa: E402
from storage.db import SQLITE_DRIVER_ENV, SQLITE_DRIVERS  # noqa: E402
from tests.fakes.fake_openai import DEFAULT_KEY, FakeOpenAI  # noqa: E402
from tests.fakes.telegram_stub import Call, TelegramStub  # noqa: E402
from tests.fakes.updates import (  # noqa: E402
    command_update,
    photo_update,
    private_chat,
    private_user,
)

RESULTS = REPO / "bench" / "results" / "drafts.json"
TARGETS = {50: 2.0, 200: 3.0}
CPU_TARGET = 2.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_S = 0.5  # after the last draft: what a handler does after sending is counted too
CAPTION = "Boats glide along the river, lights flicker on along the Bund"


def is_draft(call: Call) -> bool:
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(b.get("callback_data", "").startswith("g:") for row in rows for b in row)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_bot(
    kind: str,
    stub: TelegramStub,
    workdir: Path,
    database_url: str,
    llm: FakeOpenAI,
    sqlite_driver: str,
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLING_", "OPENAI_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=stub.token,
        TELEGRAM_API_URL=stub.api_root,
        CLAYMATE_DATA_DIR=str(workdir / "data"),
        DATABASE_URL=database_url,
        PYTHONPATH=str(REPO),
        OPENAI_API_KEY=DEFAULT_KEY,
        OPENAI_BASE_URL=llm.base_url,
    )
    env[SQLITE_DRIVER_ENV] = sqlite_driver
    env.pop("CLAYMATE_WEBHOOK_URL", None)
    command = (
        [sys.executable, "-m", "bot", "run"]
        if kind == "claymate"
        else [sys.executable, str(REPO / "bench" / "bare_bot.py")]
    )
    log = (workdir / f"{kind}.log").open("wb")
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


def run_once(
    kind: str,
    users: int,
    photo: bytes,
    *,
    server_url: str | None,
    sqlite_driver: str = SQLITE_DRIVERS[0],
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        TelegramStub() as stub,
        FakeOpenAI() as llm,
        fresh_database(server_url, Path(tmp)) as database_url,
    ):
        workdir = Path(tmp)
        proc = start_bot(kind, stub, workdir, database_url, llm, sqlite_driver)
        try:
            stub.wait_for("getUpdates", timeout=60)
            time.sleep(1.0)  # let start-up calls settle
            people = [private_user(first_name=f"U{n}") for n in range(users)]
            chats = {p["id"] for p in people}

            def is_welcome(call: Call) -> bool:
                return int(call.params["chat_id"]) in chats and not is_draft(call)

            cpu_before = cpu_seconds(proc.pid)
            for person in people:
                stub.push_update(command_update(private_chat(person), person, "start"))
            stub.wait_for("sendMessage", count=users, timeout=180, predicate=is_welcome)
            updates = [
                photo_update(stub, private_chat(p), p, photo, caption=CAPTION) for p in people
            ]
            pushed: dict[int, float] = {}
            for update in updates:
                pushed[update["message"]["chat"]["id"]] = time.time()
                stub.push_update(update)
            calls = stub.wait_for("sendMessage", count=users, timeout=180, predicate=is_draft)
            time.sleep(SETTLE_S)
            cpu = cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        latencies = sorted(c.at - pushed[int(c.params["chat_id"])] for c in calls[:users])
        llm_calls = len(llm.chat_requests())
    return {
        "p50_s": round(statistics.median(latencies), 4),
        "p95_s": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 4),
        "max_s": round(latencies[-1], 4),
        "cpu_per_user_ms": round(cpu / users * 1000, 2),
        "drafts": len(latencies),
        "llm_calls": llm_calls,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: round(statistics.median(r[key] for r in runs), 4)
        for key in ("p50_s", "p95_s", "max_s", "cpu_per_user_ms")
    } | {
        "drafts": min(r["drafts"] for r in runs),
        "llm_calls": min(r["llm_calls"] for r in runs),
        "rounds": len(runs),
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def per_round(runs: list[dict[str, Any]], baseline: list[dict[str, Any]], key: str) -> list[float]:
    """`key` in each round over the baseline's in the same round (same moment, same load)."""
    return [ratio(run[key], base[key]) for run, base in zip(runs, baseline, strict=True)]


def rounds_text(ratios: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server (default: SQLite files)"
    )
    parser.add_argument(
        "--sqlite-driver",
        nargs="+",
        choices=SQLITE_DRIVERS,
        default=[SQLITE_DRIVERS[0]],
        help="the SQLite driver(s) Claymate runs on; several are interleaved in each round",
    )
    args = parser.parse_args()
    drivers: list[str] = list(dict.fromkeys(args.sqlite_driver))
    if args.database_url:
        drivers = drivers[:1]  # the SQLite driver does not matter on PostgreSQL
    # One driver keeps the plain "claymate" name, so results read as they always did.
    names = {d: "claymate" if len(drivers) == 1 else f"claymate[{d}]" for d in drivers}
    photo = sample_photo(width=1280, height=960)
    load_before = loadavg()
    print(f"load average before: {load_before}", flush=True)
    rows = []
    for users in args.users:
        runs: dict[str, list[dict[str, Any]]] = {"bare": []} | {n: [] for n in names.values()}
        for round_number in range(args.rounds):
            runs["bare"].append(run_once("bare", users, photo, server_url=args.database_url))
            order = drivers if round_number % 2 == 0 else drivers[::-1]
            for driver in order:
                runs[names[driver]].append(
                    run_once(
                        "claymate",
                        users,
                        photo,
                        server_url=args.database_url,
                        sqlite_driver=driver,
                    )
                )
        bare = median_of(runs["bare"])
        target = TARGETS.get(users)
        row: dict[str, Any] = {"users": users, "bare": bare}
        for driver, name in names.items():
            ratios = per_round(runs[name], runs["bare"], "p95_s")
            cpu_ratios = per_round(runs[name], runs["bare"], "cpu_per_user_ms")
            claymate = median_of(runs[name])
            p95_ratio = ratio(claymate["p95_s"], bare["p95_s"])
            cpu_ratio = statistics.median(cpu_ratios)
            met = target is None or p95_ratio <= target
            row[name] = claymate | {
                "sqlite_driver": None if args.database_url else driver,
                "p95_ratio": round(p95_ratio, 2),
                "p95_ratio_per_round": [round(r, 2) for r in ratios],
                "target_ratio": target,
                "met": met,
                "cpu_ratio": round(cpu_ratio, 2),
                "cpu_ratio_per_round": [round(r, 2) for r in cpu_ratios],
                "cpu_target_ratio": CPU_TARGET,
                "cpu_met": cpu_ratio <= CPU_TARGET,
            }
            print(
                f"{users:4d} users  bare p50 {bare['p50_s'] * 1000:7.0f} ms  p95 "
                f"{bare['p95_s'] * 1000:7.0f} ms | {name} p50 {claymate['p50_s'] * 1000:7.0f}"
                f" ms  p95 {claymate['p95_s'] * 1000:7.0f} ms | p95 ratio {p95_ratio:.2f}"
                f" (rounds {rounds_text(ratios)}; target {target}x:"
                f" {'met' if met else 'MISSED'})",
                flush=True,
            )
            print(
                f"{users:4d} users  CPU per user: bare {bare['cpu_per_user_ms']:6.1f} ms | {name}"
                f" {claymate['cpu_per_user_ms']:6.1f} ms | ratio {cpu_ratio:.2f} (rounds "
                f"{rounds_text(cpu_ratios)}; target {CPU_TARGET}x:"
                f" {'met' if cpu_ratio <= CPU_TARGET else 'MISSED'};"
                f" LLM calls {claymate['llm_calls']})",
                flush=True,
            )
        first = names[drivers[0]]
        for driver in drivers[1:]:
            # How many times slower than the first driver, round by round (same moment).
            other = names[driver]
            p95_vs = per_round(runs[other], runs[first], "p95_s")
            cpu_vs = per_round(runs[other], runs[first], "cpu_per_user_ms")
            comparison = {
                "p95_ratio": round(statistics.median(p95_vs), 2),
                "p95_ratio_per_round": [round(r, 2) for r in p95_vs],
                "cpu_ratio": round(statistics.median(cpu_vs), 2),
                "cpu_ratio_per_round": [round(r, 2) for r in cpu_vs],
            }
            row[f"{driver}_vs_{drivers[0]}"] = comparison
            print(
                f"{users:4d} users  {driver} / {drivers[0]}: p95 {comparison['p95_ratio']:.2f}x"
                f" (rounds {rounds_text(p95_vs)}), CPU per user {comparison['cpu_ratio']:.2f}x"
                f" (rounds {rounds_text(cpu_vs)})",
                flush=True,
            )
        rows.append(row)
    load_after = loadavg()
    print(f"load average after: {load_after}", flush=True)
    result = {
        "benchmark": "drafts",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "database": "postgresql" if args.database_url else "sqlite",
        "sqlite_drivers": None if args.database_url else drivers,
        "photo": {"width": 1280, "height": 960, "bytes": len(photo), "caption": CAPTION},
        "drafter": "llm (OpenAI-compatible, local fake answering at once)",
        "rate_limiter": "bot.ratelimit.telegram_rate_limiter on both sides",
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
