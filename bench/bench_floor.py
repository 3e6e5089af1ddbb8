"""The floor under bench_drafts.py: what the work a new user's /start and photo *must* do
costs in CPU, against what the bare bot does, measured piece by piece in one run.

Run: .venv/bin/python bench/bench_floor.py [--rounds 5]
     [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

bench_drafts.py compares Claymate's CPU per user with a bare python-telegram-bot bot that
answers /start and a photo with two fixed messages. Claymate cannot do less than: the same
two replies, fetching the photo (getFile and the download), making it video-ready and
the LLM's copy (intake), asking the LLM once (one request through the openai client,
with the answer's review), and keeping what happened in the database (the statements and
transactions tests/e2e/test_update_cost.py counts and holds to a budget). This prices
each piece on this machine, in the same run, and adds them up:

  bare        = 2 Bot API replies
  floor       = 2 replies + getFile + download + intake + one LLM draft
  with the db = floor + today's statements and transactions for /start and a photo

The ratio floor / bare is the best CPU ratio bench_drafts.py could show if every other
cost (PTB's update handling, logging, the chat action, the job runner) were zero, so
it tells whether a target ratio is reachable at all. CPU is this thread's time
(time.thread_time) for the HTTP and LLM pieces (the stub and the fake LLM serve from other
threads of this process and are not counted), the process's time for the database (the
SQLite driver works on its own thread, which is the bot's cost too, and nothing else
runs meanwhile). Every piece is run `--rounds` times, interleaved, and the median taken.
Results: bench/results/floor.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402

from bench.bare_bot import DRAFT, KEYBOARD  # noqa: E402
from bench.fresh_db import fresh_database  # noqa: E402
from bench.report import loadavg, machine, write_results  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.domain.types import DraftRequest  # noqa: E402
from bot.media.intake import prepare_photo  # noqa: E402
from bot.media.sample import sample_photo  # noqa: E402
from bot.providers.offline.drafter import OfflineDrafter  # noqa: E402
from bot.providers.openai.llm import LLMDrafter  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Chat  # noqa: E402
from tests.e2e.test_update_cost import (  # noqa: E402
    PHOTO_STATEMENTS,
    PHOTO_TRANSACTIONS,
    START_STATEMENTS,
    START_TRANSACTIONS,
)
from tests.fakes.fake_openai import DEFAULT_KEY, FakeOpenAI  # noqa: E402
from tests.fakes.telegram_stub import TelegramStub  # noqa: E402

RESULTS = REPO / "bench" / "results" / "floor.json"
CAPTION = "Boats glide along the river, lights flicker on along the Bund"
# Transactions for a new user's /start and captioned photo, as test_update_cost.py holds them.
TRANSACTIONS = START_TRANSACTIONS + PHOTO_TRANSACTIONS
REPEAT = 40  # calls per piece per round: enough to read a thread's CPU clock


async def per_call(work: Callable[[], Awaitable[Any]], clock: Callable[[], float]) -> float:
    """Milliseconds of `clock` per call of `work`, after two warm-up calls."""
    for _ in range(2):
        await work()
    start = clock()
    for _ in range(REPEAT):
        await work()
    return (clock() - start) / REPEAT * 1000


async def measure_database(url: str) -> dict[str, float]:
    """One transaction with one ORM statement, and each further statement in it."""
    db = Database.from_url(url)
    await db.upgrade()

    async def one() -> None:
        async with db.unit_of_work() as uow:
            await uow.session.scalar(select(Chat.id).where(Chat.id == 1))

    async def five() -> None:
        async with db.unit_of_work() as uow:
            for _ in range(5):
                await uow.session.scalar(select(Chat.id).where(Chat.id == 1))

    try:
        single = await per_call(one, time.process_time)
        several = await per_call(five, time.process_time)
    finally:
        await db.engine.dispose()
    statement = (several - single) / 4
    return {"transaction_ms": single - statement, "statement_ms": statement}


async def measure_http(stub: TelegramStub, llm: FakeOpenAI, photo: bytes) -> dict[str, float]:
    """A reply, getFile, the download and one LLM draft, through the clients the bot uses."""
    bot = Bot(
        stub.token, base_url=f"{stub.api_root}/bot", base_file_url=f"{stub.api_root}/file/bot"
    )
    sizes = stub.register_photo(photo)
    file_id = sizes[-1]["file_id"]
    settings = Settings(
        telegram_bot_token=stub.token, openai_api_key=DEFAULT_KEY, openai_base_url=llm.base_url
    )
    drafter = LLMDrafter.from_settings(settings, fallback=OfflineDrafter())
    prepared = prepare_photo(photo, with_llm_jpeg=True)
    request = DraftRequest(
        description=CAPTION, facts=prepared.facts, photo_llm_jpeg=prepared.llm_jpeg
    )
    async with bot:
        chat_id = 10_000

        async def reply() -> None:
            await bot.send_message(
                chat_id, DRAFT, parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
            )

        async def get_file() -> None:
            await bot.get_file(file_id)

        telegram_file = await bot.get_file(file_id)

        async def download() -> None:
            await telegram_file.download_as_bytearray()

        async def draft() -> None:
            drafted = await drafter.draft(request)
            assert drafted.drafter.startswith("llm"), drafted  # the LLM answered, not the fallback

        try:
            return {
                "reply_ms": await per_call(reply, time.thread_time),
                "get_file_ms": await per_call(get_file, time.thread_time),
                "download_ms": await per_call(download, time.thread_time),
                "llm_draft_ms": await per_call(draft, time.thread_time),
            }
        finally:
            await drafter.aclose()  # on this loop: closed after it, it printed a traceback


def measure_intake(photo: bytes) -> float:
    """A Telegram photo made video-ready with the LLM's copy (on intake's thread in the bot)."""
    prepare_photo(photo, with_llm_jpeg=True)
    start = time.thread_time()
    for _ in range(REPEAT):
        prepare_photo(photo, with_llm_jpeg=True)
    return (time.thread_time() - start) / REPEAT * 1000


def one_round(photo: bytes, database_url: str) -> dict[str, float]:
    pieces = asyncio.run(measure_database(database_url))
    with TelegramStub() as stub, FakeOpenAI() as llm:
        pieces |= asyncio.run(measure_http(stub, llm, photo))
    pieces["intake_ms"] = measure_intake(photo)
    return pieces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    args = parser.parse_args()
    photo = sample_photo(width=1280, height=960)  # as bench_drafts.py sends it
    rounds = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.database_url, Path(tmp)) as database_url,
    ):
        for _ in range(args.rounds):
            rounds.append(one_round(photo, database_url))
    cost = {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
    # The budgets count each transaction's BEGIN as a statement; measure_database prices
    # BEGIN and COMMIT together as the transaction, so the BEGINs are taken out here.
    statements = START_STATEMENTS + PHOTO_STATEMENTS - TRANSACTIONS
    bare = 2 * cost["reply_ms"]
    floor = bare + cost["get_file_ms"] + cost["download_ms"] + cost["intake_ms"]
    floor += cost["llm_draft_ms"]
    database = statements * cost["statement_ms"] + TRANSACTIONS * cost["transaction_ms"]
    result = {
        "benchmark": "floor",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(loadavg=loadavg()),
        "database": "postgresql" if args.database_url else "sqlite",
        "rounds": args.rounds,
        "cost_ms": cost,
        "statements": statements,
        "transactions": TRANSACTIONS,
        "per_user_ms": {
            "bare": round(bare, 2),
            "floor": round(floor, 2),
            "database": round(database, 2),
            "floor_with_database": round(floor + database, 2),
        },
        "ratio_floor": round(floor / bare, 2),
        "ratio_floor_with_database": round((floor + database) / bare, 2),
    }
    print(
        "CPU per piece (ms, median of rounds): "
        + ", ".join(f"{key[:-3]} {value:.2f}" for key, value in cost.items())
    )
    print(
        f"per user: bare {bare:.1f} ms | floor {floor:.1f} ms ({floor / bare:.2f}x) | "
        f"+ database ({statements} statements, {TRANSACTIONS} transactions) {database:.1f} ms"
        f" = {floor + database:.1f} ms ({(floor + database) / bare:.2f}x)"
    )
    return write_results(RESULTS, result)


if __name__ == "__main__":
    sys.exit(main())
