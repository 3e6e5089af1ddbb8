"""🎬 Generate all on real databases: a take refused half-way takes the others back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.errors import StudioError
from bot.domain.types import Actor, VideoRequest
from bot.providers.offline.drafter import OfflineDrafter
from bot.wiring import build_use_cases
from storage.db import Database
from storage.models import Take, UsageEntry
from storage.uow import UnitOfWork
from tests.conftest import make_settings

USER = 7_005


class PickyKling:
    """Refuses, before any money is held, a prompt that asks for the impossible."""

    name = "kling"
    model = "kling-v2-5-turbo"

    async def refusal(self, request: VideoRequest) -> StudioError | None:
        return StudioError("settings.invalid") if "impossible" in request.prompt else None


async def album(db: Database, prompts: list[str]) -> int:
    """An album of drafted shots in the user's chat; the first shot's id."""
    async with db.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(USER, first_name="Lin")
        await uow.chats.upsert_chat(USER, type="private")
        project = await uow.projects.create_project(USER, "Album", USER)
        ids = []
        for i, prompt in enumerate(prompts):
            shot = await uow.shots.add_shot(
                project.id,
                created_by=USER,
                photo_path="/nonexistent.jpg",
                photo_width=800,
                photo_height=600,
                source_format="JPEG",
                chat_id=USER,
                message_id=500 + i,
                media_group_id="1300",
            )
            await uow.shots.add_revision(
                shot,
                prompt=prompt,
                params={"provider": "kling", "mode": "std", "duration": 5},
                drafter="offline",
                created_by=USER,
            )
            ids.append(shot.id)
        await session.commit()
        return ids[0]


@pytest.fixture
def services(database: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, costs="kling:std:5=1", quota_user_day=10)
    return build_use_cases(
        settings,
        database,
        OfflineDrafter(),
        {"kling": PickyKling()},  # type: ignore[dict-item]
        "kling",
    )


async def test_one_refused_shot_leaves_no_take_and_no_money_held(
    database: Database, services
) -> None:  # type: ignore[no-untyped-def]
    first = await album(database, ["clay boats", "clay trams", "something impossible"])
    with pytest.raises(StudioError) as refused:
        await services.albums.generate_all(
            Actor(USER, USER, "private"), first, request_key="cb:1", chat_id=USER, thread_id=None
        )
    assert refused.value.key == "settings.invalid"
    async with database.session() as session:
        takes = list((await session.execute(select(Take))).scalars())
        usage = list((await session.execute(select(UsageEntry))).scalars())
    assert [t.status for t in takes] == ["cancelled", "cancelled"]
    assert {u.state for u in usage} == {"refunded"}


async def test_all_queued_within_the_quota_and_a_repeat_press_adds_none(
    database: Database, services
) -> None:  # type: ignore[no-untyped-def]
    first = await album(database, ["clay boats", "clay trams", "clay gulls"])
    actor = Actor(USER, USER, "private")
    done = await services.albums.generate_all(
        actor, first, request_key="cb:2", chat_id=USER, thread_id=None
    )
    assert [o.queued for o in done] == [True, True, True]
    assert [o.photo_message_id for o in done] == [500, 501, 502]
    again = await services.albums.generate_all(
        actor, first, request_key="cb:2", chat_id=USER, thread_id=None
    )
    assert [o.queued for o in again] == [False, False, False]
    async with database.session() as session:
        assert len(list((await session.execute(select(Take))).scalars())) == 3


async def test_bought_credits_count_where_the_free_quota_ends(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, costs="kling:std:5=1", quota_user_day=1, star_packs="10:50")
    services = build_use_cases(
        settings,
        database,
        OfflineDrafter(),
        {"kling": PickyKling()},
        "kling",  # type: ignore[dict-item]
    )
    first = await album(database, ["clay boats", "clay trams", "clay gulls"])
    actor = Actor(USER, USER, "private")
    with pytest.raises(StudioError) as refused:  # 3 units, 1 left, no credits yet
        await services.albums.generate_all(
            actor, first, request_key="cb:3", chat_id=USER, thread_id=None
        )
    assert refused.value.key == "album.over_budget"
    [pack] = services.payments.packs
    paid = await services.payments.record_payment(
        USER, services.payments.payload_for(pack), "XTR", pack.stars, "stx-album"
    )
    assert paid.new
    done = await services.albums.generate_all(
        actor, first, request_key="cb:4", chat_id=USER, thread_id=None
    )
    assert [o.queued for o in done] == [True, True, True]
    assert await services.payments.credits(USER) == 8  # the quota paid one, credits two
