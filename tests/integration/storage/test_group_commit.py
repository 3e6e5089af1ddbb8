"""GroupCommit: requests arriving together share a transaction, and still get their own
results and errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from storage.db import Database
from storage.group_commit import GroupCommit
from storage.uow import UnitOfWork


@contextlib.contextmanager
def commits(database: Database) -> Iterator[list[int]]:
    """A list that grows by one with every COMMIT on `database`'s engine."""
    seen: list[int] = []

    def on_commit(_connection: object) -> None:
        seen.append(1)

    engine = database.engine.sync_engine
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", on_commit)


async def mark(uow: UnitOfWork, update_ids: list[int]) -> list[bool]:
    """The gate's first step, one by one: True the first time an update id is seen."""
    return [await uow.chats.mark_update_processed(u) for u in update_ids]


async def is_marked(database: Database, update_id: int) -> bool:
    async with database.unit_of_work() as uow:
        return not await uow.chats.mark_update_processed(update_id)


async def test_requests_arriving_together_share_one_transaction(database: Database) -> None:
    group = GroupCommit(database, mark, name="test")
    with commits(database) as committed:
        results = await asyncio.gather(*(group.run(1000 + n) for n in range(10)))
    assert results == [True] * 10
    assert len(committed) == 1
    # A redelivery in the same batch is told apart from the first copy, as it is alone.
    with commits(database) as committed:
        again = await asyncio.gather(group.run(2000), group.run(2000), group.run(1003))
    assert again == [True, False, False]
    assert len(committed) == 1


async def test_a_request_alone_is_written_at_once(database: Database) -> None:
    group = GroupCommit(database, mark, name="test")
    with commits(database) as committed:
        assert await group.run(3000) is True
        assert await group.run(3001) is True
    assert len(committed) == 2
    assert await is_marked(database, 3000) and await is_marked(database, 3001)


async def test_requests_beyond_a_batch_wait_for_the_next_transaction(database: Database) -> None:
    group = GroupCommit(database, mark, name="test", max_batch=4)
    with commits(database) as committed:
        results = await asyncio.gather(*(group.run(4000 + n) for n in range(10)))
    assert results == [True] * 10
    assert len(committed) == 3  # 4 + 4 + 2


async def test_one_failing_request_leaves_the_others_written(database: Database) -> None:
    async def mark_or_fail(uow: UnitOfWork, update_ids: list[int]) -> list[bool]:
        marked = await mark(uow, update_ids)
        if 5003 in update_ids:
            raise ValueError("this one cannot be written")
        return marked

    group = GroupCommit(database, mark_or_fail, name="test")
    results = await asyncio.gather(
        *(group.run(5000 + n) for n in range(6)), return_exceptions=True
    )
    assert [type(r) for r in results] == [bool, bool, bool, ValueError, bool, bool]
    assert [r for r in results if not isinstance(r, Exception)] == [True] * 5
    # Written once, by the retry alone: the failed batch left nothing behind.
    for n in range(6):
        assert await is_marked(database, 5000 + n) is (n != 3)


async def test_a_caller_cancelled_before_its_turn_is_not_written(database: Database) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow_mark(uow: UnitOfWork, update_ids: list[int]) -> list[bool]:
        if 6000 in update_ids:
            entered.set()
            await release.wait()  # the first transaction is still being written
        return await mark(uow, update_ids)

    group = GroupCommit(database, slow_mark, name="test")
    first = asyncio.create_task(group.run(6000))
    await entered.wait()
    gone = asyncio.create_task(group.run(6001))
    stays = asyncio.create_task(group.run(6002))
    await asyncio.sleep(0)
    gone.cancel()
    release.set()
    assert await first is True and await stays is True
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await is_marked(database, 6002) is True
    assert await is_marked(database, 6001) is False


async def test_the_writer_keeps_no_callers_context(database: Database) -> None:
    import contextvars

    whose: contextvars.ContextVar[str] = contextvars.ContextVar("whose", default="nobody")

    async def read_context(_uow: UnitOfWork, requests: list[int]) -> list[str]:
        return [whose.get() for _ in requests]

    group = GroupCommit(database, read_context, name="test")
    whose.set("the first caller")
    assert await group.run(1) == "nobody"


def test_a_second_event_loop_is_served_after_the_first_ended(database_url: str) -> None:
    # A CLI command runs each of its steps under asyncio.run, with the same services.
    database = Database.from_url(database_url)
    group = GroupCommit(database, mark, name="test")

    async def first() -> None:
        await group.run(7000)
        # As if the loop had ended while a writer was busy and a request waited for it.
        group._waiting.append((7001, asyncio.get_running_loop().create_future()))
        group._writer = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
        await database.engine.dispose()  # its connections belong to this loop

    async def second() -> bool:
        try:
            return await asyncio.wait_for(group.run(7002), timeout=10)
        finally:
            await database.engine.dispose()

    asyncio.run(first())
    assert asyncio.run(second()) is True


async def test_work_that_answers_the_wrong_number_of_results_fails_each_caller(
    database: Database,
) -> None:
    # Nobody may wait forever for an answer that never comes, nor see work committed
    # that its caller was never told of.
    async def forgets_one(uow: UnitOfWork, update_ids: list[int]) -> list[bool]:
        marked = await mark(uow, update_ids)
        return marked[:-1]

    group = GroupCommit(database, forgets_one, name="test")
    results = await asyncio.wait_for(
        asyncio.gather(group.run(8000), group.run(8001), return_exceptions=True), timeout=10
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert await is_marked(database, 8000) is False
    assert await is_marked(database, 8001) is False


async def test_callers_waiting_when_the_writer_is_cancelled_are_cancelled_too(
    database: Database,
) -> None:
    entered = asyncio.Event()

    async def stuck(uow: UnitOfWork, update_ids: list[int]) -> list[bool]:
        entered.set()
        await asyncio.Event().wait()  # a shutdown comes first
        return []

    group = GroupCommit(database, stuck, name="test")
    first = asyncio.create_task(group.run(9000))
    await entered.wait()
    second = asyncio.create_task(group.run(9001))
    await asyncio.sleep(0)
    assert group._writer is not None
    group._writer.cancel()
    for caller in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, timeout=10)
    assert await is_marked(database, 9000) is False
