"""Group commit: small units of work that arrive together share one transaction.

Every update opens a transaction for its gate (is it new, may its sender use the bot, who
sent it), and every message the bot sends is remembered in one more. A transaction's own
cost (BEGIN, COMMIT, a session and its connection) is as large as two of its statements,
and Telegram hands updates over in batches: a burst of fifty photos is fifty gates that
are all ready in the same moment, each waiting for the one SQLite connection in turn.

A `GroupCommit` lets them share. The first request starts a writer; every request that
arrives while a transaction is being written joins the next one. At rest a request is
written at once, alone, as before; under load the transactions grow instead of queueing.
Each caller gets its own result only after the transaction that holds its work commits,
so a caller still sees its work durable when its call returns.

One request's failure must not fail the others: a batch that raises is rolled back and
its requests are written again one by one, so each caller gets its own result or error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import Context
from typing import Generic, TypeVar

from storage.db import Database
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")

# A larger batch holds every caller in it until the last one's statements have run.
MAX_BATCH = 32


class GroupCommit(Generic[Request, Result]):
    """Runs `work(uow, requests)` for requests arriving together in one unit of work.

    `work` returns one result per request, in order. It may write them all at once (one
    multi-row statement for the lot): under load that, more than the shared COMMIT, is
    where the saving is.
    """

    def __init__(
        self,
        db: Database,
        work: Callable[[UnitOfWork, list[Request]], Awaitable[list[Result]]],
        *,
        name: str,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.db = db
        self.work = work
        self.name = name
        self.max_batch = max_batch
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, request: Request) -> Result:
        """`request`'s work, committed (with whatever else arrived meanwhile); its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((request, future))
        # A writer of a loop that ended without cancelling it (a CLI command's asyncio.run
        # before this one) would never come back for the request: start one on this loop.
        if self._writer is None or self._writer.get_loop() is not loop:
            # In a context of its own: the writer works for every caller, and must not
            # carry the first one's (its update's slot, say).
            self._writer = asyncio.create_task(
                self._write_all(), name=f"group-commit-{self.name}", context=Context()
            )
        # A caller cancelled before its batch began is dropped from it (see _write_all);
        # one cancelled later leaves its work to commit with the others, as a caller
        # cancelled during its own COMMIT would.
        return await future

    async def _write_all(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                batch = [(r, f) for r, f in batch if not f.done() and f.get_loop() is loop]
                if batch:
                    await self._write(batch)
        except BaseException:  # the writer itself cancelled (shutdown): so are its callers
            for _, future in self._waiting:
                future.cancel()
            self._waiting.clear()
            raise
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def _write(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        try:
            async with self.db.unit_of_work() as uow:
                results = await self.work(uow, [request for request, _ in batch])
                if len(results) != len(batch):  # never commit what no caller could be told
                    raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)}")
        except Exception as error:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(error)
                return
            log.warning(
                "%s: a transaction of %d failed (%s); writing each alone",
                self.name,
                len(batch),
                type(error).__name__,
            )
            for item in batch:
                await self._write([item])
            return
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its caller was cancelled meanwhile
                future.set_result(result)
