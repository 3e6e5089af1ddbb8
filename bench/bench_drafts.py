"""From photo to draft under load, and the bot's CPU per user: Claymate against a bare bot.

Run: .venv/bin/python bench/bench_drafts.py [--users 50 200] [--rounds 3]
     [--database-url postgresql://postgres@127.0.0.1/postgres] [--timeline] [--floor]
     [--floor-updates N]

--timeline prints, for every round, when each draft was sent (seconds after the first photo
was pushed), which shows whether drafts come out spread over the burst or bunched at its
end, where Telegram's 30 messages a second hold them back.

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
moment, same machine load) as well as the ratio of the medians, and the load average
before and after (the machine may be shared).
--floor runs a third bot in every round, bench/floor_bot.py: the same PTB set-up doing
only the work the product cannot do without (getFile, the download, intake on a worker
thread, one draft through the same LLM drafter, the reply), with no database and no files.
Its CPU per user, in the same burst, is the floor under Claymate's: `claymate ÷ floor` is
what Claymate's own bookkeeping costs, `floor ÷ bare` how far any photo-to-draft bot is
from the bare one. Its p95 is no floor by default (it starts every photo at once, so the
drafts all come at the end); with --floor-updates N it runs at most N updates at once, first
come first served, and its p95 is then what a bot with no bookkeeping reaches here: the
p95 goal cannot be met on a machine where that is already near it.
Results: bench/results/drafts.json.

Targets: Claymate's CPU per user within 2.5x of the bare bot's; its p95 within 2x of the bare
bot's at 50 users, 3x at 200.
"""

from __future__ import annotations

import argparse
import os
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
from bench.report import loadavg, machine, write_results  # noqa: E402
from bot.media.sample import sample_photo  # noqa: E402
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


