"""Sharing: share links' tokens, and the clips a user may share from the inline menu."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union_all

from bot.domain.states import TakeState
from storage.models import Chat, FilmCopy, Project, ProjectLink, Shot, Take, TakeVote
from storage.repos.base import Repository


@dataclass(frozen=True, slots=True)
class ShareableTake:
    """A delivered take someone may share, with its shot and its project's title."""

    take: Take
    shot: Shot
    project_title: str


@dataclass(frozen=True, slots=True)
class ShareableFilm:
    """A film Telegram holds (the newest cut of a project), with its project's title."""

    film: FilmCopy
    project_title: str


class LinksRepo(Repository):
    """Project share links (looked up only by their random token), and shareable clips."""

    async def add_link(self, project_id: int, token: str, expires_at: datetime) -> ProjectLink:
        link = ProjectLink(token=token, project_id=project_id, expires_at=expires_at)
        self.session.add(link)
        await self.session.flush()
        return link

    async def link_by_token(self, token: str) -> ProjectLink | None:
        result = await self.session.execute(select(ProjectLink).where(ProjectLink.token == token))
        return result.scalar_one_or_none()

    async def live_link(self, project_id: int, valid_after: datetime) -> ProjectLink | None:
        """The project's newest link still valid at `valid_after`, to hand out again."""
        result = await self.session.execute(
            select(ProjectLink)
            .where(ProjectLink.project_id == project_id, ProjectLink.expires_at > valid_after)
            .order_by(ProjectLink.expires_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def groups_of(self, user_id: int, limit: int) -> list[int]:
        """Groups where the user made a shot, asked for a take or voted, latest first: the
        groups whose clips they may share, once Telegram confirms they are still in them."""
        made = (
            select(Project.chat_id.label("chat_id"), Shot.created_at.label("at"))
            .join(Shot, Shot.project_id == Project.id)
            .where(Shot.created_by == user_id)
        )
        asked = (
            select(Project.chat_id.label("chat_id"), Take.created_at.label("at"))
            .join(Shot, Shot.project_id == Project.id)
            .join(Take, Take.shot_id == Shot.id)
            .where(Take.requested_by == user_id)
        )
        voted = (
            select(Project.chat_id.label("chat_id"), TakeVote.voted_at.label("at"))
            .join(Shot, Shot.project_id == Project.id)
            .join(TakeVote, TakeVote.shot_id == Shot.id)
            .where(TakeVote.user_id == user_id)
        )
        seen = union_all(made, asked, voted).subquery()
        result = await self.session.execute(
            select(seen.c.chat_id)
            .join(Chat, Chat.id == seen.c.chat_id)
            .where(Chat.type != "private")
            .group_by(seen.c.chat_id)
            .order_by(func.max(seen.c.at).desc())
            .limit(limit)
        )
        chat_ids: list[Any] = list(result.scalars())
        return [int(chat_id) for chat_id in chat_ids]

    async def shareable_takes(
        self, chat_ids: Sequence[int], title_contains: str, limit: int
    ) -> list[ShareableTake]:
        """Delivered takes with a Telegram file_id in these chats' projects, newest first,
        in projects whose title contains `title_contains` (any case)."""
        if not chat_ids:
            return []
        query = (
            select(Take, Shot, Project.title)
            .join(Shot, Shot.id == Take.shot_id)
            .join(Project, Project.id == Shot.project_id)
            .where(
                Project.chat_id.in_(chat_ids),
                Take.status == TakeState.DELIVERED,
                Take.telegram_file_id.is_not(None),
            )
            .order_by(Take.id.desc())
            .limit(limit)
        )
        if title_contains:
            words = title_contains.lower()
            query = query.where(func.lower(Project.title).contains(words, autoescape=True))
        rows = (await self.session.execute(query)).all()
        return [ShareableTake(take, shot, title) for take, shot, title in rows]

    async def shareable_films(
        self, chat_ids: Sequence[int], title_contains: str, limit: int
    ) -> list[ShareableFilm]:
        """The newest film Telegram holds of each of these chats' projects, newest first,
        in projects whose title contains `title_contains` (any case)."""
        if not chat_ids:
            return []
        newest = (
            select(func.max(FilmCopy.id))
            .join(Project, Project.id == FilmCopy.project_id)
            .where(Project.chat_id.in_(chat_ids))
            .group_by(FilmCopy.project_id)
        )
        query = (
            select(FilmCopy, Project.title)
            .join(Project, Project.id == FilmCopy.project_id)
            .where(FilmCopy.id.in_(newest))
            .order_by(FilmCopy.id.desc())
            .limit(limit)
        )
        if title_contains:
            words = title_contains.lower()
            query = query.where(func.lower(Project.title).contains(words, autoescape=True))
        rows = (await self.session.execute(query)).all()
        return [ShareableFilm(film, title) for film, title in rows]
