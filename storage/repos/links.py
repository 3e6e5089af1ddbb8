"""Share links: the token a deep link carries, and the project it opens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.models import ProjectLink
from storage.repos.base import Repository


class LinksRepo(Repository):
    """Project share links, looked up only by their random token."""

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
