"""ProjectsRepo and ShotsRepo: projects, shots and revisions — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage.db import Database
from storage.models import PromptRevision, Shot, Take, TakeEvent
from storage.uow import UnitOfWork
from tests.integration.storage.rows import add_take, photo_fields, project_with_shot


async def test_a_project_with_a_shot_revision_and_take_round_trips(database: Database) -> None:
    project_id, shot_id, revision_id = await project_with_shot(database)
    take_id = await add_take(
        database, shot_id, revision_id, params={"mode": "std"}, chat_id=42, cost_units=1.5
    )
    async with database.session() as session:
        uow = UnitOfWork(session)
        shot = await uow.shots.get_shot(shot_id)
        assert shot is not None and shot.position == 1
        assert shot.current_revision_id == revision_id
        chat = await uow.chats.get_chat(42)
        assert chat is not None and chat.current_project_id == project_id
        take = await uow.takes.get_take(take_id)
        assert take is not None
        assert take.status == "queued" and take.params == {"mode": "std"}
        assert take.created_at.tzinfo is not None  # UTC-aware on both backends
        assert take.cost_units == 1.5
        user = await uow.chats.get_user(42)
        assert user is not None and user.language_code == "zh-hans"


async def test_projects_list_counts_shots_and_clips(database: Database) -> None:
    project_id, shot_id, revision_id = await project_with_shot(database)
    await add_take(database, shot_id, revision_id, status="delivered")
    await add_take(database, shot_id, revision_id, status="failed")
    async with database.session() as session:
        uow = UnitOfWork(session)
        await uow.projects.create_project(42, "Second", 42)
        summaries = await uow.projects.list_projects(42)
    by_title = {s.project.title: s for s in summaries}
    assert by_title["Shanghai in clay"].shots == 1
    assert by_title["Shanghai in clay"].clips == 1
    assert by_title["Second"].shots == 0
    assert summaries[0].project.title == "Second"  # newest first


async def test_deleting_a_project_removes_its_rows(database: Database) -> None:
    project_id, shot_id, revision_id = await project_with_shot(database)
    await add_take(database, shot_id, revision_id)
    async with database.session() as session:
        project = await UnitOfWork(session).projects.get_project(project_id)
        await session.delete(project)
    async with database.session() as session:
        for model in (Shot, PromptRevision, Take, TakeEvent):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_revision_chain_is_oldest_first(database: Database) -> None:
    _, shot_id, first_id = await project_with_shot(database)
    async with database.session() as session:
        uow = UnitOfWork(session)
        shot = await uow.shots.get_shot(shot_id)
        assert shot is not None
        second = await uow.shots.add_revision(
            shot, parent_id=first_id, prompt="slower", drafter="offline", instruction="slower"
        )
        chain = await uow.shots.revision_chain(second)
    assert [r.number for r in chain] == [1, 2]
    assert chain[-1].instruction == "slower"


async def test_rows_made_in_a_unit_of_work_are_complete_entities_with_nothing_to_flush(
    database: Database,
) -> None:
    await project_with_shot(database)  # chat 42 and user 42
    async with database.session() as session:
        uow = UnitOfWork(session)
        chat = await uow.chats.get_chat(42)
        project = await uow.projects.create_project(42, "Kites", 42)
        shot = await uow.shots.add_shot(
            project.id, **photo_fields("kites rise", "photos/kites.jpg")
        )
        revision = await uow.shots.add_revision(shot, prompt="Kites rise", drafter="offline")
        assert chat is not None and chat.current_project_id == project.id
        assert shot.current_revision_id == revision.id and shot.position == 1
        assert shot.files_id and revision.number == 1  # Python defaults filled in
        assert await session.get(Shot, shot.id) is shot  # the session holds what it made
        assert not session.new and not session.dirty  # and has nothing left to write
        made = [
            {c.key: getattr(row, c.key) for c in type(row).__table__.columns}
            for row in (project, shot, revision)
        ]
    async with database.session() as session:
        stored = [await session.get(type(row), row.id) for row in (project, shot, revision)]
        assert [
            {c.key: getattr(row, c.key) for c in type(row).__table__.columns} for row in stored
        ] == made
        chat_row = await UnitOfWork(session).chats.get_chat(42)
        assert chat_row is not None and chat_row.current_project_id == project.id


async def test_photos_and_refinements_at_once_take_distinct_places_and_numbers(
    database: Database,
) -> None:
    """An album's photos (and quick refinements) arrive together: each shot takes the next
    place and each revision the next number inside its INSERT, so none may read the same."""
    project_id, shot_id, _ = await project_with_shot(database)

    async def add_photo(i: int) -> int:
        async with database.session() as session:
            shot = await UnitOfWork(session).shots.add_shot(
                project_id, **photo_fields(f"photo {i}", f"/tmp/{i}.jpg")
            )
            await asyncio.sleep(0.05)  # the transaction stays open while the others try
            return shot.position

    async def refine(i: int) -> int:
        async with database.session() as session:
            uow = UnitOfWork(session)
            shot = await uow.shots.get_shot(shot_id)
            assert shot is not None
            revision = await uow.shots.add_revision(shot, prompt=f"take {i}", drafter="x")
            await asyncio.sleep(0.05)
            return revision.number

    positions = await asyncio.gather(*(add_photo(i) for i in range(6)))
    numbers = await asyncio.gather(*(refine(i) for i in range(6)))
    assert sorted(positions) == [2, 3, 4, 5, 6, 7]
    assert sorted(numbers) == [2, 3, 4, 5, 6, 7]
    async with database.session() as session:
        uow = UnitOfWork(session)
        stored = [s.position for s in await uow.shots.project_shots(project_id)]
        shot = await uow.shots.get_shot(shot_id)
        assert shot is not None and shot.current_revision_id is not None
        current = await uow.shots.get_revision(shot.current_revision_id)
    assert stored == [1, 2, 3, 4, 5, 6, 7]
    assert current is not None and current.number == 7  # the newest, as the last commit said


async def test_shots_written_together_take_consecutive_places_beside_other_writers(
    database: Database,
) -> None:
    """Batches of shots (the photos of a burst) for one project, written by concurrent units
    of work (two instances): every shot gets its own place, each batch's in the order given,
    and each batch's first revisions become their shots' current ones."""
    project_id, _, _ = await project_with_shot(database)
    async with database.session() as session:
        other = await UnitOfWork(session).projects.create_project(42, "Suzhou Creek", 42)

    async def write_batch(batch: int) -> list[tuple[int, int, int]]:
        async with database.session() as session:
            uow = UnitOfWork(session)
            shots = await uow.shots.add_shots(
                [
                    {"project_id": project_id, **photo_fields(f"{batch}.{n}", f"/tmp/{n}.jpg")}
                    for n in range(3)
                ]
                + [{"project_id": other.id, **photo_fields(f"{batch}.x", "/tmp/x.jpg")}]
            )
            revisions = await uow.shots.add_first_revisions(
                [(shot, {"prompt": f"clay {shot.description}", "drafter": "x"}) for shot in shots]
            )
            await asyncio.sleep(0.05)  # the transaction stays open while the others try
            assert [r.shot_id for r in revisions] == [s.id for s in shots]
            assert all(
                s.current_revision_id == r.id for s, r in zip(shots, revisions, strict=True)
            )
            return [(s.project_id, s.position, s.id) for s in shots]

    batches = await asyncio.gather(*(write_batch(b) for b in range(4)))
    for batch in batches:
        places = [position for project, position, _ in batch if project == project_id]
        assert places == [places[0], places[0] + 1, places[0] + 2]  # in the order given
    firsts = sorted(position for batch in batches for _, position, _ in batch[:1])
    assert firsts == [2, 5, 8, 11]
    assert sorted(batch[3][1] for batch in batches) == [1, 2, 3, 4]
    async with database.session() as session:
        uow = UnitOfWork(session)
        stored = await uow.shots.project_shots(project_id)
        assert [s.position for s in stored] == list(range(1, 14))
        by_id = {s.id: s for s in stored}
        for batch in batches:
            for project, position, shot_id in batch:
                if project == project_id:
                    assert by_id[shot_id].position == position
                    revision = await uow.shots.get_revision(by_id[shot_id].current_revision_id)
                    assert revision is not None and revision.shot_id == shot_id
                    assert revision.number == 1


async def test_narration_is_off_by_default_and_switches_per_project(database: Database) -> None:
    project_id, _, _ = await project_with_shot(database)
    async with database.unit_of_work() as uow:
        other = await uow.projects.create_project(42, "Other", 42)
        project = await uow.projects.get_project(project_id)
        assert project is not None and project.narration is False and other.narration is False
        await uow.projects.set_narration(project_id, True)
        other_id = other.id
    async with database.unit_of_work() as uow:
        project = await uow.projects.get_project(project_id)
        untouched = await uow.projects.get_project(other_id)
        assert project is not None and project.narration is True
        assert untouched is not None and untouched.narration is False
        await uow.projects.set_narration(project_id, False)
    async with database.unit_of_work() as uow:
        project = await uow.projects.get_project(project_id)
        assert project is not None and project.narration is False
