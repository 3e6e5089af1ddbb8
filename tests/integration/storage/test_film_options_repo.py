"""FilmOptionsRepo: a project's narration switch — on SQLite and PostgreSQL."""

from __future__ import annotations

from storage.db import Database
from tests.integration.storage.rows import project_with_shot


async def test_narration_is_off_by_default_and_switches_per_project(database: Database) -> None:
    project_id, _, _ = await project_with_shot(database)
    async with database.unit_of_work() as uow:
        other = await uow.projects.create_project(42, "Other", 42)
        project = await uow.projects.get_project(project_id)
        assert project is not None and project.narration is False and other.narration is False
        await uow.film_options.set_narration(project_id, True)
        other_id = other.id
    async with database.unit_of_work() as uow:
        project = await uow.projects.get_project(project_id)
        untouched = await uow.projects.get_project(other_id)
        assert project is not None and project.narration is True
        assert untouched is not None and untouched.narration is False
        await uow.film_options.set_narration(project_id, False)
    async with database.unit_of_work() as uow:
        project = await uow.projects.get_project(project_id)
        assert project is not None and project.narration is False
