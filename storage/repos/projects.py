"""Projects, their shots and each shot's prompt revisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from bot.domain.states import (
    ShotState,
    TakeState,
)
from bot.domain.types import ProjectSummary
from storage.models import (
    Chat,
    Project,
    PromptRevision,
    Shot,
    Take,
    utcnow,
)
from storage.repos.base import Repository


class ProjectsRepo(Repository):
    """A project's shots in order, and the prompt revisions of each shot."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._touched: set[int] = set()  # projects already touched in this unit of work
        # Rows inserted in this unit of work: nothing else can see them before the commit,
        # so numbering them needs neither a lock nor a look at their siblings.
        self._new: set[tuple[type, int]] = set()

    async def create_project(self, chat_id: int, title: str, created_by: int | None) -> Project:
        """A new project, which becomes the chat's current one."""
        project = await self._insert_entity(
            Project, chat_id=chat_id, title=title, created_by=created_by
        )
        self._new.add((Project, project.id))
        self._touched.add(project.id)  # its updated_at is the moment it was made
        await self.set_current_project(chat_id, project.id)
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
        """The chat's current project, read with the chat in one statement (every photo
        asks); the chat stays in the unit of work, where a use case reads it next."""
        row = (await self.session.execute(_CURRENT_PROJECT, {"chat_id": chat_id})).first()
        if row is None:
            return None
        self._keep(row.Chat)
        return self._keep(row.Project)

    async def set_film_sound(
        self, project_id: int, *, soundtrack: str | None, subtitles: bool
    ) -> None:
        """The film's music ("calm", a file name under data/music, or None) and words."""
        await self.session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(soundtrack=soundtrack, subtitles=subtitles)
        )

    async def set_current_project(self, chat_id: int, project_id: int) -> None:
        """The chat's current project; a chat this unit of work read already says so too."""
        connection = await self.session.connection()
        await connection.execute(_SET_CURRENT_PROJECT, {"chat": chat_id, "project": project_id})
        chat = self.session.identity_map.get(identity_key(Chat, chat_id))
        if isinstance(chat, Chat):
            set_committed_value(chat, "current_project_id", project_id)

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

    async def add_shot(self, project_id: int, **fields: Any) -> Shot:
        """The project's next shot, in the next place."""
        if (Project, project_id) in self._new:  # made in this unit of work: no shots yet
            shot = await self._insert_entity(Shot, project_id=project_id, position=1, **fields)
        else:
            # Touched first: on PostgreSQL the UPDATE holds the project's row until the
            # commit, so concurrent album photos take their places one after the other.
            await self.touch_project(project_id)
            shot = await self._insert_entity(
                Shot, numbered=("position", "project_id"), project_id=project_id, **fields
            )
        self._new.add((Shot, shot.id))
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

    async def add_revision(self, shot: Shot, **fields: Any) -> PromptRevision:
        if (Shot, shot.id) in self._new:  # made in this unit of work: no revisions yet
            revision = await self._insert_entity(
                PromptRevision, shot_id=shot.id, number=1, **fields
            )
        else:
            await self._lock_row(Shot, shot.id)  # two refinements at once: distinct numbers
            revision = await self._insert_entity(
                PromptRevision, numbered=("number", "shot_id"), shot_id=shot.id, **fields
            )
        # The shot points at its new revision. Set as loaded, so that no flush repeats it;
        # any other change to the shot is still flushed as usual.
        now = utcnow()
        connection = await self.session.connection()
        await connection.execute(
            _SET_CURRENT_REVISION, {"shot": shot.id, "revision": revision.id, "now": now}
        )
        set_committed_value(shot, "current_revision_id", revision.id)
        set_committed_value(shot, "updated_at", now)
        return revision

    async def revise_params(
        self,
        shot: Shot,
        revision: PromptRevision,
        params: dict[str, Any],
        created_by: int,
        *,
        words: tuple[str, str, str] | None = None,
    ) -> PromptRevision:
        """A new revision with other parameters, so ↩️ Undo still works.

        The words (prompt, negative prompt, summary) stay the same unless `words` rewrites
        them to say what the new parameters do.
        """
        prompt, negative_prompt, summary = words or (
            revision.prompt,
            revision.negative_prompt,
            revision.summary,
        )
        return await self.add_revision(
            shot,
            parent_id=revision.id,
            prompt=prompt,
            negative_prompt=negative_prompt,
            summary=summary,
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

    async def lock_revision(self, revision_id: int) -> None:
        """Serialise Generate on one draft (PostgreSQL row lock; SQLite: BEGIN IMMEDIATE)."""
        await self._lock_row(PromptRevision, revision_id)

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

    async def all_projects(self) -> Sequence[Project]:
        result = await self.session.execute(select(Project).order_by(Project.id))
        return result.scalars().all()

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

    async def lock_shot(self, shot_id: int) -> Shot | None:
        """The shot, locked on PostgreSQL so concurrent votes settle its kept take in turn."""
        if self._postgres:
            return await self.session.scalar(
                select(Shot).where(Shot.id == shot_id).with_for_update()
            )
        return await self.session.get(Shot, shot_id, populate_existing=True)

    async def shot_revisions(self, shot_id: int) -> list[PromptRevision]:
        result = await self.session.execute(
            select(PromptRevision)
            .where(PromptRevision.shot_id == shot_id)
            .order_by(PromptRevision.number)
        )
        return list(result.scalars())


# Every photo asks: built once, so its cache key is derived once too.
_SET_CURRENT_PROJECT = (
    update(Chat)
    .where(Chat.id == bindparam("chat"))
    .values(current_project_id=bindparam("project"))
)
_SET_CURRENT_REVISION = (
    update(Shot)
    .where(Shot.id == bindparam("shot"))
    .values(current_revision_id=bindparam("revision"), updated_at=bindparam("now"))
)
_CURRENT_PROJECT = (
    select(Chat, Project)
    .outerjoin(Project, Chat.current_project_id == Project.id)
    .where(Chat.id == bindparam("chat_id"))
)
