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


async def test_update_ids_arriving_together_are_marked_in_one_statement(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        assert await uow.chats.mark_updates_processed([2001, 2002]) == {2001, 2002}
    async with database.unit_of_work() as uow:
        # A redelivery among new ones, and the same id twice in one batch.
        assert await uow.chats.mark_updates_processed([2002, 2003, 2003]) == {2003}
        assert await uow.chats.mark_update_processed(2003) is False


async def test_senders_arriving_together_are_recorded_as_one_by_one(database: Database) -> None:
    from bot.domain.types import Sender

    async with database.unit_of_work() as uow:
        await uow.chats.record_user(41, first_name="Mei", language_code="zh-hans")
        user = await uow.chats.get_user(41)
        assert user is not None
        user.lang = "zh"
        await uow.chats.record_chat(-100, type="group", title="Old title")
        await uow.chats.set_chat_setting(-100, "lang", "en")
    senders = [
        Sender(41, 41, first_name="Mei"),  # no language_code: the known one is kept
        Sender(42, -100, "group", "Bo", language_code="en", chat_title="Bund walkers"),
        Sender(41, -100, "group", "Mei L.", chat_title="Bund walkers"),  # the same user again
    ]
    async with database.unit_of_work() as uow:
        rows = await uow.chats.record_senders(senders)
    assert [(r.lang, r.language_code) for r in rows] == [
        ("zh", "zh-hans"),
        (None, "en"),
        ("zh", "zh-hans"),
    ]
    assert [r.settings for r in rows] == [{}, {"lang": "en"}, {"lang": "en"}]
    async with database.unit_of_work() as uow:
        mei, bo = await uow.chats.get_user(41), await uow.chats.get_user(42)
        group = await uow.chats.get_chat(-100)
    assert mei is not None and mei.first_name == "Mei L."  # the later update's name
    assert bo is not None and bo.language_code == "en"
    assert group is not None and group.title == "Bund walkers"


async def test_messages_remembered_together_keep_their_own_refs(database: Database) -> None:
    from tests.integration.storage.rows import photo_fields

    async with database.unit_of_work() as uow:
        await uow.chats.record_user(42)
        await uow.chats.record_chat(7, type="private")
        project = await uow.projects.create_project(7, "p", 42)
        shot = await uow.shots.add_shot(project.id, **photo_fields("a tram", "p.jpg"))
    async with database.unit_of_work() as uow:
        await uow.chats.remember_messages(
            [
                (7, 500, "ask", {"shot_id": shot.id}),
                (7, 501, "status", {}),
                (7, 500, "draft", {"shot_id": shot.id}),  # the same message, later
                (7, 502, "draft", {"shot_id": shot.id}),
                (7, 502, "album", {}),  # names no shot: the one before stays
            ]
        )
    async with database.unit_of_work() as uow:
        first, second = await uow.chats.message_ref(7, 500), await uow.chats.message_ref(7, 501)
        third = await uow.chats.message_ref(7, 502)
    assert first is not None and (first.kind, first.shot_id) == ("draft", shot.id)
    assert second is not None and (second.kind, second.shot_id) == ("status", None)
    assert third is not None and (third.kind, third.shot_id) == ("album", shot.id)
