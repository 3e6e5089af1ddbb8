"""🔗 Share links on real databases: who a link opens for, reuse, expiry, forgeries."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.services.links import PREFIX, ShareLinks
from bot.services.permissions import Permissions
from storage.db import Database
from storage.models import utcnow
from storage.uow import UnitOfWork

OWNER, STRANGER, MEMBER = 7_001, 7_002, 7_003
GROUP = -1_007_100_000_001


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def project_in(db: Database, chat_id: int, title: str) -> int:
    async with db.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(OWNER, first_name="Lin")
        await uow.chats.upsert_chat(chat_id, type="private" if chat_id > 0 else "supergroup")
        return (await uow.projects.create_project(chat_id, title, OWNER)).id


def statuses(status: str, asked: list[int]):  # type: ignore[no-untyped-def]
    async def fetch(chat_id: int) -> str:
        asked.append(chat_id)
        return status

    return fetch


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def links(database: Database, clock: Clock) -> ShareLinks:
    return ShareLinks(
        database, Permissions(database, operators=()), valid_for=timedelta(days=30), clock=clock
    )


async def test_a_private_project_link_opens_for_its_owner_only(
    database: Database, links: ShareLinks
) -> None:
    project_id = await project_in(database, OWNER, "Harbour at dusk")
    owner = Actor(OWNER, OWNER, "private")
    link = await links.share(owner, project_id)
    assert link.title == "Harbour at dusk"
    assert link.payload.startswith(PREFIX) and len(link.payload) <= 64
    opened = await links.open(owner, link.payload, statuses("member", []))
    assert opened.own and opened.view.project.id == project_id

    asked: list[int] = []
    with pytest.raises(StudioError) as refused:
        await links.open(Actor(STRANGER, STRANGER, "private"), link.payload, statuses("", asked))
    assert refused.value.key == "link.not_yours" and asked == []


async def test_a_group_project_link_shows_it_to_current_members_only(
    database: Database, links: ShareLinks
) -> None:
    project_id = await project_in(database, GROUP, "Clay club")
    link = await links.share(Actor(OWNER, GROUP, "supergroup"), project_id)
    asked: list[int] = []
    member = Actor(MEMBER, MEMBER, "private")
    shown = await links.open(member, link.payload, statuses("member", asked))
    assert not shown.own and shown.view.project.id == project_id and asked == [GROUP]
    for status in ("left", "kicked", "restricted"):
        with pytest.raises(StudioError) as refused:
            await links.open(member, link.payload, statuses(status, []))
        assert refused.value.key == "link.members_only"


async def test_another_chat_cannot_make_a_link_to_a_project_it_does_not_own(
    database: Database, links: ShareLinks
) -> None:
    project_id = await project_in(database, OWNER, "Mine")
    with pytest.raises(StudioError) as refused:
        await links.share(Actor(STRANGER, STRANGER, "private"), project_id)
    assert refused.value.key == "project.not_found"


@pytest.mark.parametrize(
    "payload",
    [
        PREFIX + secrets.token_urlsafe(24),  # the right shape, never issued
        "1",  # a raw project id
        PREFIX + "x" * 31,
        PREFIX + "x" * 33,
        PREFIX + "a/" * 16,
        "",
    ],
    # Named, not shown: the first is random, and every test process must collect one list.
    ids=["never-issued", "raw-id", "short", "long", "slashes", "empty"],
)
async def test_forged_payloads_are_refused(
    database: Database, links: ShareLinks, payload: str
) -> None:
    await project_in(database, OWNER, "Mine")
    with pytest.raises(StudioError) as refused:
        await links.open(Actor(OWNER, OWNER, "private"), payload, statuses("member", []))
    assert refused.value.key == "link.invalid"


async def test_a_link_is_given_again_while_young_and_refused_once_expired(
    database: Database, links: ShareLinks, clock: Clock
) -> None:
    project_id = await project_in(database, OWNER, "Mine")
    owner = Actor(OWNER, OWNER, "private")
    first = await links.share(owner, project_id)
    clock.now += timedelta(days=10)
    assert (await links.share(owner, project_id)).payload == first.payload
    clock.now += timedelta(days=10)  # past half its life: a fresh link, the old one still works
    second = await links.share(owner, project_id)
    assert second.payload != first.payload
    await links.open(owner, first.payload, statuses("member", []))
    clock.now += timedelta(days=11)
    with pytest.raises(StudioError) as refused:
        await links.open(owner, first.payload, statuses("member", []))
    assert refused.value.key == "link.expired"
    assert (await links.open(owner, second.payload, statuses("member", []))).own


async def clip(db: Database, chat_id: int, title: str, by: int, *, keep: bool = False) -> str:
    """A project in `chat_id` with one shot made by `by` and one delivered take: its file_id."""
    async with db.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(by, first_name="U")
        await uow.chats.upsert_chat(chat_id, type="private" if chat_id > 0 else "supergroup")
        project = await uow.projects.create_project(chat_id, title, by)
        shot = await uow.shots.add_shot(
            project.id,
            created_by=by,
            photo_path="/nonexistent.jpg",
            photo_width=800,
            photo_height=600,
            source_format="JPEG",
        )
        revision = await uow.shots.add_revision(
            shot, prompt="clay", params={}, drafter="offline", created_by=by
        )
        file_id = f"BAAC-{secrets.token_hex(4)}"
        take = await uow.takes.add_take(
            shot_id=shot.id,
            revision_id=revision.id,
            provider="offline",
            model="clay",
            external_id=secrets.token_hex(8),
            status="delivered",
            telegram_file_id=file_id,
        )
        if keep:
            shot.kept_take_id = take.id
        await session.commit()
        return file_id


async def test_inline_clips_are_never_another_users_and_follow_group_membership(
    database: Database, links: ShareLinks
) -> None:
    mine = await clip(database, OWNER, "Harbour 50% off", OWNER, keep=True)
    theirs = await clip(database, STRANGER, "Harbour too", STRANGER)
    group = await clip(database, GROUP, "Clay club harbour", OWNER)
    other_group = await clip(database, GROUP - 1, "Harbour elsewhere", STRANGER)

    async def ids(query: str, status: str, user: int = OWNER) -> set[str]:
        asked: list[int] = []
        page = await links.clips_to_share(user, query, 0, statuses(status, asked))
        assert set(asked) <= {GROUP, GROUP - 1}
        return {c.file_id for c in page.clips}

    assert await ids("", "member") == {mine, group}
    assert await ids("harbour", "member") == {mine, group}
    assert await ids("HARBOUR 50%", "member") == {mine}
    # LIKE's wildcards are taken literally: as patterns these would match "Harbour…".
    assert await ids("r%f", "member") == set() and await ids("b_u", "member") == set()
    assert await ids("", "left") == {mine}
    assert await ids("", "member", STRANGER) == {theirs, other_group}
    assert mine not in await ids("", "creator", MEMBER)  # a bystander: nothing of anyone's


async def test_a_group_link_opened_in_another_group_shows_it_nothing(
    database: Database, links: ShareLinks
) -> None:
    project_id = await project_in(database, GROUP, "Clay club")
    link = await links.share(Actor(OWNER, GROUP, "supergroup"), project_id)
    elsewhere = Actor(MEMBER, GROUP - 5, "supergroup")  # a member, but in another group
    with pytest.raises(StudioError) as refused:
        await links.open(elsewhere, link.payload, statuses("member", []))
    assert refused.value.key == "link.private_only"
    opened = await links.open(Actor(MEMBER, GROUP, "supergroup"), link.payload, statuses("", []))
    assert opened.own  # in its own group it simply opens


async def test_a_forgotten_users_links_stop_working(database: Database, links: ShareLinks) -> None:
    project_id = await project_in(database, OWNER, "Harbour")
    owner = Actor(OWNER, OWNER, "private")
    link = await links.share(owner, project_id)
    async with database.unit_of_work() as uow:
        await uow.accounts.forget_user(OWNER)
    async with database.session() as session:
        assert await UnitOfWork(session).links.link_by_token(link.payload[2:]) is None
    with pytest.raises(StudioError) as refused:
        await links.open(owner, link.payload, statuses("member", []))
    assert refused.value.key == "link.invalid"
