"""Films Telegram already holds: one row per project and set of inputs, with its file_id."""

from __future__ import annotations

from sqlalchemy import delete, select

from storage.models import FilmCopy, Project, Shot, Take, utcnow
from storage.repos.base import Repository

KEPT_PER_PROJECT = 5  # a few recent cuts: reordering back to one re-sends it too


class FilmsRepo(Repository):
    """The film cache: what to re-send instead of assembling the same film again."""

    async def cached(self, project_id: int, inputs_key: str) -> FilmCopy | None:
        """The film sent before with exactly these inputs, if Telegram has it."""
        return await self.session.scalar(
            select(FilmCopy).where(
                FilmCopy.project_id == project_id, FilmCopy.inputs_key == inputs_key
            )
        )

    async def remember(
        self,
        project_id: int,
        inputs_key: str,
        file_id: str,
        *,
        duration_s: float,
        width: int,
        height: int,
        clips: int,
    ) -> None:
        """Keep a sent film's file_id under its inputs' key (the newest few per project)."""
        row = await self.cached(project_id, inputs_key)
        if row is None:
            row = FilmCopy(project_id=project_id, inputs_key=inputs_key, file_id=file_id)
            self.session.add(row)
        row.file_id, row.created_at = file_id, utcnow()
        row.duration_s, row.width, row.height, row.clips = duration_s, width, height, clips
        await self.session.flush()
        newest = select(FilmCopy.id).where(FilmCopy.project_id == project_id)
        keep = newest.order_by(FilmCopy.id.desc()).limit(KEPT_PER_PROJECT)
        kept = list((await self.session.scalars(keep)).all())
        await self.session.execute(
            delete(FilmCopy).where(FilmCopy.project_id == project_id, FilmCopy.id.not_in(kept))
        )

    async def forget_project(self, project_id: int) -> None:
        """A stale file_id: Telegram no longer has it, or the project changed for good."""
        await self.session.execute(delete(FilmCopy).where(FilmCopy.project_id == project_id))

    async def forget_films_of(self, user_id: int) -> None:
        """Films holding anything of a user who asked to be forgotten: their own projects',
        and a group's whose film shows a shot or take of theirs."""
        shots = select(Shot.project_id).where(Shot.created_by == user_id)
        takes = (
            select(Shot.project_id)
            .join(Take, Take.shot_id == Shot.id)
            .where(Take.requested_by == user_id)
        )
        own = select(Project.id).where(Project.chat_id == user_id)
        await self.session.execute(
            delete(FilmCopy).where(
                FilmCopy.project_id.in_(shots)
                | FilmCopy.project_id.in_(takes)
                | FilmCopy.project_id.in_(own)
            )
        )
