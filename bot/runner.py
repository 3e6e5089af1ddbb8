"""What happens after a user presses 🎬 Generate, top to bottom.

A take is a row that moves through
    queued → submitting → submitted → rendering → downloading → delivering → delivered
or ends failed / cancelled (bot.domain.states.TAKE_TRANSITIONS lists every allowed move, and
storage's Repo.transition_take, the only writer of a take's status, enforces it). Each step
is committed before the next begins, so after a crash or restart any runner (this process
or another instance) picks the take up from its last committed state:

- `queued`: waits for a free provider slot (a cap shared by all instances through the
  database), then becomes `submitting`.
- `submitting`: the create call. Our `external_id` was stored when the take was queued;
  if an earlier attempt may have reached the provider, we look the task up by that id
  before creating anything, so a paid task is never made twice. The upstream task id is
  committed the moment the create call returns.
- `submitted` / `rendering`: polled with a pause between polls, until the provider says
  succeed or failed, or our deadline passes.
- `downloading`: the result is fetched at once (provider URLs expire) and checked.
- `delivering`: the clip goes to the user (Telegram, or a file for the CLI); the sent
  message and file_id are recorded, and a recorded delivery is never repeated.

A runner claims due takes with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), does as
much as it can without waiting, sets `next_attempt_at` for the next step and lets go.
Transient failures retry with backoff within the take's deadline; every other failure
ends the take with a reason the user is told in plain words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.ports import TakeObserver, VideoProvider, cancel_upstream
from bot.domain.states import TERMINAL_TAKE_STATES, TakeState
from bot.domain.types import Delivery, ProgressUpdate, VideoRequest
from bot.files import make_private, private_dir
from storage.db import Database
from storage.locks import PROVIDER_SLOTS, USER_TAKES, hold_for_transaction, lock_key
from storage.models import Take, utcnow
from storage.repos.accounts import AccountsRepo
from storage.repos.takes import show_committed_status
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_PRUNE_BATCHES = 50  # per housekeeping round: 250,000 update ids an hour by default


def crash_point(name: str) -> None:
    """Crash-safety tests only: CLAYMATE_TEST_CRASH_AT=<name> dies here as kill -9 would.

    A no-op unless the variable names this point (tests/e2e/test_crash_safety.py lists them).
    """
    if os.environ.get("CLAYMATE_TEST_CRASH_AT") == name:
        os._exit(137)


@dataclass(frozen=True, slots=True)
class RunnerPolicy:
    poll_interval_s: float = 8.0
    queue_recheck_s: float = 3.0
    lease_s: float = 30.0  # after a crash, its takes are picked up again within this
    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 60.0
    tick_s: float = 1.0
    max_parallel: int = 64
    housekeeping_every_s: float = 3600.0  # per runner; pruning is cheap and bounded
    keep_update_ids_s: float = 2 * 86400.0  # Telegram redelivers within hours, not days
    prune_batch: int = 5000
    # A still takes at most a few minutes (Kling's deadline is 3): a reservation older than
    # this was left by a process that died making it, and is refunded.
    stale_still_s: float = 15 * 60.0
    max_in_flight_per_user: int = 3  # CLAYMATE_MAX_TAKES_IN_FLIGHT_PER_USER


class JobRunner:
    """Claims due takes and advances each one as far as it can go without waiting."""

    def __init__(
        self,
        db: Database,
        providers: dict[str, VideoProvider],
        observer: TakeObserver,
        *,
        clips_dir: Path,
        caps: dict[str, int] | None = None,
        policy: RunnerPolicy = RunnerPolicy(),
        owner: str | None = None,
        request_builder: Callable[[Take], Awaitable[VideoRequest]] | None = None,
        callback_urls: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        # Per provider: where it may report progress (a hint; polling stays the fallback).
        self.callback_urls = callback_urls or {}
        self.providers = providers
        self.observer = observer
        self.clips_dir = clips_dir
        self.caps = caps or {}
        self.policy = policy
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"
        self._request_builder = request_builder or self._video_request
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._slot_lock = asyncio.Lock()
        self._last_progress: dict[int, float] = {}

    # --- the loop -------------------------------------------------------------------------

    def wake(self) -> None:
        """A take was queued: look for work now instead of at the next tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; unfinished takes from earlier runs are picked up first."""
        log.info("job runner %s started", self.owner)
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
        await self.drain()
        log.info("job runner %s stopped", self.owner)

    async def housekeeping(self) -> int:
        """Prune processed-update ids older than the redelivery window; how many went."""
        older_than = utcnow() - timedelta(seconds=self.policy.keep_update_ids_s)
        removed = 0
        for _ in range(MAX_PRUNE_BATCHES):  # each batch its own short transaction
            async with self.db.session() as session:
                batch = await UnitOfWork(session).chats.prune_processed_updates(
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
        async with self.db.session() as session:
            refunded = await AccountsRepo(session).refund_stale_reservations(
                kind="still", older_than=older_than
            )
        if refunded:
            log.warning("housekeeping: refunded %d still reservations left by a crash", refunded)

    async def claim_and_start(self) -> int:
        free = self.policy.max_parallel - len(self._in_flight)
        if free <= 0:
            return 0
        async with self.db.session() as session:
            ids = await UnitOfWork(session).takes.claim_due_takes(
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
            await self.advance(take_id)
            take = await self._load(take_id)
            if take.status in TERMINAL_TAKE_STATES:
                return take
            delay = (take.next_attempt_at - utcnow()).total_seconds()
            await asyncio.sleep(max(0.05, min(delay, self.policy.poll_interval_s)))

    async def _advance_guarded(self, take_id: int) -> None:
        heartbeat = asyncio.create_task(self._keep_lease(take_id))
        try:
            await self.advance(take_id)
        except Exception:  # one bad job never stops the runner
            log.exception("take %s: unexpected error", take_id)
        finally:
            heartbeat.cancel()
            async with self.db.session() as session:
                await UnitOfWork(session).takes.release_lease(take_id, self.owner)

    async def _keep_lease(self, take_id: int) -> None:
        while True:
            await asyncio.sleep(self.policy.lease_s / 3)
            async with self.db.session() as session:
                await UnitOfWork(session).takes.renew_lease(
                    take_id, self.owner, timedelta(seconds=self.policy.lease_s)
                )

    # --- one take, top to bottom --------------------------------------------------------

    async def advance(self, take_id: int) -> None:
        """Take one take as far as it can go now; schedule the rest."""
        try:
            take = await self._load(take_id)
        except LookupError:  # deleted (/forget): nothing left to do
            return
        if take.status in TERMINAL_TAKE_STATES:
            return
        provider = self.providers.get(take.provider)
        if provider is None:
            await self._fail(take, ErrorKind.INVALID, f"provider {take.provider!r} not configured")
            return
        try:
            request = await self._request_builder(take)
            if take.status == TakeState.QUEUED:
                if not await self._reserve_slot(take):
                    return
                crash_point("slot_reserved")
            if take.status == TakeState.SUBMITTING:
                await self._submit(take, provider, request)
            if take.status in (TakeState.SUBMITTED, TakeState.RENDERING):
                if not await self._poll(take, provider, request):
                    return
            if take.status == TakeState.DOWNLOADING:
                await self._download(take, provider, request)
            if take.status == TakeState.DELIVERING:
                await self._deliver(take)
        except ProviderError as error:
            await self._handle_provider_error(take, error)
        except LookupError:  # deleted meanwhile (/forget): nothing left to deliver to
            log.info("take %s: deleted while at %s; dropped", take.id, take.status)
        except Exception as error:
            log.exception("take %s: step %s crashed", take.id, take.status)
            await self._handle_provider_error(
                take, ProviderError(ErrorKind.UNKNOWN, f"{type(error).__name__}: {error}")
            )

    async def _reserve_slot(self, take: Take) -> bool:
        """Wait in the queue until the provider account has a free concurrency slot."""
        cap = self.caps.get(take.provider)
        async with self._slot_lock, self.db.session() as session:
            uow = UnitOfWork(session)
            if self.db.is_postgres:
                # One instance at a time counts and takes a slot for this provider.
                await hold_for_transaction(session, lock_key(PROVIDER_SLOTS, take.provider))
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None or stored.status != TakeState.QUEUED:
                return False
            # A user with enough takes at work waits, however free the provider is.
            room = await self._user_has_room(session, uow, stored)
            ahead = await uow.takes.queue_position(stored) if cap is not None or not room else 0
            # Round-robin across users: a slot goes to the take whose turn it is.
            if not room or (
                cap is not None
                and await uow.takes.count_active_upstream(take.provider) + ahead >= cap
            ):
                position = ahead + 1
                stored.next_attempt_at = utcnow() + timedelta(seconds=self.policy.queue_recheck_s)
                queued = stored
            else:
                await uow.takes.transition_take(stored, TakeState.SUBMITTING)
                show_committed_status(take, stored)
                return True
        await self._report(queued, TakeState.QUEUED, queue_position=position)
        return False

    async def _user_has_room(self, session: AsyncSession, uow: UnitOfWork, take: Take) -> bool:
        """Fewer than the per-user limit of this user's takes are at work (all instances)."""
        if take.requested_by is None:
            return True
        if self.db.is_postgres:  # one instance at a time counts this user's takes
            await hold_for_transaction(session, lock_key(USER_TAKES, take.requested_by))
        return (
            await uow.takes.takes_at_work(take.requested_by) < self.policy.max_in_flight_per_user
        )

    async def _submit(self, take: Take, provider: VideoProvider, request: VideoRequest) -> None:
        """Create the upstream task exactly once, and commit its id at once."""
        task_id = take.upstream_task_id
        if task_id is None and take.attempts > 0:
            # An earlier attempt may have reached the provider before we could save its
            # answer: look for the task under our external id before paying again.
            task_id = await provider.find(request)
            if task_id:
                log.info("take %s: found upstream task by external id", take.id)
        if task_id is None:
            await self._count_attempt(take)
            crash_point("before_create")
            task_id = await provider.submit(request)
            crash_point("created_not_saved")
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None:  # forgotten while creating: stop it upstream if we can
                await cancel_upstream(provider, task_id)
                raise LookupError(f"take {take.id} vanished")
            stored.upstream_task_id = task_id
            stored.next_attempt_at = utcnow()
            await uow.takes.transition_take(stored, TakeState.SUBMITTED)
        take.upstream_task_id = task_id
        show_committed_status(take, stored)
        crash_point("submitted")
        await self._report(take, TakeState.SUBMITTED)

    async def _poll(self, take: Take, provider: VideoProvider, request: VideoRequest) -> bool:
        """Ask the provider once; True when the clip is ready to download."""
        assert take.upstream_task_id is not None
        if take.deadline_at and utcnow() > take.deadline_at:
            await self._fail(take, ErrorKind.TIMEOUT, "deadline passed while rendering")
            return False
        status = await provider.status(request, take.upstream_task_id)
        if status.state == "failed":
            kind = ErrorKind.CONTENT if status.content_rejected else ErrorKind.UNKNOWN
            await self._fail(take, kind, f"provider task failed: {status.message}")
            return False
        if status.state == "succeed":
            await self._move(take, TakeState.DOWNLOADING, progress=1.0)
            crash_point("downloading")
            return True
        await self._move(
            take,
            TakeState.RENDERING,
            progress=status.progress,
            next_in=self.policy.poll_interval_s,
        )
        crash_point("rendering")
        await self._report(take, TakeState.RENDERING, progress=status.progress)
        return False

    async def _download(self, take: Take, provider: VideoProvider, request: VideoRequest) -> None:
        """Fetch (or, offline, render) the clip to disk and record what it is."""
        assert take.upstream_task_id is not None
        status = await provider.status(request, take.upstream_task_id)
        private_dir(self.clips_dir)
        # Named by the take's random external id, never its row id: forget finds it (and
        # a partial download of it) by that id, and no later take can come upon it.
        dest = self.clips_dir / f"{take.external_id}.mp4"
        phase = (
            TakeState.RENDERING
            if getattr(provider, "renders_locally", False)
            else TakeState.DOWNLOADING
        )
        await self._report(take, phase, progress=0.0 if phase == TakeState.RENDERING else None)
        loop = asyncio.get_running_loop()

        def on_progress(fraction: float) -> None:
            # May be called from a worker thread: hop back onto the loop.
            loop.call_soon_threadsafe(
                lambda: asyncio.ensure_future(self._report(take, phase, progress=fraction))
            )

        clip = await provider.download(request, take.upstream_task_id, status, dest, on_progress)
        await asyncio.to_thread(make_private, clip.path)  # a renderer writes with the umask
        crash_point("downloaded_not_saved")
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None:  # forgotten while downloading: the clip must not stay
                clip.path.unlink(missing_ok=True)
                raise LookupError(f"take {take.id} vanished")
            stored.clip_path = str(clip.path)
            stored.clip_size = clip.size_bytes
            stored.clip_duration = clip.duration_s
            stored.clip_width, stored.clip_height = clip.width, clip.height
            stored.preview = clip.preview
            stored.progress = 1.0
            await uow.takes.transition_take(stored, TakeState.DELIVERING)
        show_committed_status(take, stored)
        crash_point("delivering")
        for name in ("clip_path", "clip_size", "clip_duration", "clip_width", "clip_height"):
            setattr(take, name, getattr(stored, name))
        take.preview = clip.preview

    async def _deliver(self, take: Take) -> None:
        """Send the clip; record the message so a restart never sends it twice."""
        take = await self._load(take.id)
        if take.delivered_message_id is None:
            await self._report(take, TakeState.DELIVERING)
            crash_point("before_send")
            delivery = await self.observer.deliver(take)
            crash_point("sent_not_saved")
        else:
            delivery = Delivery(take.delivered_message_id, take.telegram_file_id)
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None:
                raise LookupError(f"take {take.id} vanished")
            stored.delivered_message_id = delivery.message_id
            stored.telegram_file_id = delivery.file_id
            await uow.takes.transition_take(stored, TakeState.DELIVERED)
        crash_point("delivered")
        take = await self._load(take.id)
        self._last_progress.pop(take.id, None)
        await self._notify_finished(take)

    # --- failures -----------------------------------------------------------------------

    async def _handle_provider_error(self, take: Take, error: ProviderError) -> None:
        try:
            take = await self._load(take.id)
        except LookupError:  # deleted (/forget) while the step failed: nothing to retry
            return
        if take.status in TERMINAL_TAKE_STATES:
            return
        out_of_time = take.deadline_at is not None and utcnow() > take.deadline_at
        # A create whose answer was lost, from a provider that cannot look tasks up by our
        # id (it says so with UNKNOWN + may_have_created): retrying could pay twice.
        unknowable = error.kind is ErrorKind.UNKNOWN and error.may_have_created
        if (error.retryable or error.kind is ErrorKind.UNKNOWN) and not (
            out_of_time or unknowable
        ):
            # Once the task exists upstream it is paid for: passing blips (polls, the
            # download) are retried until the deadline, never given up after a few.
            paid_for = error.retryable and take.upstream_task_id is not None
            if take.attempts < self.policy.max_attempts or paid_for:
                delay = error.retry_after or self._backoff(take.attempts)
                log.warning(
                    "take %s: %s, retrying in %.1fs (attempt %d)",
                    take.id,
                    error,
                    delay,
                    take.attempts,
                )
                async with self.db.session() as session:
                    uow = UnitOfWork(session)
                    stored = await uow.takes.get_take(take.id, for_update=True)
                    assert stored is not None
                    stored.attempts += 0 if stored.status == TakeState.SUBMITTING else 1
                    stored.next_attempt_at = utcnow() + timedelta(seconds=delay)
                    stored.error_kind, stored.error_detail = error.kind.value, str(error)
                    if stored.status == TakeState.SUBMITTING and not error.may_have_created:
                        # Nothing was created upstream: the slot is free again until retry.
                        await uow.takes.transition_take(
                            stored, TakeState.QUEUED, f"retry: {error.kind}"
                        )
                return
        await self._fail(take, error.kind, str(error))

    async def _fail(self, take: Take, kind: ErrorKind, detail: str) -> None:
        log.warning("take %s failed: %s (%s)", take.id, kind.value, detail)
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None or stored.status in TERMINAL_TAKE_STATES:
                return
            stored.error_kind, stored.error_detail = kind.value, detail[:2000]
            await uow.takes.transition_take(stored, TakeState.FAILED, kind.value)
        await self._notify_finished(await self._load(take.id))

    async def _notify_finished(self, take: Take) -> None:
        try:
            await self.observer.on_finished(take)
        except Exception:
            log.exception("take %s: could not show the final status", take.id)

    def _backoff(self, attempts: int) -> float:
        base = min(self.policy.backoff_cap_s, self.policy.backoff_base_s * 2 ** max(0, attempts))
        return base * random.uniform(0.5, 1.0)  # jitter: instances don't retry in lockstep

    # --- small helpers ------------------------------------------------------------------

    async def _load(self, take_id: int) -> Take:
        async with self.db.session() as session:
            take = await UnitOfWork(session).takes.get_take(take_id)
        if take is None:
            raise LookupError(f"take {take_id} vanished")
        return take

    async def _count_attempt(self, take: Take) -> None:
        async with self.db.session() as session:
            stored = await UnitOfWork(session).takes.get_take(take.id, for_update=True)
            if stored is None:
                raise LookupError(f"take {take.id} vanished")
            stored.attempts += 1
        take.attempts += 1

    async def _move(
        self, take: Take, to: TakeState, *, progress: float | None = None, next_in: float = 0.0
    ) -> None:
        """Move the take to `to` (staying put if it is there), then schedule its next step."""
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None:
                raise LookupError(f"take {take.id} vanished")
            if stored.status != to:  # a poll finding it still rendering stays where it is
                await uow.takes.transition_take(stored, to)
            if progress is not None:
                stored.progress = progress
            stored.next_attempt_at = utcnow() + timedelta(seconds=next_in)
        show_committed_status(take, stored)

    async def _report(
        self,
        take: Take,
        phase: TakeState,
        *,
        progress: float | None = None,
        queue_position: int | None = None,
    ) -> None:
        now = time.monotonic()
        key = take.id
        # Progress from a renderer arrives many times a second; the observer needs a trickle.
        if phase == TakeState.RENDERING and progress not in (None, 0.0, 1.0):
            if now - self._last_progress.get(key, 0.0) < 0.5:
                return
        self._last_progress[key] = now
        elapsed = (utcnow() - _aware(take.created_at)).total_seconds()
        try:
            await self.observer.on_progress(
                take, ProgressUpdate(phase, elapsed, progress, queue_position)
            )
        except Exception:
            log.exception("take %s: progress report failed", take.id)

    async def _video_request(self, take: Take) -> VideoRequest:
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            revision = await uow.projects.get_revision(take.revision_id)
            shot = await uow.projects.get_shot(take.shot_id)
        if revision is None or shot is None:
            raise ProviderError(ErrorKind.INVALID, "the shot or its draft was deleted")
        image = Path(shot.still_path or shot.photo_path)
        tail = Path(p) if (p := take.params.get("image_tail_path")) else None
        # Past submitting, the provider has the end frame already.
        sending = take.status in (TakeState.QUEUED, TakeState.SUBMITTING)
        if tail is not None and sending and not await asyncio.to_thread(tail.is_file):
            # Its sender used /forget: this take cannot end where it was asked to.
            raise ProviderError(ErrorKind.INVALID, "the end frame was removed")
        return VideoRequest(
            external_id=take.external_id,
            image_path=image,
            prompt=revision.prompt,
            negative_prompt=revision.negative_prompt,
            model=take.model,
            mode=take.params.get("mode", "std"),
            duration=int(take.params.get("duration", 5)),
            camera_move=take.params.get("camera_move", "static"),
            cfg_scale=take.params.get("cfg_scale"),
            image_tail_path=tail,
            callback_url=take.params.get("callback_url") or self.callback_urls.get(take.provider),
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)
