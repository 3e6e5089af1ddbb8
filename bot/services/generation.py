"""What happens after a user presses 🎬 Generate, top to bottom: the take's state machine.

A take is a row that moves through
    queued → submitting → submitted → rendering → downloading → delivering → delivered
or ends failed / cancelled (bot.domain.states.TAKE_TRANSITIONS lists every allowed move,
and storage's TakesRepo.transition_take, the only writer of a take's status, enforces it).
Each step is committed before the next begins, so after a crash or restart any runner
(this process or another instance) picks the take up from its last committed state:

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

A runner (bot.runner) claims due takes with a lease and calls `TakeMachine.advance`, which
does as much as it can without waiting, sets `next_attempt_at` for the next step and lets
go. Transient failures retry with backoff within the take's deadline; every other failure
ends the take with a reason the user is told in plain words.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.aspect import shot_aspect
from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.ports import (
    ModelRules,
    TakeObserver,
    VideoProvider,
    cancel_upstream,
    model_rules,
    refusal_of,
    take_sound,
)
from bot.domain.records import TakeRecord
from bot.domain.states import CLIP_READY_STATES, TERMINAL_TAKE_STATES, TakeState
from bot.domain.types import (
    Actor,
    Delivery,
    ProgressUpdate,
    StillChoice,
    TakeRequest,
    VideoRequest,
)
from bot.files import make_private, private_dir
from bot.services.budget import Budget
from bot.services.permissions import FetchStatus, Permissions
from storage.db import Database
from storage.models import PromptRevision, Take, utcnow
from storage.repos.takes import show_committed_status
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

STATUS_MESSAGE_GRACE_S = 10.0


def crash_point(name: str) -> None:
    """Crash-safety tests only: CLAYMATE_TEST_CRASH_AT=<name> dies here as kill -9 would.

    A no-op unless the variable names this point (tests/e2e/test_crash_safety.py lists them).
    """
    if os.environ.get("CLAYMATE_TEST_CRASH_AT") == name:
        os._exit(137)


@dataclass(frozen=True, slots=True)
class TakePolicy:
    """How patiently a take is worked on: polling, queueing, retries."""

    poll_interval_s: float = 8.0
    queue_recheck_s: float = 3.0
    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 60.0
    max_in_flight_per_user: int = 3  # CLAYMATE_MAX_TAKES_IN_FLIGHT_PER_USER


# --- what users ask for -----------------------------------------------------------------


class Generation:
    """🎬 Generate, ✖ cancel and ⭐ keep: takes as their users see them."""

    def __init__(
        self,
        db: Database,
        providers: Mapping[str, VideoProvider],
        permissions: Permissions,
        budget: Budget,
        *,
        default_provider: str,
        deadline_s: float,
    ) -> None:
        self.db = db
        self.providers = providers
        self.permissions = permissions
        self.budget = budget
        self.default_provider = default_provider
        self.deadline_s = deadline_s  # from the request to the delivered clip

    async def request_take(
        self,
        actor: Actor,
        revision_id: int,
        *,
        request_key: str | None = None,
        chat_id: int | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        status_message_pending: bool = False,
        still: StillChoice | None = None,
        fetch_status: FetchStatus | None = None,
    ) -> TakeRequest:
        """🎬 Generate: queue a take. A double tap or a redelivered update makes no second one.

        A take spends money: in an admins-only group only admins may ask (`fetch_status`
        asks Telegram who the actor is there; without it, they are not an admin).

        With `status_message_pending`, the caller is about to show a status message and
        will make the take due with attach_status_message; until then (or for at most
        STATUS_MESSAGE_GRACE_S, should the caller die) runners leave it alone, so the user
        never gets a second status message from the runner. `still` changes the shot's
        picture in the same unit of work, only when the take is made.
        """
        await self.permissions.check_may_spend(actor, fetch_status)
        async with self.db.unit_of_work() as uow:
            revision, shot = await self.permissions.spendable_revision(uow, actor, revision_id)
        provider_name = revision.params.get("provider", self.default_provider)
        if provider_name not in self.providers:
            provider_name = self.default_provider
        provider = self.providers[provider_name]
        if reply_to_message_id is None and shot.chat_id == chat_id:
            reply_to_message_id = shot.message_id
        # What the provider would refuse is said now, before any budget is held.
        picture = still.path if still is not None and still.shot_id == shot.id else shot.still_path
        params = take_params(revision.params)
        tail = params.get("image_tail_path")
        aspect = shot_aspect(shot.facts)
        preview = VideoRequest(
            external_id="",
            image_path=Path(picture or shot.photo_path),
            prompt=revision.prompt,
            negative_prompt=revision.negative_prompt,
            model=revision.params.get("model") or provider.model,
            mode=params["mode"],
            duration=int(params["duration"]),
            camera_move=params["camera_move"],
            image_tail_path=Path(tail) if tail else None,
            aspect=aspect,
        )
        if refused := await refusal_of(provider, preview):
            raise refused
        async with self.db.unit_of_work() as uow:
            # Check and insert under one lock: twenty presses of one button make one take.
            await uow.shots.lock_revision(revision.id)
            if request_key and (existing := await uow.takes.take_by_request_key(request_key)):
                return TakeRequest(existing, created=False)
            if active := await uow.takes.active_take_for_revision(revision.id):
                return TakeRequest(active, created=False)
            project = await uow.projects.get_project(shot.project_id)
            take = await uow.takes.add_take(
                shot_id=shot.id,
                revision_id=revision.id,
                requested_by=actor.user_id,
                request_key=request_key,
                provider=provider.name,
                model=revision.params.get("model") or provider.model,
                params=take_params(
                    revision.params,
                    model_rules(provider),
                    revision.params.get("model") or provider.model,
                    sound=project.sound if project is not None else False,
                    aspect=aspect,
                ),
                external_id=str(uuid.uuid4()),
                deadline_at=utcnow() + timedelta(seconds=self.deadline_s),
                next_attempt_at=utcnow()
                + timedelta(seconds=STATUS_MESSAGE_GRACE_S if status_message_pending else 0),
                chat_id=chat_id,
                thread_id=thread_id,
                reply_to_message_id=reply_to_message_id,
            )
            # Reserve its cost in this same transaction: parallel Generates never overspend.
            group_id = actor.chat_id if actor.is_group else None
            allowance = await self.budget.reserve(uow.accounts, take, actor.user_id, group_id)
            if not allowance.enough:
                raise StudioError(
                    "budget.exceeded", cost=f"{allowance.cost:g}", left=f"{allowance.left or 0:g}"
                )
            if still is not None and still.shot_id == shot.id:
                stored = await uow.shots.get_shot(shot.id)
                assert stored is not None
                stored.still_path = still.path
            await uow.projects.touch_project(shot.project_id)
            return TakeRequest(take, created=True)

    def price(self, params: dict[str, Any], *, sound: bool) -> float:
        """What a take of a revision with `params` will reserve: priced as request_take
        will queue it (its provider, model, fitted mode and duration, and the project's
        sound where the model makes it), so a check ahead of time agrees with the charge."""
        name = str(params.get("provider") or self.default_provider)
        if name not in self.providers:
            name = self.default_provider
        provider = self.providers[name]
        model = str(params.get("model") or provider.model)
        fitted = take_params(params, model_rules(provider), model, sound=sound)
        return self.budget.cost(
            name,
            str(fitted.get("mode", "std")),
            int(fitted.get("duration", 5)),
            bool(fitted.get("sound")),
            model,
        )

    async def cancel_take(
        self, actor: Actor, take_id: int, *, fetch_status: FetchStatus | None = None
    ) -> bool:
        """✖ on a status message: only a take not yet sent to the provider can be cancelled,
        and only by its author, a group admin or an operator (`fetch_status`: getChatMember).
        """
        take: Take | None  # the row re-read under lock below may be gone
        take = await self.take_by_id(actor, take_id)
        if take.requested_by != actor.user_id and not await self.permissions.may_remove_others(
            actor, fetch_status
        ):
            raise StudioError("take.cancel_not_allowed")
        async with self.db.unit_of_work() as uow:
            take = await uow.takes.get_take(take_id, for_update=True)
            if take is None:
                return False
            await self.permissions.shot(uow, actor, take.shot_id)
            if take.status != TakeState.QUEUED:  # past the queue: the provider may be charging
                return False
            await uow.takes.transition_take(take, TakeState.CANCELLED, f"by user {actor.user_id}")
            return True

    async def abandon_take(self, take_id: int, reason: str) -> None:
        """End a take nobody waits for any more as cancelled, which refunds what it reserved."""
        async with self.db.unit_of_work() as uow:
            take = await uow.takes.get_take(take_id, for_update=True)
            if take is not None and take.status not in TERMINAL_TAKE_STATES:
                await uow.takes.transition_take(take, TakeState.CANCELLED, reason)

    async def keep_take(self, actor: Actor, take_id: int) -> Take:
        """⭐ Keep: this take is the shot's clip in the film."""
        async with self.db.unit_of_work() as uow:
            take = await uow.takes.get_take(take_id)
            if take is None or take.status not in CLIP_READY_STATES:
                raise StudioError("take.not_found")
            shot = await self.permissions.shot(uow, actor, take.shot_id)
            shot.kept_take_id = take.id
            return take

    async def take_by_id(self, actor: Actor, take_id: int) -> Take:
        """The take, if it is this chat's."""
        async with self.db.unit_of_work() as uow:
            return await self.permissions.take(uow, actor, take_id)

    async def revision_for_take(self, take: TakeRecord) -> PromptRevision:
        """The draft a take was generated from (its clip's caption shows the summary)."""
        async with self.db.unit_of_work() as uow:
            revision = await uow.shots.get_revision(take.revision_id)
        if revision is None:
            raise StudioError("draft.not_found")
        return revision

    # --- which message shows which take -----------------------------------------------------

    async def attach_status_message(self, take_id: int, chat_id: int, message_id: int) -> None:
        """The take's status message was sent: remember it, and let a waiting take start."""
        async with self.db.unit_of_work() as uow:
            take = await uow.takes.get_take(take_id, for_update=True)
            if take is not None:
                take.status_message_id = message_id
                take.status_edited_at = utcnow()
                if take.status == TakeState.QUEUED:
                    take.next_attempt_at = utcnow()
            await uow.chats.remember_message(chat_id, message_id, "status", take_id=take_id)

    async def remember_clip(
        self, chat_id: int, message_id: int, take_id: int, revision_id: int
    ) -> None:
        """A clip message was sent: a reply to it refines its draft, ⭐ and 🔁 find its take."""
        async with self.db.unit_of_work() as uow:
            await uow.chats.remember_message(
                chat_id, message_id, "clip", take_id=take_id, revision_id=revision_id
            )


