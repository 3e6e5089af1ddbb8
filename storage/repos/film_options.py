"""A project's film options that ProjectsRepo has no room for: narration."""

from __future__ import annotations

from sqlalchemy import update

from storage.models import Project
from storage.repos.base import Repository


class FilmOptionsRepo(Repository):
    """How a project's film is made beyond its clips, music and words."""

    async def set_narration(self, project_id: int, on: bool) -> None:
        """Whether each shot's line is spoken over the film."""
        await self.session.execute(
            update(Project).where(Project.id == project_id).values(narration=on)
        )
