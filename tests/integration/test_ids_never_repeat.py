"""Row ids are never reused: an old button's id must never reach someone else's new row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database

REBUILT = (
    "projects",
    "shots",
    "prompt_revisions",
    "takes",
    "take_events",
    "usage_ledger",
    "media_groups",
)
NOW = "2026-12-01 10:00:00.000000+00:00"


async def _fill_0002(db: Database) -> None:
    """Three shots with revisions, takes and everything hanging off them, as 0002 stored them."""
    statements = [
        "INSERT INTO users (id, first_name, created_at, updated_at) "
        f"VALUES (5, 'Ann', '{NOW}', '{NOW}')",
        "INSERT INTO chats (id, type, settings, created_at) "
        f"VALUES (5, 'private', '{{}}', '{NOW}')",
        f"INSERT INTO projects (id, chat_id, created_by, title, created_at, updated_at) "
        f"VALUES (1, 5, 5, 'Boats', '{NOW}', '{NOW}')",
        "UPDATE chats SET current_project_id = 1 WHERE id = 5",
    ]
    for n in (1, 2, 3):
        statements += [
            "INSERT INTO shots (id, project_id, position, created_by, status, photo_path, "
            "photo_width, photo_height, source_format, facts, intake_notes, created_at, "
            f"updated_at, kept_by_admin) VALUES ({n}, 1, {n}, 5, 'drafted', 'p{n}.jpg', 8, 8, "
            f"'jpeg', '{{}}', '{{}}', '{NOW}', '{NOW}', 0)",
            "INSERT INTO prompt_revisions (id, shot_id, number, prompt, negative_prompt, summary, "
            f"language, params, drafter, created_at) VALUES ({n}, {n}, 1, 'clay {n}', '', '', "
            f"'en', '{{}}', 'offline', '{NOW}')",
            "INSERT INTO takes (id, shot_id, revision_id, requested_by, provider, model, params, "
            "external_id, status, attempts, next_attempt_at, cost_units, preview, created_at, "
            f"updated_at, status_changed_at) VALUES ({n}, {n}, {n}, 5, 'offline', 'm', '{{}}', "
            f"'ext-{n}', 'delivered', 1, '{NOW}', 1.0, 0, '{NOW}', '{NOW}', '{NOW}')",
            "INSERT INTO take_events (id, take_id, status, at) "
            f"VALUES ({n}, {n}, 'queued', '{NOW}')",
            "INSERT INTO usage_ledger (id, take_id, user_id, chat_id, units, state, created_at, "
            f"updated_at) VALUES ({n}, {n}, 5, 5, 1.0, 'charged', '{NOW}', '{NOW}')",
            "INSERT INTO bot_messages (chat_id, message_id, kind, shot_id, take_id, created_at) "
            f"VALUES (5, {n}, 'clip', {n}, {n}, '{NOW}')",
            "INSERT INTO take_votes (shot_id, user_id, take_id, voted_at) "
            f"VALUES ({n}, 5, {n}, '{NOW}')",
            f"UPDATE shots SET current_revision_id = {n}, kept_take_id = {n} WHERE id = {n}",
        ]
    statements.append(
        "INSERT INTO media_groups (id, chat_id, media_group_id, last_photo_at) "
        f"VALUES (1, 5, 'album', '{NOW}')"
    )
    async with db.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


COUNTED = (*REBUILT, "bot_messages", "take_votes", "users", "chats")


async def _counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as connection:
        return {
            table: int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar())
            for table in COUNTED
        }


async def test_0004_rebuilds_tables_with_autoincrement_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await db.upgrade("0002_groups")
        await _fill_0002(db)
        before = await _counts(db)
        await db.upgrade()
        assert await _counts(db) == before  # no cascade wiped a child table
        async with db.engine.begin() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await connection.execute(text("PRAGMA foreign_key_check"))).all() == []
            for table in REBUILT:
                sql = (
                    await connection.execute(
                        text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"),
                        {"t": table},
                    )
                ).scalar()
                assert "AUTOINCREMENT" in sql, table
            links = (
                await connection.execute(
                    text("SELECT current_revision_id, kept_take_id FROM shots ORDER BY id")
                )
            ).all()
            assert links == [(1, 1), (2, 2), (3, 3)]
            # The newest shot goes (with its children, by cascade); its id is not handed out again.
            await connection.execute(text("DELETE FROM shots WHERE id = 3"))
            assert (await connection.execute(text("SELECT count(*) FROM takes"))).scalar() == 2
        await _fill_shot(db)
        async with db.engine.connect() as connection:
            new_id = (await connection.execute(text("SELECT max(id) FROM shots"))).scalar()
        assert new_id == 4
    finally:
        await db.dispose()


async def _fill_shot(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO shots (project_id, position, created_by, status, photo_path, "
                "photo_width, photo_height, source_format, facts, intake_notes, created_at, "
                f"updated_at, kept_by_admin) VALUES (1, 9, 5, 'drafted', 'p.jpg', 8, 8, 'jpeg', "
                f"'{{}}', '{{}}', '{NOW}', '{NOW}', false)"
            )
        )


@pytest.mark.parametrize("table", ["projects", "shots", "prompt_revisions", "takes"])
async def test_a_deleted_newest_row_id_is_never_handed_out_again(
    database: Database, table: str
) -> None:
    """SQLite through AUTOINCREMENT, PostgreSQL through its sequences."""
    await _fill_bare(database)
    async with database.engine.begin() as connection:
        top = (await connection.execute(text(f"SELECT max(id) FROM {table}"))).scalar()
        await connection.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": top})
    await _fill_bare(database)
    async with database.engine.connect() as connection:
        again = (await connection.execute(text(f"SELECT max(id) FROM {table}"))).scalar()
    assert again > top


async def _fill_bare(db: Database) -> None:
    """One more project, shot, revision and take, through the ORM as the bot makes them."""
    from storage.models import Chat, Project, PromptRevision, Shot, Take, User

    async with db.session() as session:
        if await session.get(User, 5) is None:
            session.add(User(id=5, first_name="Ann"))
            session.add(Chat(id=5, type="private"))
            await session.flush()
        project = Project(chat_id=5, title="Boats")
        session.add(project)
        await session.flush()
        shot = Shot(
            project_id=project.id,
            position=1,
            photo_path="p.jpg",
            photo_width=8,
            photo_height=8,
            source_format="jpeg",
        )
        session.add(shot)
        await session.flush()
        revision = PromptRevision(shot_id=shot.id, number=1, prompt="clay", drafter="offline")
        session.add(revision)
        await session.flush()
        session.add(
            Take(
                shot_id=shot.id,
                revision_id=revision.id,
                provider="offline",
                model="m",
                external_id=f"ext-{shot.id}-{project.id}",
            )
        )
