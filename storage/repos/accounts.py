"""Money, access and privacy: settings, the allowlist, the usage ledger, quotas, /forget.

Kept in one file so the money and privacy queries can be read (and reviewed) together."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarResult,
    Select,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.states import (
    SPENDING_CHARGE_STATES,
    TERMINAL_TAKE_STATES,
    ChargeState,
    TakeState,
)
from storage.locks import BUDGET, hold_for_transaction, lock_key
from storage.models import (
    AccessEntry,
    BotMessage,
    BotSetting,
    Chat,
    MediaGroup,
    Project,
    PromptRevision,
    QuotaOverride,
    Shot,
    StarPurchase,
    Take,
    TakeVote,
    UsageEntry,
    User,
    utcnow,
)
from storage.repos.base import Repository, rowcount

LEDGER_KEY = "ledger_key"  # bot_settings: the installation's key for hashing user ids


USAGE_KINDS = ("take", "still", "grant")


def ledger_hash(key: str, user_id: int) -> str:
    """The ledger's name for a user: HMAC-SHA256 of the id under the installation's key."""
    return hmac.new(bytes.fromhex(key), str(user_id).encode(), hashlib.sha256).hexdigest()


async def settle_usage(session: AsyncSession, take_id: int, status: TakeState) -> None:
    """A take ended: its reserved units are charged if delivered, refunded otherwise."""
    state = ChargeState.CHARGED if status == TakeState.DELIVERED else ChargeState.REFUNDED
    await session.execute(
        update(UsageEntry)
        .where(UsageEntry.take_id == take_id, UsageEntry.state == ChargeState.RESERVED)
        .values(state=state, updated_at=utcnow())
    )


@dataclass(frozen=True, slots=True)
class UsageTotals:
    reserved: float = 0.0
    charged: float = 0.0
    refunded: float = 0.0
    granted: float = 0.0  # positive: units given back by an admin
    takes: int = 0


@dataclass(frozen=True, slots=True)
class InFlight:
    """A take /forget stopped before it finished: its upstream task may still be running."""

    take_id: int
    provider: str
    upstream_task_id: str | None


@dataclass(frozen=True, slots=True)
class OwnedFiles:
    """What /forget removed from the database and must now remove from disk."""

    paths: list[str]
    project_ids: list[int]
    shot_folders: list[str] = field(default_factory=list)  # stills and end frames, per shot
    clip_names: list[str] = field(default_factory=list)  # takes' external ids (partial files)
    in_flight: list[InFlight] = field(default_factory=list)
    photo_paths: list[str] = field(default_factory=list)  # also in paths; files derive from them
    music_names: list[str] = field(default_factory=list)  # the projects' songs, under music/


class AccountsRepo(Repository):
    """The allowlist, quotas, the usage ledger and /forget."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._ledger_key: str | None = None
        # Overrides read ahead for the subjects of a batch (see `read_quota_overrides`).
        self._overrides: dict[int, dict[str, float | None]] = {}

    async def setting(self, key: str) -> Any:
        """A bot_settings value, or None when it was never set."""
        return await self.session.scalar(select(BotSetting.value).where(BotSetting.key == key))

    async def set_setting(self, key: str, value: Any, by: int | None) -> None:
        """Set (or replace) a bot_settings value; instances racing here both succeed."""
        insert = (pg_insert if self._postgres else sqlite_insert)(BotSetting).values(
            key=key, value=value, changed_by=by, changed_at=utcnow()
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["key"],
                set_={"value": value, "changed_by": by, "changed_at": utcnow()},
            )
        )

    async def setting_if_missing(self, key: str, value: Any) -> Any:
        """Store `value` unless `key` is set already; the value that is stored either way."""
        insert = (pg_insert if self._postgres else sqlite_insert)(BotSetting).values(
            key=key, value=value, changed_by=None, changed_at=utcnow()
        )
        await self.session.execute(insert.on_conflict_do_nothing())
        return await self.setting(key)

    async def user_hash(self, user_id: int) -> str:
        """The ledger's hashed id for `user_id` (the key is made by migration 0003_ledger)."""
        if self._ledger_key is None:
            key = await self.setting(LEDGER_KEY)
            if not isinstance(key, str):  # a database restored without its settings row
                key = await self.setting_if_missing(LEDGER_KEY, secrets.token_hex(32))
            self._ledger_key = str(key)
        return ledger_hash(self._ledger_key, user_id)

    async def access_snapshot(
        self, key: str, *subject_ids: int
    ) -> tuple[dict[int, str], Any, bool]:
        """What the access gate reads on every update, in one round trip: the subjects'
        entries, a bot_settings value (the access mode) and whether anyone is allowed."""
        subjects = list(dict.fromkeys(subject_ids))  # a private chat's id is its user's
        params = {"key": key} | {f"subject_{n}": s for n, s in enumerate(subjects)}
        connection = await self.session.connection()
        row = (await connection.execute(_access_snapshot(len(subjects)), params)).one()
        found = {s: str(v) for s, v in zip(subjects, row[2:], strict=True) if v is not None}
        return found, row[0], bool(row[1])

    async def setting_and_any_allowed(self, key: str) -> tuple[Any, bool]:
        """A bot_settings value and whether anyone is on the allowlist, in one round trip.

        The access gate asks both on every update while the mode was never stored.
        """
        stored = select(BotSetting.value).where(BotSetting.key == key).scalar_subquery()
        allowed = select(AccessEntry.subject_id).where(AccessEntry.status == "allowed")
        row = (await self.session.execute(select(stored, allowed.exists()))).one()
        return row[0], bool(row[1])

    async def set_access(self, subject_id: int, status: str, by: int | None) -> None:
        entry = await self.session.get(AccessEntry, subject_id)
        if entry is None:
            self.session.add(AccessEntry(subject_id=subject_id, status=status, changed_by=by))
        else:
            entry.status, entry.changed_by, entry.changed_at = status, by, utcnow()
        await self.session.flush()

    async def lock_subjects(self, *subject_ids: int) -> None:
        """Serialise reservations per user and group (SQLite: BEGIN IMMEDIATE already does)."""
        if not self._postgres:
            return
        for subject in sorted(set(subject_ids)):
            await hold_for_transaction(self.session, lock_key(BUDGET, subject))

    async def spent(
        self, *, since: datetime, user_id: int | None = None, chat_id: int | None = None
    ) -> float:
        # What bought credits paid never counts against a free quota.
        free_units = UsageEntry.units - UsageEntry.credit_units
        query = select(func.coalesce(func.sum(free_units), 0.0)).where(
            UsageEntry.state.in_(sorted(SPENDING_CHARGE_STATES)), UsageEntry.created_at >= since
        )
        if user_id is not None:
            # By hash: rows a forgotten user left behind still count when they come back.
            query = query.where(UsageEntry.user_hash == await self.user_hash(user_id))
        if chat_id is not None:
            query = query.where(UsageEntry.chat_id == chat_id)
        return float(await self.session.scalar(query) or 0.0)

    async def add_usage(
        self,
        *,
        take_id: int | None,
        user_id: int | None,
        chat_id: int | None,
        units: float,
        state: str,
        kind: str = "take",
        credit_units: float = 0.0,
    ) -> UsageEntry:
        """A ledger entry; `credit_units` of `units` are paid with the user's bought credits."""
        if kind not in USAGE_KINDS:
            raise ValueError(kind)
        entry = UsageEntry(
            take_id=take_id,
            user_id=user_id,
            user_hash=None if user_id is None else await self.user_hash(user_id),
            chat_id=chat_id,
            kind=kind,
            units=units,
            credit_units=credit_units,
            state=state,
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def settle_entry(self, entry_id: int, *, charged: bool) -> None:
        """A reservation without a take (a still) ends: charged on success, else refunded."""
        await self.session.execute(
            update(UsageEntry)
            .where(UsageEntry.id == entry_id, UsageEntry.state == ChargeState.RESERVED)
            .values(
                state=ChargeState.CHARGED if charged else ChargeState.REFUNDED,
                updated_at=utcnow(),
            )
        )

    async def refund_stale_reservations(self, *, kind: str, older_than: datetime) -> int:
        """Reservations without a take still open since before `older_than`: the process
        making them died, so nothing will ever settle them; refunded. How many."""
        result = await self.session.execute(
            update(UsageEntry)
            .where(
                UsageEntry.kind == kind,
                UsageEntry.take_id.is_(None),
                UsageEntry.state == ChargeState.RESERVED,
                UsageEntry.created_at < older_than,
            )
            .values(state=ChargeState.REFUNDED, updated_at=utcnow())
        )
        return rowcount(result)

    async def quota_overrides(self, *subject_ids: int) -> dict[tuple[int, str], float | None]:
        """Operators' /limit settings for these subjects (units None: no limit)."""
        if not all(subject in self._overrides for subject in subject_ids):
            await self.read_quota_overrides(*subject_ids)
        return {
            (subject, period): units
            for subject in subject_ids
            for period, units in self._overrides[subject].items()
        }

    async def read_quota_overrides(self, *subject_ids: int) -> None:
        """Read the overrides of many subjects in one statement (the drafts of a burst's
        photos each ask for theirs); they hold for the rest of the unit of work."""
        connection = await self.session.connection()  # every draft asks: built once
        rows = await connection.execute(_QUOTA_OVERRIDES, {"subjects": list(subject_ids)})
        for subject in subject_ids:
            self._overrides[subject] = {}
        for subject, period, units in rows.all():
            self._overrides[subject][period] = units

    async def set_quota(self, subject_id: int, period: str, units: float | None) -> None:
        self._overrides.pop(subject_id, None)
        row = await self.session.get(QuotaOverride, (subject_id, period))
        if row is None:
            self.session.add(QuotaOverride(subject_id=subject_id, period=period, units=units))
        else:
            row.units, row.changed_at = units, utcnow()
        await self.session.flush()

    async def totals(self, *, since: datetime, subject_id: int | None = None) -> UsageTotals:
        """Spending by state since `since`, for one user or group (or everyone).

        For one subject it is the free quota's view: what bought credits paid is left out
        (`credit_balance` tells that part); for everyone it is all that was spent.
        """
        takes = func.sum(case((UsageEntry.kind == "take", 1), else_=0))  # stills aren't takes
        units: ColumnElement[float] = (
            UsageEntry.units.expression
            if subject_id is None
            else UsageEntry.units - UsageEntry.credit_units
        )
        query = select(UsageEntry.state, func.sum(units), takes)
        query = query.where(UsageEntry.created_at >= since)
        if subject_id is not None and subject_id < 0:
            query = query.where(UsageEntry.chat_id == subject_id)
        elif subject_id is not None:
            query = query.where(UsageEntry.user_hash == await self.user_hash(subject_id))
        rows = (await self.session.execute(query.group_by(UsageEntry.state))).all()
        by_state = {state: (float(units or 0.0), int(count or 0)) for state, units, count in rows}
        return UsageTotals(
            reserved=by_state.get(ChargeState.RESERVED, (0.0, 0))[0],
            charged=by_state.get(ChargeState.CHARGED, (0.0, 0))[0],
            refunded=by_state.get(ChargeState.REFUNDED, (0.0, 0))[0],
            granted=-by_state.get(ChargeState.GRANTED, (0.0, 0))[0],
            takes=sum(c for s, (_u, c) in by_state.items() if s != ChargeState.GRANTED),
        )

    async def credit_balance(self, user_id: int) -> float:
        """Credits a user bought (less what refunds took back) minus what they have spent
        or hold for work under way, in one round trip. Spending is found by hashed id, so
        /forget does not give spent credits back."""
        bought = select(
            func.coalesce(func.sum(StarPurchase.credits - StarPurchase.credits_taken_back), 0.0)
        ).where(StarPurchase.user_id == user_id)
        spent = select(func.coalesce(func.sum(UsageEntry.credit_units), 0.0)).where(
            UsageEntry.user_hash == await self.user_hash(user_id),
            UsageEntry.state.in_((ChargeState.RESERVED, ChargeState.CHARGED)),
        )
        both = select(bought.scalar_subquery(), spent.scalar_subquery())
        row = (await self.session.execute(both)).one()
        return float(row[0] or 0.0) - float(row[1] or 0.0)

    async def top_spenders(self, *, since: datetime, limit: int = 5) -> list[tuple[int, float]]:
        result = await self.session.execute(
            select(UsageEntry.user_id, func.sum(UsageEntry.units))
            .where(
                UsageEntry.created_at >= since,
                UsageEntry.state.in_((ChargeState.RESERVED, ChargeState.CHARGED)),
                UsageEntry.user_id.is_not(None),
            )
            .group_by(UsageEntry.user_id)
            .order_by(func.sum(UsageEntry.units).desc())
            .limit(limit)
        )
        return [(int(user), float(units)) for user, units in result.all() if user is not None]

    async def forget_user(self, user_id: int) -> OwnedFiles:
        """Delete every row the user owns; return the files those rows pointed at.

        Owned: the private chat and its projects, the user's shots and takes in groups,
        their votes and the user row itself (other rows that merely mention the user, such
        as a revision of someone else's shot, lose the reference). The spending records
        stay, with only the hashed id, so forgetting never gives a quota back.
        """
        own_projects = select(Project.id).where(Project.chat_id == user_id)
        shots = (
            await self.session.execute(
                select(Shot.id, Shot.photo_path, Shot.still_path, Shot.files_id).where(
                    or_(Shot.project_id.in_(own_projects), Shot.created_by == user_id)
                )
            )
        ).all()
        shot_ids = [row[0] for row in shots]
        takes = (
            await self.session.execute(
                select(
                    Take.id,
                    Take.clip_path,
                    Take.external_id,
                    Take.status,
                    Take.provider,
                    Take.upstream_task_id,
                ).where(or_(Take.shot_id.in_(shot_ids), Take.requested_by == user_id))
            )
        ).all()
        take_ids = [row[0] for row in takes]
        paths = [p for _i, photo, still, _f in shots for p in (photo, still) if p]
        paths += [take.clip_path for take in takes if take.clip_path]
        paths += await self._end_frames(shot_ids)
        paths += await self._drop_end_frames_on_others_shots(user_id, shot_ids)
        project_ids = list((await self.session.execute(own_projects)).scalars())
        music = select(Project.soundtrack).where(
            Project.chat_id == user_id, Project.soundtrack.is_not(None)
        )
        music_names = list((await self.session.execute(music)).scalars())
        in_flight = [
            InFlight(take.id, take.provider, take.upstream_task_id)
            for take in takes
            if take.status not in TERMINAL_TAKE_STATES
        ]
        for take in in_flight:  # never delivered: what was reserved for it goes back
            await settle_usage(self.session, take.take_id, TakeState.CANCELLED)
        # A still being made right now is never shown (its shot is going): refunded too.
        await self.session.execute(
            update(UsageEntry)
            .where(
                UsageEntry.user_id == user_id,
                UsageEntry.kind == "still",
                UsageEntry.state == ChargeState.RESERVED,
            )
            .values(state=ChargeState.REFUNDED, updated_at=utcnow())
        )
        await self.session.execute(delete(TakeVote).where(TakeVote.user_id == user_id))
        await self.session.execute(
            update(UsageEntry).where(UsageEntry.user_id == user_id).values(user_id=None)
        )
        await self.session.execute(
            update(Shot).where(Shot.kept_take_id.in_(take_ids)).values(kept_take_id=None)
        )
        await self.session.execute(
            delete(BotMessage).where(
                or_(
                    BotMessage.chat_id == user_id,
                    BotMessage.take_id.in_(take_ids),
                    BotMessage.shot_id.in_(shot_ids),
                )
            )
        )
        await self.session.execute(delete(Take).where(Take.id.in_(take_ids)))
        await self.session.execute(
            update(Shot).where(Shot.id.in_(shot_ids)).values(current_revision_id=None)
        )
        await self.session.execute(delete(Shot).where(Shot.id.in_(shot_ids)))
        await self.session.execute(
            update(Chat).where(Chat.id == user_id).values(current_project_id=None)
        )
        await self.session.execute(delete(Project).where(Project.chat_id == user_id))
        await self.session.execute(delete(MediaGroup).where(MediaGroup.chat_id == user_id))
        await self.session.execute(delete(Chat).where(Chat.id == user_id))
        await self.session.execute(delete(User).where(User.id == user_id))
        return OwnedFiles(
            paths,
            project_ids,
            shot_folders=[files_id or str(shot_id) for shot_id, _p, _s, files_id in shots],
            clip_names=[take.external_id for take in takes],
            in_flight=in_flight,
            photo_paths=[photo for _i, photo, _s, _f in shots if photo],
            music_names=[name for name in music_names if name],
        )

    async def _end_frames(self, shot_ids: list[int]) -> list[str]:
        """End frames the shots' revisions point at (older ones may live outside the folder)."""
        params: ScalarResult[dict[str, Any]] = await self.session.scalars(
            select(PromptRevision.params).where(PromptRevision.shot_id.in_(shot_ids))
        )
        return [p["image_tail_path"] for p in params if p and p.get("image_tail_path")]

    async def _drop_end_frames_on_others_shots(
        self, user_id: int, own_shot_ids: list[int]
    ) -> list[str]:
        """End frames the user sent to other people's shots are their photos: the files go,
        and every revision pointing at one (later ones inherit it) goes back to no end frame.
        """
        theirs = await self.session.scalars(
            select(PromptRevision).where(
                PromptRevision.created_by == user_id, PromptRevision.shot_id.not_in(own_shot_ids)
            )
        )
        by_shot: dict[int, set[str]] = {}
        for revision in theirs:
            if tail := (revision.params or {}).get("image_tail_path"):
                by_shot.setdefault(revision.shot_id, set()).add(str(tail))
        if not by_shot:
            return []
        pointing = await self.session.scalars(
            select(PromptRevision).where(PromptRevision.shot_id.in_(list(by_shot)))
        )
        for revision in pointing:
            params = dict(revision.params or {})
            if params.get("image_tail_path") in by_shot[revision.shot_id]:
                del params["image_tail_path"]
                revision.params = params
        await self.session.flush()
        return sorted({path for paths in by_shot.values() for path in paths})


@functools.cache
def _access_snapshot(subjects: int) -> Select[Any]:
    """The gate's read for `subjects` subjects (a user, and a group), built once: building
    it and deriving its cache key cost more CPU than running it, on every update."""
    stored = select(BotSetting.value).where(BotSetting.key == bindparam("key")).scalar_subquery()
    allowed = select(AccessEntry.subject_id).where(AccessEntry.status == "allowed")
    statuses = [
        select(AccessEntry.status)
        .where(AccessEntry.subject_id == bindparam(f"subject_{n}"))
        .scalar_subquery()
        for n in range(subjects)
    ]
    return select(stored, allowed.exists(), *statuses)


_QUOTA_OVERRIDES = select(
    QuotaOverride.subject_id, QuotaOverride.period, QuotaOverride.units
).where(QuotaOverride.subject_id.in_(bindparam("subjects", expanding=True)))
