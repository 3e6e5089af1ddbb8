"""Takes: the generation queue, its leases, its state machine and votes on results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm.attributes import set_committed_value

from bot.domain.states import (
    ACTIVE_UPSTREAM_STATES,
    CLIP_READY_STATES,
    TAKE_TRANSITIONS,
    TERMINAL_TAKE_STATES,
    IllegalTransition,
    TakeState,
)
from storage.locks import PROVIDER_SLOTS, USER_TAKES, hold_for_transaction, lock_key
from storage.models import (
    Take,
    TakeEvent,
    TakeVote,
    utcnow,
)
from storage.repos.accounts import settle_usage
from storage.repos.base import Repository, rowcount


def show_committed_status(copy: Take, row: Take) -> None:
    """Let a detached copy of a take show the status its row was just committed with.

    Set as a loaded value, not a change: the copy can never write a status of its own.
    """
    set_committed_value(copy, "status", row.status)


class TakesRepo(Repository):
    """Takes from request to delivery; transition_take() is the only writer of takes.status."""

    async def add_take(self, **fields: Any) -> Take:
        take = Take(**fields)
        self.session.add(take)
        await self.session.flush()
        self.session.add(TakeEvent(take_id=take.id, status=take.status, detail="created"))
        return take

    async def take_by_request_key(self, key: str) -> Take | None:
        return await self.session.scalar(select(Take).where(Take.request_key == key))

    async def active_take_for_revision(self, revision_id: int) -> Take | None:
        return await self.session.scalar(
            select(Take)
            # A take whose clip is on its way is done being made: 🔁 Again under that clip,
            # pressed before the delivery is recorded, asks for a new one.
            .where(
                Take.revision_id == revision_id,
                Take.status.not_in(TERMINAL_TAKE_STATES | CLIP_READY_STATES),
            )
            .order_by(Take.id.desc())
            .limit(1)
        )

    async def get_take(self, take_id: int, *, for_update: bool = False) -> Take | None:
        if for_update and self.session.bind and self.session.bind.dialect.name == "postgresql":
            return await self.session.scalar(
                select(Take).where(Take.id == take_id).with_for_update()
            )
        return await self.session.get(Take, take_id, populate_existing=True)

    async def transition_take(self, take: Take, to: TakeState, detail: str | None = None) -> None:
        """Move a take along TAKE_TRANSITIONS: the only code that changes a take's status.

        Stamps the move in take_events; a terminal state also ends the lease and settles the
        take's reserved units. A move the table does not allow raises IllegalTransition.
        """
        if to not in TAKE_TRANSITIONS.get(TakeState(take.status), frozenset()):
            raise IllegalTransition(take.id, take.status, to)
        now = utcnow()
        take.status = to
        take.status_changed_at = now
        if to == TakeState.SUBMITTED and take.submitted_at is None:
            take.submitted_at = now
        if to in TERMINAL_TAKE_STATES:
            take.finished_at = take.finished_at or now
            take.lease_owner = None
            take.lease_expires_at = None
        if to == TakeState.DELIVERED:
            take.delivered_at = now
        self.session.add(TakeEvent(take_id=take.id, status=to, detail=detail, at=now))
        if to in TERMINAL_TAKE_STATES:
            # Budgets: every take ends here, so its reserved units are charged or refunded.

            await settle_usage(self.session, take.id, to)

    async def take_events(self, take_id: int) -> list[TakeEvent]:
        result = await self.session.execute(
            select(TakeEvent).where(TakeEvent.take_id == take_id).order_by(TakeEvent.id)
        )
        return list(result.scalars())

    async def shot_takes(self, shot_id: int) -> list[Take]:
        result = await self.session.execute(
            select(Take).where(Take.shot_id == shot_id).order_by(Take.id)
        )
        return list(result.scalars())

    async def claim_due_takes(
        self,
        owner: str,
        *,
        limit: int,
        lease: timedelta,
        now: datetime | None = None,
        per_user: int | None = None,
    ) -> list[int]:
        """Lease unfinished takes that are due, so exactly one runner works on each.

        Takes already at work come first; queued takes are served round-robin across users
        (then chats), and none of a user who already has `per_user` takes at work.
        PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several instances share the queue.
        SQLite: one writer at a time anyway; the lease condition in the UPDATE keeps it safe.
        """
        now = now or utcnow()
        # Every runner asks once a second, mostly of an empty queue: the statement is built
        # once (building it and deriving its cache key cost more CPU than running it).
        limited = bool(per_user)  # None or 0: no per-user cap
        candidates = self._prebuilt(
            f"claim_candidates:{limited}", lambda _: _claim_candidates(limited=limited)
        )
        params: dict[str, Any] = {"now": now, "owner": owner, "limit": limit}
        if limited:
            params["per_user"] = per_user
        ids: list[int] = list((await self.session.execute(candidates, params)).scalars())
        if not ids:
            return []
        lockable = select(Take.id).where(Take.id.in_(ids), _free(owner, now))
        if self.session.bind and self.session.bind.dialect.name == "postgresql":
            lockable = lockable.with_for_update(skip_locked=True)
        result = await self.session.execute(
            update(Take)
            .where(Take.id.in_(lockable.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=now + lease)
            .returning(Take.id)
        )
        claimed = set(result.scalars())
        return [take_id for take_id in ids if take_id in claimed]

    async def takes_at_work(self, user_id: int | None) -> int:
        """The user's takes past 'queued' and unfinished (the per-user in-flight limit)."""
        return int(
            await self.session.scalar(
                select(func.count(Take.id)).where(
                    Take.requested_by == user_id if user_id is not None else false(),
                    Take.status.not_in((*TERMINAL_TAKE_STATES, TakeState.QUEUED)),
                )
            )
            or 0
        )

    async def renew_lease(self, take_id: int, owner: str, lease: timedelta) -> bool:
        result = await self.session.execute(
            update(Take)
            .where(Take.id == take_id, Take.lease_owner == owner)
            .values(lease_expires_at=utcnow() + lease)
        )
        return rowcount(result) == 1

    async def release_lease(self, take_id: int, owner: str) -> None:
        await self.session.execute(
            update(Take)
            .where(Take.id == take_id, Take.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )

    async def hold_provider_slots(self, provider: str) -> None:
        """Until this unit of work ends, no other instance counts or takes `provider`'s slots.

        PostgreSQL only: SQLite's BEGIN IMMEDIATE already makes writers take turns.
        """
        if self._postgres:
            await hold_for_transaction(self.session, lock_key(PROVIDER_SLOTS, provider))

    async def hold_user_takes(self, user_id: int) -> None:
        """Until this unit of work ends, no other instance counts this user's takes at work."""
        if self._postgres:
            await hold_for_transaction(self.session, lock_key(USER_TAKES, user_id))

    async def count_active_upstream(self, provider: str) -> int:
        """Takes occupying a provider concurrency slot, across all instances."""
        return int(
            await self.session.scalar(
                select(func.count(Take.id)).where(
                    Take.provider == provider, Take.status.in_(ACTIVE_UPSTREAM_STATES)
                )
            )
            or 0
        )

    async def queue_position(self, take: Take) -> int:
        """How many queued takes for the same provider are served before this one.

        Round-robin across users, as the runner claims: a user's n-th waiting take (counting
        those already at work) comes after everybody's (n-1)-th.
        """
        ranked = (
            select(
                Take.id,
                Take.requested_by,
                func.row_number()
                .over(partition_by=Take.requested_by, order_by=Take.id)
                .label("turn"),
            )
            .where(Take.provider == take.provider, Take.status == TakeState.QUEUED)
            .subquery()
        )
        busy = _takes_at_work()
        places = (
            select(
                ranked.c.id,
                (ranked.c.turn + func.coalesce(busy.c.at_work, 0)).label("place"),
            )
            .select_from(ranked.outerjoin(busy, busy.c.requested_by == ranked.c.requested_by))
            .cte("places")
        )
        mine = select(places.c.place).where(places.c.id == take.id).scalar_subquery()
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(places)
                .where(
                    or_(
                        places.c.place < mine,
                        and_(places.c.place == mine, places.c.id < take.id),
                    )
                )
            )
            or 0
        )

    async def takes_by_status(self) -> dict[str, int]:
        result = await self.session.execute(
            select(Take.status, func.count(Take.id)).group_by(Take.status)
        )
        return {status: count for status, count in result.all()}

    async def record_charged_units(self, take: Take, units: float | None) -> None:
        """Keep what the provider says it charged for `take` (None: it didn't say)."""
        if units is not None:
            take.charged_units = units

    async def charged_units_since(self, since: datetime) -> dict[str, float]:
        """Provider-reported charges per provider for takes finished since `since`."""
        result = await self.session.execute(
            select(Take.provider, func.sum(Take.charged_units))
            .where(Take.charged_units.is_not(None), Take.created_at >= since)
            .group_by(Take.provider)
        )
        return {provider: float(units or 0.0) for provider, units in result.all()}

    async def hurry_upstream_take(
        self, provider: str, task_id: str, external_id: str | None
    ) -> int | None:
        """A provider says a task changed: make its waiting take due now. None if not ours."""
        match = Take.upstream_task_id == task_id
        if external_id:
            match = or_(match, Take.external_id == external_id)
        take = await self.session.scalar(
            select(Take).where(Take.provider == provider, match).limit(1)
        )
        if take is None:
            return None
        if take.status in (TakeState.SUBMITTED, TakeState.RENDERING):
            take.next_attempt_at = utcnow()
        return take.id

    async def take_star_counts(self, shot_ids: Sequence[int]) -> dict[int, int]:
        """⭐ votes per take of these shots."""
        if not shot_ids:
            return {}
        result = await self.session.execute(
            select(TakeVote.take_id, func.count())
            .where(TakeVote.shot_id.in_(list(shot_ids)))
            .group_by(TakeVote.take_id)
        )
        rows: Sequence[tuple[int, int]] = result.all()  # a Row is its typed tuple
        return {take_id: count for take_id, count in rows}

    async def vote(self, shot_id: int, user_id: int, take_id: int) -> None:
        """One vote per member per shot: a new ⭐ moves the member's vote to this take."""
        row = await self.session.get(TakeVote, (shot_id, user_id))
        if row is None:
            self.session.add(TakeVote(shot_id=shot_id, user_id=user_id, take_id=take_id))
        else:
            row.take_id, row.voted_at = take_id, utcnow()
        await self.session.flush()

    async def vote_counts(self, shot_id: int) -> dict[int, int]:
        result = await self.session.execute(
            select(TakeVote.take_id, func.count())
            .where(TakeVote.shot_id == shot_id)
            .group_by(TakeVote.take_id)
        )
        return {int(take): int(count) for take, count in result.all()}