def take_params(
    params: dict[str, Any],
    rules: ModelRules | None = None,
    model: str = "",
    *,
    sound: bool = False,
    aspect: str | None = None,
) -> dict[str, Any]:
    """What a take is generated with. An end frame wins over a camera move; with per-model
    rules it needs a mode that takes one (the draft already showed that mode's price) and
    keeps its duration, without them it forces 5 s. `sound` (the project's choice) is kept
    only where the model makes sound in that mode, as the draft's price assumed."""
    fitted = _fitted_params(params, rules, model)
    if take_sound(
        rules,
        model or (rules.model if rules else ""),
        fitted["mode"],
        end_frame="image_tail_path" in fitted,
        wanted=sound,
    ):
        fitted["sound"] = True
    if aspect is not None:
        fitted["aspect"] = aspect  # the shot's shape, asked of providers that take one
    return fitted


def _fitted_params(params: dict[str, Any], rules: ModelRules | None, model: str) -> dict[str, Any]:
    if tail := params.get("image_tail_path"):
        mode, duration = str(params.get("mode", "std")), 5
        if rules is not None:
            fitted = rules.end_frame_mode(model or rules.model, mode)
            if fitted != mode:  # an old draft: never charge for a take other than the shown one
                raise StudioError("end_frame.needs_mode", model=model, mode=fitted or mode)
            duration = int(params.get("duration", 5))
        return {
            "mode": mode,
            "duration": duration,
            "camera_move": "static",
            "image_tail_path": tail,
        }
    return {
        "mode": params.get("mode", "std"),
        "duration": int(params.get("duration", 5)),
        "camera_move": params.get("camera_move", "static"),
    }