def start_bot(
    kind: str,
    stub: TelegramStub,
    workdir: Path,
    database_url: str,
    llm: FakeOpenAI,
    floor_updates: int | None = None,
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
    env.pop("CLAYMATE_WEBHOOK_URL", None)
    env.pop("FLOOR_CONCURRENT_UPDATES", None)
    if kind == "floor" and floor_updates is not None:
        env["FLOOR_CONCURRENT_UPDATES"] = str(floor_updates)
    command = (
        [sys.executable, "-m", "bot", "run"]
        if kind == "claymate"
        else [sys.executable, str(REPO / "bench" / f"{kind}_bot.py")]
    )
    log = (workdir / f"{kind}.log").open("wb")
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


def run_once(
    kind: str,
    users: int,
    photo: bytes,
    *,
    server_url: str | None,
    timeline: bool = False,
    floor_updates: int | None = None,
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        TelegramStub() as stub,
        FakeOpenAI() as llm,
        fresh_database(server_url, Path(tmp)) as database_url,
    ):
        workdir = Path(tmp)
        proc = start_bot(kind, stub, workdir, database_url, llm, floor_updates)
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
            # The split is approximate: what a /start does after its welcome counts as photo.
            cpu_start = cpu_seconds(proc.pid) - cpu_before
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
        if timeline:
            first = min(pushed.values())
            sent = sorted(c.at - first for c in calls[:users])
            print(f"  {kind:8s} drafts sent at (s): {' '.join(f'{s:.2f}' for s in sent)}")
        llm_calls = len(llm.chat_requests())
    return {
        "p50_s": round(statistics.median(latencies), 4),
        "p95_s": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 4),
        "max_s": round(latencies[-1], 4),
        "cpu_per_user_ms": round(cpu / users * 1000, 2),
        "start_cpu_per_user_ms": round(cpu_start / users * 1000, 2),
        "drafts": len(latencies),
        "llm_calls": llm_calls,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: round(statistics.median(r[key] for r in runs), 4)
        for key in ("p50_s", "p95_s", "max_s", "cpu_per_user_ms", "start_cpu_per_user_ms")
    } | {
        "drafts": min(r["drafts"] for r in runs),
        "llm_calls": min(r["llm_calls"] for r in runs),
        "rounds": len(runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server (default: SQLite files)"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print when each draft was sent, per round"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="run the necessary-work bot (bench/floor_bot.py) in every round too",
    )
    parser.add_argument(
        "--floor-updates",
        type=int,
        default=None,
        metavar="N",
        help="let the floor bot run at most N updates at once (default: all), so its p95"
        " is a floor too; implies --floor",
    )
    args = parser.parse_args()
    if args.floor_updates is not None:
        if args.floor_updates < 1:
            parser.error("--floor-updates must be at least 1")
        args.floor = True
    photo = sample_photo(width=1280, height=960)
    load_before = loadavg()
    print(f"load average before: {load_before}", flush=True)
    rows = []
    for users in args.users:
        kinds = ("bare", "floor", "claymate") if args.floor else ("bare", "claymate")
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        ratios, cpu_ratios = [], []
        floor_ratios: list[float] = []
        floor_p95_ratios: list[float] = []
        for _ in range(args.rounds):
            for kind in kinds:
                runs[kind].append(
                    run_once(
                        kind,
                        users,
                        photo,
                        server_url=args.database_url,
                        timeline=args.timeline,
                        floor_updates=args.floor_updates,
                    )
                )
            ratios.append(runs["claymate"][-1]["p95_s"] / runs["bare"][-1]["p95_s"])
            cpu_ratios.append(
                runs["claymate"][-1]["cpu_per_user_ms"] / runs["bare"][-1]["cpu_per_user_ms"]
            )
            if args.floor:
                floor_ratios.append(
                    runs["claymate"][-1]["cpu_per_user_ms"] / runs["floor"][-1]["cpu_per_user_ms"]
                )
                floor_p95_ratios.append(runs["floor"][-1]["p95_s"] / runs["bare"][-1]["p95_s"])
        bare, claymate = median_of(runs["bare"]), median_of(runs["claymate"])
        ratio = claymate["p95_s"] / bare["p95_s"] if bare["p95_s"] else float("inf")
        cpu_ratio = statistics.median(cpu_ratios)
        target = TARGETS.get(users)
        row = {
            "users": users,
            "bare": bare,
            "claymate": claymate,
            "p95_ratio": round(ratio, 2),
            "p95_ratio_per_round": [round(r, 2) for r in ratios],
            "target_ratio": target,
            "met": target is None or ratio <= target,
            "cpu_ratio": round(cpu_ratio, 2),
            "cpu_ratio_per_round": [round(r, 2) for r in cpu_ratios],
            "cpu_target_ratio": CPU_TARGET,
            "cpu_met": cpu_ratio <= CPU_TARGET,
        }
        if args.floor:
            floor = median_of(runs["floor"])
            row["floor"] = floor
            row["cpu_ratio_to_floor"] = round(statistics.median(floor_ratios), 2)
            row["cpu_ratio_to_floor_per_round"] = [round(r, 2) for r in floor_ratios]
            row["floor_cpu_ratio_to_bare"] = round(
                floor["cpu_per_user_ms"] / bare["cpu_per_user_ms"], 2
            )
            row["floor_p95_ratio_to_bare"] = round(floor["p95_s"] / bare["p95_s"], 2)
            row["floor_p95_ratio_to_bare_per_round"] = [round(r, 2) for r in floor_p95_ratios]
            row["floor_concurrent_updates"] = args.floor_updates or "all"
        rows.append(row)
        print(
            f"{users:4d} users  bare p50 {bare['p50_s'] * 1000:7.0f} ms  p95 "
            f"{bare['p95_s'] * 1000:7.0f} ms | claymate p50 {claymate['p50_s'] * 1000:7.0f} ms"
            f"  p95 {claymate['p95_s'] * 1000:7.0f} ms | p95 ratio {ratio:.2f}"
            f" (rounds {', '.join(f'{r:.2f}' for r in ratios)}; target {target}x:"
            f" {'met' if row['met'] else 'MISSED'})",
            flush=True,
        )
        print(
            f"{users:4d} users  CPU per user: bare {bare['cpu_per_user_ms']:6.1f} ms | claymate"
            f" {claymate['cpu_per_user_ms']:6.1f} ms | ratio {cpu_ratio:.2f} (rounds "
            f"{', '.join(f'{r:.2f}' for r in cpu_ratios)}; target {CPU_TARGET}x:"
            f" {'met' if row['cpu_met'] else 'MISSED'}; LLM calls {claymate['llm_calls']})",
            flush=True,
        )
        print(
            f"{users:4d} users  of which /start: bare {bare['start_cpu_per_user_ms']:6.1f} ms |"
            f" claymate {claymate['start_cpu_per_user_ms']:6.1f} ms (the rest: the photo)",
            flush=True,
        )
        if args.floor:
            updates = f"{args.floor_updates} at once" if args.floor_updates else "all at once"
            print(
                f"{users:4d} users  floor (the necessary work, no database, {updates}): p95"
                f" {floor['p95_s'] * 1000:7.0f} ms"
                f" = {row['floor_p95_ratio_to_bare']:.2f}x bare (rounds "
                f"{', '.join(f'{r:.2f}' for r in floor_p95_ratios)}), CPU per user"
                f" {floor['cpu_per_user_ms']:6.1f} ms"
                f" = {row['floor_cpu_ratio_to_bare']:.2f}x bare | claymate = "
                f"{row['cpu_ratio_to_floor']:.2f}x floor (rounds "
                f"{', '.join(f'{r:.2f}' for r in floor_ratios)}; LLM calls {floor['llm_calls']})",
                flush=True,
            )
    load_after = loadavg()
    print(f"load average after: {load_after}", flush=True)
    result = {
        "benchmark": "drafts",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(loadavg_before=load_before, loadavg_after=load_after),
        "database": "postgresql" if args.database_url else "sqlite",
        "photo": {"width": 1280, "height": 960, "bytes": len(photo), "caption": CAPTION},
        "drafter": "llm (OpenAI-compatible, local fake answering at once)",
        "rate_limiter": "bot.ratelimit.telegram_rate_limiter on both sides",
        "runs": rows,
    }
    return write_results(RESULTS, result)


if __name__ == "__main__":
    sys.exit(main())