def _takes_at_work(owner: Any = None, now: Any = None) -> Any:
    """Per user: takes past 'queued' and unfinished (with `owner`: also queued takes
    another runner holds, as they may move on before this claim commits)."""
    at_work: Any = Take.status != TakeState.QUEUED
    if owner is not None and now is not None:
        held = and_(
            Take.lease_owner.is_not(None),
            Take.lease_owner != owner,
            Take.lease_expires_at >= now,
        )
        at_work = or_(at_work, held)
    return (
        select(Take.requested_by, func.count(Take.id).label("at_work"))
        .where(Take.status.not_in(TERMINAL_TAKE_STATES), at_work)
        .group_by(Take.requested_by)
        .subquery()
    )


def _free(owner: Any, now: Any) -> Any:
    """A take no other runner holds a live lease on."""
    return or_(
        Take.lease_owner.is_(None),
        Take.lease_expires_at.is_(None),
        Take.lease_expires_at < now,
        Take.lease_owner == owner,
    )


def _claim_candidates(*, limited: bool) -> Select[Any]:
    """The due takes a runner may claim, best first, with the runner (`owner`), the time
    (`now`), how many (`limit`) and, when `limited`, the per-user cap (`per_user`) bound
    at each run."""
    # Untyped: each takes the type of the column it is compared with.
    now: BindParameter[Any] = bindparam("now")
    owner: BindParameter[Any] = bindparam("owner")
    queued = Take.status == TakeState.QUEUED
    due = (
        select(
            Take.id,
            Take.requested_by,
            queued.label("queued"),
            Take.next_attempt_at,
            func.row_number()
            .over(partition_by=(Take.requested_by, queued), order_by=Take.id)
            .label("turn"),
            func.row_number()
            .over(partition_by=(Take.chat_id, queued), order_by=Take.id)
            .label("chat_turn"),
        )
        .where(
            Take.status.not_in(TERMINAL_TAKE_STATES),
            Take.next_attempt_at <= now,
            _free(owner, now),
        )
        .subquery()
    )
    busy = _takes_at_work(owner, now)
    waiting = due.c.turn + func.coalesce(busy.c.at_work, 0)
    # Takes of no known user (the CLI, or a forgotten user's) are not held back.
    eligible = (
        or_(
            due.c.queued.is_(False),
            due.c.requested_by.is_(None),
            waiting <= bindparam("per_user", type_=Integer),
        )
        if limited
        else true()
    )
    return (
        select(due.c.id)
        .select_from(due.outerjoin(busy, busy.c.requested_by == due.c.requested_by))
        .where(eligible)
        .order_by(due.c.queued, due.c.turn, due.c.chat_turn, due.c.next_attempt_at, due.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
