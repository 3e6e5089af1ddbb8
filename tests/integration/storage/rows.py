"""Small factories for the repository tests: a project with a shot and revision, a take."""

from __future__ import annotations

import uuid

from storage.db import Database
from storage.uow import UnitOfWork


def photo_fields(description: str, photo_path: str) -> dict[str, object]:
    """What a shot of a 1280x960 JPEG from user 42 is made with."""
    return {
        "created_by": 42,
        "description": description,
        "photo_path": photo_path,
        "photo_width": 1280,
        "photo_height": 960,
        "source_format": "JPEG",
    }


async def project_with_shot(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(42, first_name="Lin", language_code="zh-hans")
        await uow.chats.upsert_chat(42, type="private")
        project = await uow.projects.create_project(42, "Shanghai in clay", 42)
        shot = await uow.shots.add_shot(
            project.id,
            **photo_fields("The Bund at dusk", "/tmp/x.jpg"),
            facts={"orientation": "landscape"},
        )
        revision = await uow.shots.add_revision(
            shot,
            prompt="Clay boats glide",
            negative_prompt="blurry",
            params={"duration": 5, "camera_move": "push_in"},
            drafter="offline",
            created_by=42,
        )
        return project.id, shot.id, revision.id


async def add_take(db: Database, shot_id: int, revision_id: int, **fields: object) -> int:
    async with db.session() as session:
        take = await UnitOfWork(session).takes.add_take(
            shot_id=shot_id,
            revision_id=revision_id,
            provider=fields.pop("provider", "kling"),
            model="kling-v2-5-turbo",
            external_id=str(uuid.uuid4()),
            **fields,
        )
        return take.id