# --- one take, top to bottom ------------------------------------------------------------


class TakeMachine:
    """Advances one take as far as it can go without waiting; a runner calls it."""

    def __init__(
        self,
        db: Database,
        providers: Mapping[str, VideoProvider],
        observer: TakeObserver,
        *,
        clips_dir: Path,
        caps: Mapping[str, int] | None = None,
        policy: TakePolicy = TakePolicy(),
        callback_urls: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.providers = providers
        self.observer = observer
        self.clips_dir = clips_dir
        self.caps = caps or {}
        self.policy = policy
        # Per provider: where it may report progress (a hint; polling stays the fallback).
        self.callback_urls = callback_urls or {}
        self._slot_lock = asyncio.Lock()
        self._last_progress: dict[int, float] = {}

    async def advance(self, take_id: int) -> None:
        """Take one take as far as it can go now; schedule the rest."""
        try:
            take = await self.load(take_id)
        except LookupError:  # deleted (/forget): nothing left to do
            return
        if take.status in TERMINAL_TAKE_STATES:
            return
        provider = self.providers.get(take.provider)
        if provider is None:
            await self._fail(take, ErrorKind.INVALID, f"provider {take.provider!r} not configured")
            return
        try:
            request = await self.video_request(take)
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
        async with self._slot_lock, self.db.unit_of_work() as uow:
            # One instance at a time counts and takes a slot for this provider.
            await uow.takes.hold_provider_slots(take.provider)
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None or stored.status != TakeState.QUEUED:
                return False
            # A user with enough takes at work waits, however free the provider is.
            room = await self._user_has_room(uow, stored)
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

    async def _user_has_room(self, uow: UnitOfWork, take: Take) -> bool:
        """Fewer than the per-user limit of this user's takes are at work (all instances)."""
        if take.requested_by is None:
            return True
        await uow.takes.hold_user_takes(take.requested_by)  # one instance at a time counts
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
        async with self.db.unit_of_work() as uow:
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
        async with self.db.unit_of_work() as uow:
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
            await uow.takes.record_charged_units(stored, status.charged_units)
            await uow.takes.transition_take(stored, TakeState.DELIVERING)
        show_committed_status(take, stored)
        crash_point("delivering")
        for name in ("clip_path", "clip_size", "clip_duration", "clip_width", "clip_height"):
            setattr(take, name, getattr(stored, name))
        take.preview = clip.preview

    async def _deliver(self, take: Take) -> None:
        """Send the clip; record the message so a restart never sends it twice."""
        take = await self.load(take.id)
        if take.delivered_message_id is None:
            await self._report(take, TakeState.DELIVERING)
            crash_point("before_send")
            delivery = await self.observer.deliver(take)
            crash_point("sent_not_saved")
        else:
            delivery = Delivery(take.delivered_message_id, take.telegram_file_id)
        async with self.db.unit_of_work() as uow:
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None:
                raise LookupError(f"take {take.id} vanished")
            stored.delivered_message_id = delivery.message_id
            stored.telegram_file_id = delivery.file_id
            await uow.takes.transition_take(stored, TakeState.DELIVERED)
        crash_point("delivered")
        take = await self.load(take.id)
        self._last_progress.pop(take.id, None)
        await self._notify_finished(take)

    # --- failures -----------------------------------------------------------------------

    async def _handle_provider_error(self, take: Take, error: ProviderError) -> None:
        try:
            take = await self.load(take.id)
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
                async with self.db.unit_of_work() as uow:
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
        async with self.db.unit_of_work() as uow:
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None or stored.status in TERMINAL_TAKE_STATES:
                return
            stored.error_kind, stored.error_detail = kind.value, detail[:2000]
            await uow.takes.transition_take(stored, TakeState.FAILED, kind.value)
        await self._notify_finished(await self.load(take.id))

    async def _notify_finished(self, take: Take) -> None:
        try:
            await self.observer.on_finished(take)
        except Exception:
            log.exception("take %s: could not show the final status", take.id)

    def _backoff(self, attempts: int) -> float:
        base = min(self.policy.backoff_cap_s, self.policy.backoff_base_s * 2 ** max(0, attempts))
        return base * random.uniform(0.5, 1.0)  # jitter: instances don't retry in lockstep

    # --- small helpers ------------------------------------------------------------------

    async def load(self, take_id: int) -> Take:
        """The take as stored now; LookupError when it is gone (/forget)."""
        async with self.db.unit_of_work() as uow:
            take = await uow.takes.get_take(take_id)
        if take is None:
            raise LookupError(f"take {take_id} vanished")
        return take

    async def _count_attempt(self, take: Take) -> None:
        async with self.db.unit_of_work() as uow:
            stored = await uow.takes.get_take(take.id, for_update=True)
            if stored is None:
                raise LookupError(f"take {take.id} vanished")
            stored.attempts += 1
        take.attempts += 1

    async def _move(
        self, take: Take, to: TakeState, *, progress: float | None = None, next_in: float = 0.0
    ) -> None:
        """Move the take to `to` (staying put if it is there), then schedule its next step."""
        async with self.db.unit_of_work() as uow:
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

    async def video_request(self, take: Take) -> VideoRequest:
        """What the provider is asked for, rebuilt from the database at every step."""
        async with self.db.unit_of_work() as uow:
            revision = await uow.shots.get_revision(take.revision_id)
            shot = await uow.shots.get_shot(take.shot_id)
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
            sound=bool(take.params.get("sound")),
            aspect=take.params.get("aspect"),
            callback_url=take.params.get("callback_url") or self.callback_urls.get(take.provider),
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)
