"""ChatsRepo: users and chats, update ids, albums — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.models import utcnow
from storage.uow import UnitOfWork


async def test_a_redelivered_update_is_recognised(database: Database) -> None:
    async with database.session() as session:
        assert await UnitOfWork(session).chats.mark_update_processed(1001) is True
    async with database.session() as session:
        assert await UnitOfWork(session).chats.mark_update_processed(1001) is False
        assert await UnitOfWork(session).chats.mark_update_processed(1002) is True


async def test_an_album_is_answered_once(database: Database) -> None:
    async with database.session() as session:
        await UnitOfWork(session).chats.touch_media_group(7, "album-1")
    quiet = utcnow() + timedelta(seconds=1)
    async with database.session() as session:
        first = await UnitOfWork(session).chats.claim_media_group_answer(7, "album-1", quiet)
    async with database.session() as session:
        second = await UnitOfWork(session).chats.claim_media_group_answer(7, "album-1", quiet)
    assert (first, second) == (True, False)


async def test_concurrent_first_contact_creates_one_user(database: Database) -> None:
    import asyncio

    async def contact() -> None:
        async with database.session() as session:
            await UnitOfWork(session).chats.upsert_user(99, first_name="Ann")

    await asyncio.gather(*(contact() for _ in range(4)))
    async with database.session() as session:
        assert (await UnitOfWork(session).chats.get_user(99)) is not None


async def test_a_returning_user_is_brought_up_to_date_in_one_statement(
    database: Database,
) -> None:
    async with database.session() as session:
        uow = UnitOfWork(session)
        first = await uow.chats.upsert_user(7, first_name="Lin", language_code="zh-hans")
        created, updated = first.created_at, first.updated_at
    async with database.session() as session:
        uow = UnitOfWork(session)
        # Some clients send no language code: the known one is kept, the new name stored.
        again = await uow.chats.upsert_user(7, first_name="Lin Mei", username="linmei")
        assert (again.first_name, again.username, again.language_code) == (
            "Lin Mei",
            "linmei",
            "zh-hans",
        )
        assert again.created_at == created and again.updated_at >= updated
        same = await uow.chats.upsert_user(7, first_name="Lin Mei", username="linmei")
        assert same.updated_at == again.updated_at  # nothing changed: no new timestamp
        chat = await uow.chats.upsert_chat(-100, type="group", title="Clay club")
        renamed = await uow.chats.upsert_chat(-100, type="group", title=None)
        assert renamed is chat and renamed.title == "Clay club"  # no title: the known one stays
    async with database.session() as session:
        stored = await UnitOfWork(session).chats.get_user(7)
        assert stored is not None and stored.username == "linmei"


async def test_recording_a_chat_returns_its_own_current_projects_shape(
    database: Database,
) -> None:
    # The gate reads the shape with the chat's row (a photo's intake needs it first):
    # each chat sees its own current project's shape, never another chat's.
    async with database.session() as session:
        uow = UnitOfWork(session)
        assert await uow.chats.record_chat(31, type="private") == ({}, None)
        await uow.chats.record_chat(32, type="private")
        await uow.chats.record_chat(33, type="group", title="Bund walkers")
        tall = await uow.projects.create_project(31, "Suzhou Creek", None)
        tall.aspect = "9:16"
        wide = await uow.projects.create_project(32, "Lujiazui", None)
        wide.aspect = "16:9"
        await uow.projects.create_project(33, "Wukang Mansion", None)  # keeps each photo's
    async with database.session() as session:
        uow = UnitOfWork(session)
        assert (await uow.chats.record_chat(31, type="private"))[1] == "9:16"
        assert (await uow.chats.record_chat(32, type="private"))[1] == "16:9"
        settings, shape = await uow.chats.record_chat(33, type="group", title="Bund")
        assert shape is None and settings == {}
        assert (await uow.chats.record_chat(34, type="private"))[1] is None  # new chat
        assert await uow.chats.current_aspect(31) == "9:16"  # the same answer as the read
