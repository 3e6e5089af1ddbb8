"""From photo to draft under load: Claymate against a bot that does no work at all.

Run: .venv/bin/python bench/bench_drafts.py [--users 50 200] [--rounds 3]
     [--database-url postgresql://postgres@127.0.0.1/postgres]

For each user count, 50 (then 200) different users each send a captioned 1280x960 photo at
the same moment (the updates are pushed to the local Bot API stub in one burst). We time
each user from the update being available to the draft being sent (the stub records the
sendMessage), for `claymate run` (offline drafter, SQLite unless --database-url, as
shipped) and for bench/bare_bot.py (same PTB setup: rate limiter, concurrent updates;
answers at once). Both bots are separate processes; the stub runs here. The two bots
alternate for --rounds rounds; each row reports the median of its rounds.
Results: bench/results/drafts.json.

Targets: Claymate's p95 within 2x of the bare bot's at 50 users, 3x at 200.
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
from bot.pipeline.sample import sample_photo  # noqa: E402
from tests.fakes.telegram_stub import Call, TelegramStub  # noqa: E402
from tests.fakes.updates import photo_update, private_chat, private_user  # noqa: E402

RESULTS = REPO / "bench" / "results" / "drafts.json"
TARGETS = {50: 2.0, 200: 3.0}
CAPTION = "Boats glide along the river, lights flicker on along the Bund"


def is_draft(call: Call) -> bool:
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(b.get("callback_data", "").startswith("g:") for row in rows for b in row)


def start_bot(
    kind: str, stub: TelegramStub, workdir: Path, database_url: str
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLING_", "OPENAI_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=stub.token,
        TELEGRAM_API_URL=stub.api_root,
        CLAYMATE_DATA_DIR=str(workdir / "data"),
        DATABASE_URL=database_url,
        PYTHONPATH=str(REPO),
    )
    env.pop("CLAYMATE_WEBHOOK_URL", None)
    command = (
        [sys.executable, "-m", "bot", "run"]
        if kind == "claymate"
        else [sys.executable, str(REPO / "bench" / "bare_bot.py")]
    )
    log = (workdir / f"{kind}.log").open("wb")
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)


def run_once(kind: str, users: int, photo: bytes, *, server_url: str | None) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        TelegramStub() as stub,
        fresh_database(server_url, Path(tmp)) as database_url,
    ):
        workdir = Path(tmp)
        proc = start_bot(kind, stub, workdir, database_url)
        try:
            stub.wait_for("getUpdates", timeout=60)
            time.sleep(1.0)  # let start-up calls settle
            people = [private_user(first_name=f"U{n}") for n in range(users)]
            updates = [
                photo_update(stub, private_chat(p), p, photo, caption=CAPTION) for p in people
            ]
            pushed: dict[int, float] = {}
            for update in updates:
                pushed[update["message"]["chat"]["id"]] = time.time()
                stub.push_update(update)
            calls = stub.wait_for("sendMessage", count=users, timeout=180, predicate=is_draft)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        latencies = sorted(c.at - pushed[int(c.params["chat_id"])] for c in calls[:users])
    return {
        "p50_s": round(statistics.median(latencies), 4),
        "p95_s": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 4),
        "max_s": round(latencies[-1], 4),
        "drafts": len(latencies),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: round(statistics.median(r[key] for r in runs), 4)
        for key in ("p50_s", "p95_s", "max_s")
    } | {"drafts": min(r["drafts"] for r in runs), "rounds": len(runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server (default: SQLite files)"
    )
    args = parser.parse_args()
    photo = sample_photo(width=1280, height=960)
    rows = []
    for users in args.users:
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "claymate": []}
        ratios = []
        for _ in range(args.rounds):
            for kind in ("bare", "claymate"):
                runs[kind].append(run_once(kind, users, photo, server_url=args.database_url))
            ratios.append(runs["claymate"][-1]["p95_s"] / runs["bare"][-1]["p95_s"])
        bare, claymate = median_of(runs["bare"]), median_of(runs["claymate"])
        ratio = claymate["p95_s"] / bare["p95_s"] if bare["p95_s"] else float("inf")
        target = TARGETS.get(users)
        row = {
            "users": users,
            "bare": bare,
            "claymate": claymate,
            "p95_ratio": round(ratio, 2),
            "p95_ratio_per_round": [round(r, 2) for r in ratios],
            "target_ratio": target,
            "met": target is None or ratio <= target,
        }
        rows.append(row)
        print(
            f"{users:4d} users  bare p50 {bare['p50_s'] * 1000:7.0f} ms  p95 "
            f"{bare['p95_s'] * 1000:7.0f} ms | claymate p50 {claymate['p50_s'] * 1000:7.0f} ms"
            f"  p95 {claymate['p95_s'] * 1000:7.0f} ms | p95 ratio {ratio:.2f}"
            f" (rounds {', '.join(f'{r:.2f}' for r in ratios)}; target {target}x:"
            f" {'met' if row['met'] else 'MISSED'})",
            flush=True,
        )
    result = {
        "benchmark": "drafts",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "database": "postgresql" if args.database_url else "sqlite",
        "photo": {"width": 1280, "height": 960, "bytes": len(photo), "caption": CAPTION},
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
