"""Repositories: the only code that writes SQL. One instance wraps one session (unit of work).

The pipeline and the handlers say what they want (`repo.add_take(...)`); these methods
say how, on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.domain.states import (
    ACTIVE_UPSTREAM_STATES,
    TAKE_TRANSITIONS,
    TERMINAL_TAKE_STATES,
    IllegalTransition,
    ShotState,
    TakeState,
)
from storage.models import (
    BotMessage,
    Chat,
    MediaGroup,
    ProcessedUpdate,
    Project,
    PromptRevision,
    Shot,
    Take,
    TakeEvent,
    TakeVote,
    User,
    utcnow,
)


def show_committed_status(copy: Take, row: Take) -> None:
    """Let a detached copy of a take show the status its row was just committed with.

    Set as a loaded value, not a change: the copy can never write a status of its own.
    """
    set_committed_value(copy, "status", row.status)


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    project: Project
    shots: int
    clips: int


class Repo:
    """Every read and write the application makes, over one AsyncSession."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._touched: set[int] = set()  # projects already touched in this unit of work

    # --- users and chats -------------------------------------------------------------------

    async def upsert_user(
        self,
        user_id: int,
        *,
        first_name: str = "",
        username: str | None = None,
        language_code: str | None = None,
    ) -> User:
        await self._insert_if_missing(
            User,
            id=user_id,
            first_name=first_name,
            username=username,
            language_code=language_code,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        user = await self.session.get(User, user_id, populate_existing=True)
        assert user is not None
        if (user.first_name, user.username) != (first_name, username):
            user.first_name, user.username = first_name, username
        if language_code and user.language_code != language_code:
            user.language_code = language_code
        return user

    async def upsert_chat(self, chat_id: int, *, type: str, title: str | None = None) -> Chat:
        await self._insert_if_missing(
            Chat, id=chat_id, type=type, title=title, settings={}, created_at=utcnow()
        )
        chat = await self.session.get(Chat, chat_id, populate_existing=True)
        assert chat is not None
        if title is not None and chat.title != title:
            chat.title = title
        return chat

    async def _lock_row(self, model: Any, key: Any) -> None:
        """Serialise "max + 1" numbering on PostgreSQL (SQLite uses BEGIN IMMEDIATE)."""
        if self.session.bind and self.session.bind.dialect.name == "postgresql":
            await self.session.execute(select(model.id).where(model.id == key).with_for_update())

    async def _insert_if_missing(self, model: type, **values: Any) -> bool:
        """INSERT … ON CONFLICT DO NOTHING; True if the row was new.

        Two instances (or two updates) may make first contact at once: both succeed, and
        no unique-key error (or savepoint to survive one) is needed.
        """
        result = await self.session.execute(
            self._insert(model).values(**values).on_conflict_do_nothing()
        )
        # DML gives a CursorResult; AsyncSession.execute is typed as returning Result.
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _insert(self, model: type) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)

    async def get_user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_chat(self, chat_id: int) -> Chat | None:
        return await self.session.get(Chat, chat_id)

    async def set_chat_setting(self, chat_id: int, key: str, value: Any) -> None:
        chat = await self.session.get(Chat, chat_id)
        if chat is None:
            raise LookupError(chat_id)
        chat.settings = {**(chat.settings or {}), key: value}

    # --- projects --------------------------------------------------------------------------

    async def create_project(self, chat_id: int, title: str, created_by: int | None) -> Project:
        project = Project(chat_id=chat_id, title=title, created_by=created_by)
        self.session.add(project)
        await self.session.flush()
        await self.session.execute(
            update(Chat).where(Chat.id == chat_id).values(current_project_id=project.id)
        )
        return project

    async def get_project(self, project_id: int) -> Project | None:
        return await self.session.get(Project, project_id)

    async def find_project(self, chat_id: int, title: str) -> Project | None:
        result = await self.session.execute(
            select(Project)
            .where(Project.chat_id == chat_id, Project.title == title)
            .order_by(Project.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def current_project(self, chat_id: int) -> Project | None:
        chat = await self.session.get(Chat, chat_id)
        if chat is None or chat.current_project_id is None:
            return None
        return await self.session.get(Project, chat.current_project_id)

    async def set_current_project(self, chat_id: int, project_id: int) -> None:
        await self.session.execute(
            update(Chat).where(Chat.id == chat_id).values(current_project_id=project_id)
        )

    async def list_projects(self, chat_id: int, limit: int = 20) -> list[ProjectSummary]:
        shots = (
            select(func.count(Shot.id))
            .where(Shot.project_id == Project.id, Shot.status != ShotState.CANCELLED)
            .scalar_subquery()
        )
        clips = (
            select(func.count(Take.id))
            .join(Shot, Take.shot_id == Shot.id)
            .where(Shot.project_id == Project.id, Take.status == TakeState.DELIVERED)
            .scalar_subquery()
        )
        result = await self.session.execute(
            select(Project, shots, clips)
            .where(Project.chat_id == chat_id)
            .order_by(Project.updated_at.desc(), Project.id.desc())
            .limit(limit)
        )
        rows: Sequence[tuple[Project, int, int]] = result.all()  # a Row is its typed tuple
        return [ProjectSummary(p, s, c) for p, s, c in rows]

    async def touch_project(self, project_id: int) -> None:
        """The project was just worked on (/projects lists the latest first); once is enough."""
        if project_id in self._touched:
            return
        self._touched.add(project_id)
        await self.session.execute(
            update(Project).where(Project.id == project_id).values(updated_at=utcnow())
        )

    # --- shots -----------------------------------------------------------------------------

    async def add_shot(self, project_id: int, **fields: Any) -> Shot:
        await self._lock_row(Project, project_id)  # concurrent album photos: unique positions
        position = await self.session.scalar(
            select(func.coalesce(func.max(Shot.position), 0)).where(Shot.project_id == project_id)
        )
        shot = Shot(project_id=project_id, position=(position or 0) + 1, **fields)
        self.session.add(shot)
        await self.session.flush()
        await self.touch_project(project_id)
        return shot

    async def get_shot(self, shot_id: int) -> Shot | None:
        return await self.session.get(Shot, shot_id)

    async def project_shots(
        self, project_id: int, *, include_cancelled: bool = False
    ) -> list[Shot]:
        query = select(Shot).where(Shot.project_id == project_id)
        if not include_cancelled:
            query = query.where(Shot.status != ShotState.CANCELLED)
        result = await self.session.execute(query.order_by(Shot.position, Shot.id))
        return list(result.scalars())

    async def shot_for_message(self, chat_id: int, message_id: int) -> Shot | None:
        """The shot a user's photo message started, if it started one."""
        result = await self.session.execute(
            select(Shot)
            .where(Shot.chat_id == chat_id, Shot.message_id == message_id)
            .order_by(Shot.id)
            .limit(1)
        )
        return result.scalars().first()

    async def shots_in_media_group(self, chat_id: int, media_group_id: str) -> list[Shot]:
        result = await self.session.execute(
            select(Shot)
            .where(Shot.chat_id == chat_id, Shot.media_group_id == media_group_id)
            .order_by(Shot.message_id, Shot.id)
        )
        return list(result.scalars())

    # --- prompt revisions ------------------------------------------------------------------

    async def add_revision(self, shot: Shot, **fields: Any) -> PromptRevision:
        await self._lock_row(Shot, shot.id)
        number = await self.session.scalar(
            select(func.coalesce(func.max(PromptRevision.number), 0)).where(
                PromptRevision.shot_id == shot.id
            )
        )
        revision = PromptRevision(shot_id=shot.id, number=(number or 0) + 1, **fields)
        self.session.add(revision)
        await self.session.flush()
        shot.current_revision_id = revision.id
        return revision

    async def revise_params(
        self, shot: Shot, revision: PromptRevision, params: dict[str, Any], created_by: int
    ) -> PromptRevision:
        """A new revision with the same words and other parameters, so ↩️ Undo still works."""
        return await self.add_revision(
            shot,
            parent_id=revision.id,
            prompt=revision.prompt,
            negative_prompt=revision.negative_prompt,
            summary=revision.summary,
            language=revision.language,
            params=params,
            instruction=None,
            drafter=revision.drafter,
            created_by=created_by,
        )

    async def get_revision(self, revision_id: int) -> PromptRevision | None:
        return await self.session.get(PromptRevision, revision_id)

    async def revision_chain(self, revision: PromptRevision) -> list[PromptRevision]:
        """The revision and its ancestors, oldest first."""
        chain = [revision]
        while chain[-1].parent_id is not None:
            parent = await self.session.get(PromptRevision, chain[-1].parent_id)
            if parent is None:
                break
            chain.append(parent)
        return list(reversed(chain))

    # --- takes -----------------------------------------------------------------------------

    async def add_take(self, **fields: Any) -> Take:
        take = Take(**fields)
        self.session.add(take)
        await self.session.flush()
        self.session.add(TakeEvent(take_id=take.id, status=take.status, detail="created"))
        return take

    async def lock_revision(self, revision_id: int) -> None:
        """Serialise Generate on one draft (PostgreSQL row lock; SQLite: BEGIN IMMEDIATE)."""
        await self._lock_row(PromptRevision, revision_id)

    async def take_by_request_key(self, key: str) -> Take | None:
        return await self.session.scalar(select(Take).where(Take.request_key == key))

    async def active_take_for_revision(self, revision_id: int) -> Take | None:
        return await self.session.scalar(
            select(Take)
            .where(Take.revision_id == revision_id, Take.status.not_in(TERMINAL_TAKE_STATES))
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
            from storage.accounts import settle_usage

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
        free = or_(
            Take.lease_owner.is_(None),
            Take.lease_expires_at.is_(None),
            Take.lease_expires_at < now,
            Take.lease_owner == owner,
        )
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
            .where(Take.status.not_in(TERMINAL_TAKE_STATES), Take.next_attempt_at <= now, free)
            .subquery()
        )
        busy = self._takes_at_work(owner, now)
        waiting = due.c.turn + func.coalesce(busy.c.at_work, 0)
        # Takes of no known user (the CLI, or a forgotten user's) are not held back.
        eligible = (
            or_(due.c.queued.is_(False), due.c.requested_by.is_(None), waiting <= per_user)
            if per_user
            else true()
        )
        candidates = (
            select(due.c.id)
            .select_from(due.outerjoin(busy, busy.c.requested_by == due.c.requested_by))
            .where(eligible)
            .order_by(due.c.queued, due.c.turn, due.c.chat_turn, due.c.next_attempt_at, due.c.id)
            .limit(limit)
        )
        ids: list[int] = list((await self.session.execute(candidates)).scalars())
        if not ids:
            return []
        lockable = select(Take.id).where(Take.id.in_(ids), free)
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

    def _takes_at_work(self, owner: str | None = None, now: datetime | None = None) -> Any:
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
        # DML gives a CursorResult; AsyncSession.execute is typed as returning Result.
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def release_lease(self, take_id: int, owner: str) -> None:
        await self.session.execute(
            update(Take)
            .where(Take.id == take_id, Take.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )

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
        busy = self._takes_at_work()
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

    # --- bot messages: what each message we sent stands for -------------------------------

    async def remember_message(
        self, chat_id: int, message_id: int, kind: str, **refs: Any
    ) -> None:
        # One statement: a message id is remembered again when a draft is edited in place.
        insert = self._insert(BotMessage).values(
            chat_id=chat_id, message_id=message_id, kind=kind, created_at=utcnow(), **refs
        )
        changed = {name: insert.excluded[name] for name in ("kind", *refs)}
        await self.session.execute(
            insert.on_conflict_do_update(index_elements=["chat_id", "message_id"], set_=changed)
        )

    async def message_ref(self, chat_id: int, message_id: int) -> BotMessage | None:
        return await self.session.get(BotMessage, (chat_id, message_id))

    # --- duplicate updates and albums -------------------------------------------------------

    async def mark_update_processed(self, update_id: int) -> bool:
        """True the first time an update id is seen, False for a redelivery."""
        return await self._insert_if_missing(
            ProcessedUpdate, update_id=update_id, received_at=utcnow()
        )

    async def forget_processed_updates(self, older_than: datetime) -> None:
        await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.received_at < older_than)
        )

    async def prune_processed_updates(self, *, older_than: datetime, limit: int) -> int:
        """Delete at most `limit` update ids received before `older_than`; how many went.

        Bounded, so a runner's housekeeping never holds the write lock for long.
        """
        oldest = (
            select(ProcessedUpdate.update_id)
            .where(ProcessedUpdate.received_at < older_than)
            .order_by(ProcessedUpdate.received_at)
            .limit(limit)
        )
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.update_id.in_(oldest.scalar_subquery()))
        )
        # DML gives a CursorResult; AsyncSession.execute is typed as returning Result.
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def touch_media_group(self, chat_id: int, media_group_id: str) -> None:
        """Note that a photo of this album just arrived (several instances may race here)."""
        await self._insert_if_missing(
            MediaGroup, chat_id=chat_id, media_group_id=media_group_id, last_photo_at=utcnow()
        )
        await self.session.execute(
            update(MediaGroup)
            .where(MediaGroup.chat_id == chat_id, MediaGroup.media_group_id == media_group_id)
            .values(last_photo_at=utcnow())
        )

    async def order_album(self, chat_id: int, media_group_id: str) -> list[Shot]:
        """An album's shots, their positions rearranged to follow the order it was sent in.

        Album photos arrive as concurrent updates and take positions as they finish intake;
        the user expects the order they chose on the phone.
        """
        shots = await self.shots_in_media_group(chat_id, media_group_id)
        positions = sorted(shot.position for shot in shots)
        for shot in shots:
            shot.position = -shot.position  # step aside, in case positions become unique
        await self.session.flush()
        for shot, position in zip(shots, positions, strict=True):
            shot.position = position
        await self.session.flush()
        return shots

    async def claim_media_group_answer(
        self, chat_id: int, media_group_id: str, quiet_since: datetime
    ) -> bool:
        """Mark the album answered if it has been quiet since `quiet_since`; one caller wins."""
        result = await self.session.execute(
            update(MediaGroup)
            .where(
                MediaGroup.chat_id == chat_id,
                MediaGroup.media_group_id == media_group_id,
                MediaGroup.answered_at.is_(None),
                MediaGroup.last_photo_at <= quiet_since,
            )
            .values(answered_at=utcnow())
        )
        # DML gives a CursorResult; AsyncSession.execute is typed as returning Result.
        return result.rowcount == 1  # type: ignore[attr-defined]

    # --- history ----------------------------------------------------------------------------

    async def all_projects(self) -> Sequence[Project]:
        result = await self.session.execute(select(Project).order_by(Project.id))
        return result.scalars().all()

    # --- storyboard and film --------------------------------------------------------------

    async def reorder_shots(self, project_id: int, shot_ids: Sequence[int]) -> None:
        """Give the project's active shots positions 1..n in the order of `shot_ids`."""
        await self._lock_row(Project, project_id)
        shots = {shot.id: shot for shot in await self.project_shots(project_id)}
        for shot in shots.values():
            shot.position = -shot.position  # step aside, in case positions become unique
        await self.session.flush()
        for position, shot_id in enumerate(shot_ids, 1):
            shots[shot_id].position = position
        await self.session.flush()
        await self.touch_project(project_id)

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
