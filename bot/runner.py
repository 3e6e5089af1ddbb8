"""The job runner: finds takes that are due and advances each one under a lease.

What a step does is the take's state machine (bot.services.generation.TakeMachine, whose
docstring tells a take's life top to bottom). The runner claims due takes with a lease
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), so exactly one runner, in this process or another
instance, works on a take at a time, and a crashed runner's takes are picked up again
once its lease runs out. It also prunes what the database no longer needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.states import TERMINAL_TAKE_STATES
from bot.services.generation import TakeMachine, TakePolicy, crash_point
from storage.db import Database
from storage.models import Take, utcnow

log = logging.getLogger(__name__)

MAX_PRUNE_BATCHES = 50  # per housekeeping round: 250,000 update ids an hour by default


@dataclass(frozen=True, slots=True)
class RunnerPolicy(TakePolicy):
    """How the runner claims and keeps takes, on top of how each take is worked on."""

    lease_s: float = 30.0  # after a crash, its takes are picked up again within this
    tick_s: float = 1.0
    max_parallel: int = 64
    housekeeping_every_s: float = 3600.0  # per runner; pruning is cheap and bounded
    keep_update_ids_s: float = 2 * 86400.0  # Telegram redelivers within hours, not days
    prune_batch: int = 5000
    # A still takes at most a few minutes (Kling's deadline is 3): a reservation older than
    # this was left by a process that died making it, and is refunded.
    stale_still_s: float = 15 * 60.0


class JobRunner:
    """Claims due takes and has the take machine advance each as far as it can go."""

    def __init__(
        self,
        machine: TakeMachine,
        db: Database,
        *,
        policy: RunnerPolicy = RunnerPolicy(),
        owner: str | None = None,
    ) -> None:
        self.machine = machine
        self.db = db
        self.policy = policy
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    # --- the loop -------------------------------------------------------------------------

    def wake(self) -> None:
        """A take was queued: look for work now instead of at the next tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; unfinished takes from earlier runs are picked up first."""
        log.info("job runner %s started", self.owner)
        # A stop wakes the loop too, so shutting down never waits out a tick.
        stopping = asyncio.create_task(self._wake_when(stop), name="job-runner-stop")
        next_housekeeping = time.monotonic()
        while not stop.is_set():
            try:
                await self.claim_and_start()
            except Exception:  # a database hiccup must not stop the runner
                log.exception("job runner: claiming takes failed")
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + self.policy.housekeeping_every_s
                try:
                    await self.housekeeping()
                except Exception:
                    log.exception("job runner: housekeeping failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.policy.tick_s)
        stopping.cancel()
        await self.drain()
        log.info("job runner %s stopped", self.owner)

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def housekeeping(self) -> int:
        """Prune processed-update ids older than the redelivery window; how many went."""
        older_than = utcnow() - timedelta(seconds=self.policy.keep_update_ids_s)
        removed = 0
        for _ in range(MAX_PRUNE_BATCHES):  # each batch its own short transaction
            async with self.db.unit_of_work() as uow:
                batch = await uow.chats.prune_processed_updates(
                    older_than=older_than, limit=self.policy.prune_batch
                )
            removed += batch
            if batch < self.policy.prune_batch:
                break
        if removed:
            log.info("housekeeping: pruned %d processed update ids", removed)
        await self._refund_stale_stills()
        return removed

    async def _refund_stale_stills(self) -> None:
        """A crash while a still was made leaves its units reserved: give them back."""
        older_than = utcnow() - timedelta(seconds=self.policy.stale_still_s)
        async with self.db.unit_of_work() as uow:
            refunded = await uow.accounts.refund_stale_reservations(
                kind="still", older_than=older_than
            )
        if refunded:
            log.warning("housekeeping: refunded %d still reservations left by a crash", refunded)

    async def claim_and_start(self) -> int:
        """Lease as many due takes as there is room for, and start advancing each."""
        free = self.policy.max_parallel - len(self._in_flight)
        if free <= 0:
            return 0
        async with self.db.unit_of_work() as uow:
            ids = await uow.takes.claim_due_takes(
                self.owner,
                limit=free,
                lease=timedelta(seconds=self.policy.lease_s),
                per_user=self.policy.max_in_flight_per_user,
            )
        if ids:
            crash_point("claimed")
        for take_id in ids:
            if take_id not in self._in_flight:
                task = asyncio.create_task(self._advance_guarded(take_id), name=f"take-{take_id}")
                self._in_flight[take_id] = task
                # mypy cannot type a lambda with a default; the default binds this take's id.
                task.add_done_callback(lambda _t, i=take_id: self._in_flight.pop(i, None))  # type: ignore[misc]
        return len(ids)

    async def drain(self, grace_s: float = 30.0) -> None:
        """Let in-flight steps finish (they are short) before shutting down."""
        tasks = list(self._in_flight.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()

    async def run_until_finished(self, take_id: int) -> Take:
        """Drive one take to a terminal state in this process (the CLI's `make`)."""
        while True:
            await self.machine.advance(take_id)
            take = await self.machine.load(take_id)
            if take.status in TERMINAL_TAKE_STATES:
                return take
            delay = (take.next_attempt_at - utcnow()).total_seconds()
            await asyncio.sleep(max(0.05, min(delay, self.policy.poll_interval_s)))

    async def _advance_guarded(self, take_id: int) -> None:
        heartbeat = asyncio.create_task(self._keep_lease(take_id))
        try:
            await self.machine.advance(take_id)
        except Exception:  # one bad job never stops the runner
            log.exception("take %s: unexpected error", take_id)
        finally:
            heartbeat.cancel()
            async with self.db.unit_of_work() as uow:
                await uow.takes.release_lease(take_id, self.owner)

    async def _keep_lease(self, take_id: int) -> None:
        while True:
            await asyncio.sleep(self.policy.lease_s / 3)
            async with self.db.unit_of_work() as uow:
                await uow.takes.renew_lease(
                    take_id, self.owner, timedelta(seconds=self.policy.lease_s)
                )
