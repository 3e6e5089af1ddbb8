"""Shots (a photo's place in a project) and each shot's prompt revisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.domain.states import ShotState
from storage.models import Project, PromptRevision, Shot, utcnow
from storage.repos.base import Repository
from storage.repos.projects import ProjectsRepo


class ShotsRepo(Repository):
    """A project's shots in order, and the prompt revisions of each shot."""

    def __init__(self, session: AsyncSession, projects: ProjectsRepo) -> None:
        super().__init__(session)
        # A new shot or a reordering is work on its project (/projects lists the latest
        # first), and the UPDATE that says so is what serialises places on PostgreSQL.
        self.projects = projects

    async def add_shot(self, project_id: int, **fields: Any) -> Shot:
        """The project's next shot, in the next place."""
        return (await self.add_shots([{"project_id": project_id, **fields}]))[0]

    async def add_shots(self, shots: Sequence[Mapping[str, Any]]) -> list[Shot]:
        """Shots arriving together (each with its `project_id`), in one INSERT: each takes
        the next place in its project, in the order given."""
        # Touched first: on PostgreSQL the UPDATE holds the project's row until the commit,
        # so photos written at once by two instances take their places one after the other.
        # In id order, so that two such writers cannot each hold what the other waits for.
        projects = {shot["project_id"] for shot in shots}
        older = {p for p in projects if (Project, p) not in self._made_here}
        await self.projects.touch_projects(sorted(older))
        made = await self._insert_entities(
            Shot, shots, numbered=("position", "project_id"), key="files_id"
        )
        self._made_here.update((Shot, shot.id) for shot in made)
        return made

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
        if (Shot, shot.id) in self._made_here:  # made in this unit of work: no revisions yet
            return (await self.add_first_revisions([(shot, fields)]))[0]
        await self._lock_row(Shot, shot.id)  # two refinements at once: distinct numbers
        revision = await self._insert_entity(
            PromptRevision, numbered=("number", "shot_id"), shot_id=shot.id, **fields
        )
        await self._make_current([(shot, revision)])
        return revision

    async def add_first_revisions(
        self, revisions: Sequence[tuple[Shot, Mapping[str, Any]]]
    ) -> list[PromptRevision]:
        """The first revisions of shots made in this unit of work, in one INSERT; each
        becomes its shot's current one."""
        made = await self._insert_entities(
            PromptRevision,
            [{**fields, "shot_id": shot.id, "number": 1} for shot, fields in revisions],
            key="shot_id",
        )
        await self._make_current([(shot, r) for (shot, _), r in zip(revisions, made, strict=True)])
        return made

    async def _make_current(self, revisions: Sequence[tuple[Shot, PromptRevision]]) -> None:
        """Each shot points at its new revision. Set as loaded, so that no flush repeats it;
        any other change to a shot is still flushed as usual."""
        now = utcnow()
        await self._execute_each(
            _SET_CURRENT_REVISION,
            [{"shot": s.id, "revision": r.id, "now": now} for s, r in revisions],
        )
        for shot, revision in revisions:
            set_committed_value(shot, "current_revision_id", revision.id)
            set_committed_value(shot, "updated_at", now)

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
        await self.projects.touch_project(project_id)

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


# Every draft asks: built once, so its cache key is derived once too.
_SET_CURRENT_REVISION = (
    update(Shot)
    .where(Shot.id == bindparam("shot"))
    .values(current_revision_id=bindparam("revision"), updated_at=bindparam("now"))
)
