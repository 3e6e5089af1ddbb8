"""What one update costs the database: statements and transactions, counted, not timed.

The bot's own work per update should be nearly free next to Telegram's; database round
trips are most of it, so they are counted here and held to a budget. A count is steady
where a timing on a shared machine is not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.app import serve
from bot.runner import RunnerPolicy
from tests.e2e.conftest import RunningBot, bot_settings
from tests.e2e.test_private_chat import is_draft
from tests.fakes.telegram_stub import TelegramStub
from tests.fakes.updates import (
    command_update,
    photo_update,
    private_chat,
    private_user,
    text_update,
)
from tests.statements import counting

# Budgets, statements counted on SQLite (BEGIN included). They were 9 and 23 before the
# gate's upserts became single statements, rows made in a unit of work stopped being
# re-read and re-numbered, and the gate read access entries and mode in one statement.
# The project's shape, which intake needs before the draft (the drafter and the clips see
# the photo cut to it), comes back with the gate's chat row: it was a transaction of its
# own (two statements more) until then.
START_STATEMENTS = 5
PHOTO_STATEMENTS = 15
# The same user's next photo, the common case: no project to make, but the shot takes the
# next place in it and the project is touched. It was 18 while the chat and its current
# project were two reads, 17 while the shape was read on its own, and 15 while the shot's
# place was read before its INSERT instead of inside it.
NEXT_PHOTO_STATEMENTS = 14
# Commits: /start's gate; a photo's gate, its shot with the draft, the draft's message id.
START_TRANSACTIONS = 1
PHOTO_TRANSACTIONS = 3
# A reply that refines a draft: the gate, what the replied-to message stands for, the draft
# and its story read, the new revision with the view the chat is shown, the message id.
# It was 25 statements in 6 while the view was read in a transaction of its own, and 22
# while the revision's number was read before its INSERT instead of inside it.
REFINE_STATEMENTS = 21
REFINE_TRANSACTIONS = 5

# The runner looks for work rarely here, so what is counted is the updates' own work.
QUIET = RunnerPolicy(poll_interval_s=60, queue_recheck_s=60, tick_s=60, lease_s=60)


@contextlib.asynccontextmanager
async def quiet_bot(stub: TelegramStub, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot, polling, with a runner that looks for work too rarely to be counted."""
    settings = bot_settings(tmp_path, stub)
    running = RunningBot(stub, settings, asyncio.Event())
    running.task = asyncio.create_task(serve(settings, running.stop, policy=QUIET, poll_timeout=1))
    try:
        await stub.wait_for_async("getUpdates", timeout=20)
        await asyncio.sleep(0.5)
        yield running
    finally:
        running.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running.task, timeout=30)


async def test_what_a_new_users_start_and_photo_cost_the_database(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    async with quiet_bot(stub, tmp_path) as running:
        with counting() as counted:
            user = private_user(first_name="Mei")
            chat = private_chat(user)
            running.push(command_update(chat, user, "start"))
            await running.wait_for("sendMessage")
            await asyncio.sleep(0.3)
            start = (list(counted.statements), counted.commits)
            counted.clear()
            running.push(photo_update(stub, chat, user, city_photo, caption="a tram rolls past"))
            await running.wait_for("sendMessage", is_draft)
            await asyncio.sleep(0.3)
            photo = (list(counted.statements), counted.commits)
            counted.clear()
            running.push(photo_update(stub, chat, user, city_photo, caption="kites rise"))
            await running.wait_for("sendMessage", is_draft, count=2)
            await asyncio.sleep(0.3)
            next_photo = (list(counted.statements), counted.commits)
        # /start: the gate's one transaction (update id, access, the sender's rows).
        assert len(start[0]) <= START_STATEMENTS and start[1] == START_TRANSACTIONS, "\n".join(
            start[0]
        )
        # A photo: the gate (with the project's shape), then the shot with its draft, then
        # the draft's message id.
        assert len(photo[0]) <= PHOTO_STATEMENTS and photo[1] == PHOTO_TRANSACTIONS, "\n".join(
            photo[0]
        )
        assert (
            len(next_photo[0]) <= NEXT_PHOTO_STATEMENTS and next_photo[1] == PHOTO_TRANSACTIONS
        ), "\n".join(next_photo[0])


async def test_updates_arriving_together_share_their_gates_transaction(
    stub: TelegramStub, tmp_path: Path
) -> None:
    # Telegram hands over a burst in one getUpdates answer: the twelve gates are ready
    # together and share a unit of work instead of taking the database in turn.
    async with quiet_bot(stub, tmp_path) as running:
        people = [private_user(first_name=f"U{n}") for n in range(12)]
        with counting() as counted:
            for person in people:
                running.push(command_update(private_chat(person), person, "start"))
            await running.wait_for("sendMessage", count=12)
            await asyncio.sleep(0.3)
        # Their update ids, access and senders are written for them all at once too: a
        # transaction's statements, not twelve times as many.
        assert counted.commits <= 3, "\n".join(counted.statements)
        assert len(counted.statements) <= 3 * START_STATEMENTS, "\n".join(counted.statements)
        welcomed = {int(call.params["chat_id"]) for call in stub.calls("sendMessage")}
        assert welcomed == {person["id"] for person in people}


async def test_what_a_reply_refining_a_draft_costs_the_database(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    async with quiet_bot(stub, tmp_path) as running:
        user = private_user(first_name="Mei")
        chat = private_chat(user)
        running.push(photo_update(stub, chat, user, city_photo, caption="a tram rolls past"))
        draft = running.sent_message(await running.wait_for("sendMessage", is_draft))
        await asyncio.sleep(0.3)
        with counting() as counted:
            running.push(text_update(chat, user, "slower, at night", reply_to=draft))
            await running.wait_for("sendMessage", is_draft, count=2)
            await asyncio.sleep(0.3)
        refined = "\n".join(counted.statements)
        assert len(counted.statements) <= REFINE_STATEMENTS, refined
        assert counted.commits == REFINE_TRANSACTIONS, refined
