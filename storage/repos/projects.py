"""Projects: the films a chat is making, and which one its photos go to."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

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
    Shot,
    Take,
    utcnow,
)
from storage.repos.base import Repository


class ProjectsRepo(Repository):
    """A chat's projects and which of them is current (their shots: `ShotsRepo`)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._touched: set[int] = set()  # projects already touched in this unit of work

    async def create_project(self, chat_id: int, title: str, created_by: int | None) -> Project:
        """A new project, which becomes the chat's current one."""
        return (await self.create_projects([(chat_id, title, created_by)]))[0]

    async def create_projects(self, new: Sequence[tuple[int, str, int | None]]) -> list[Project]:
        """New projects (chat, title, made by), each its chat's current one: one INSERT and
        one UPDATE for them all."""
        projects = await self._insert_entities(
            Project,
            [{"chat_id": chat, "title": title, "created_by": by} for chat, title, by in new],
            key="chat_id",  # one new project per chat
        )
        for project in projects:
            self._made_here.add((Project, project.id))
            self._touched.add(project.id)  # its updated_at is the moment it was made
        await self._set_current_projects({p.chat_id: p.id for p in projects})
        return projects

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
        return (await self.current_projects([chat_id])).get(chat_id)

    async def set_film_sound(
        self, project_id: int, *, soundtrack: str | None, subtitles: bool
    ) -> None:
        """The film's music ("calm", a file name under data/music, or None) and words."""
        await self.session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(soundtrack=soundtrack, subtitles=subtitles)
        )

    async def set_narration(self, project_id: int, on: bool) -> None:
        """Whether each shot's line is spoken over the film."""
        await self.session.execute(
            update(Project).where(Project.id == project_id).values(narration=on)
        )

    async def current_projects(self, chat_ids: Collection[int]) -> dict[int, Project | None]:
        """`current_project` for chats whose photos arrive together, in one statement; a
        chat with no row yet is left out."""
        rows = await self.session.execute(_CURRENT_PROJECTS, {"chat_ids": list(chat_ids)})
        current: dict[int, Project | None] = {}
        for row in rows:
            self._keep(row.Chat)
            current[row.Chat.id] = self._keep(row.Project)
        return current

    async def set_current_project(self, chat_id: int, project_id: int) -> None:
        """The chat's current project; a chat this unit of work read already says so too."""
        await self._set_current_projects({chat_id: project_id})

    async def _set_current_projects(self, projects: Mapping[int, int]) -> None:
        await self._execute_each(
            _SET_CURRENT_PROJECT,
            [{"chat": chat, "project": project} for chat, project in projects.items()],
        )
        for chat_id, project_id in projects.items():
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
        await self.touch_projects([project_id])

    async def touch_projects(self, project_ids: Sequence[int]) -> None:
        """`touch_project` for many (in id order, for the row locks it takes on PostgreSQL)."""
        fresh = [p for p in project_ids if p not in self._touched]
        if not fresh:
            return
        self._touched.update(fresh)
        now = utcnow()
        await self._execute_each(_TOUCH_PROJECT, [{"project": p, "now": now} for p in fresh])

    async def all_projects(self) -> Sequence[Project]:
        result = await self.session.execute(select(Project).order_by(Project.id))
        return result.scalars().all()


# Every photo asks: built once, so its cache key is derived once too.
_SET_CURRENT_PROJECT = (
    update(Chat)
    .where(Chat.id == bindparam("chat"))
    .values(current_project_id=bindparam("project"))
)
_TOUCH_PROJECT = (
    update(Project).where(Project.id == bindparam("project")).values(updated_at=bindparam("now"))
)
_CURRENT_PROJECTS = (
    select(Chat, Project)
    .outerjoin(Project, Chat.current_project_id == Project.id)
    .where(Chat.id.in_(bindparam("chat_ids", expanding=True)))
)
