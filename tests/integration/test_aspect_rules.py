"""Who may change a project's shape, and what a change means for the shots already in it,
on real databases: a setting like the project's sound (admins only in an admins-only
group); shots already in the project keep the shape their photo was cut to."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bot.domain.errors import StudioError
from bot.domain.types import Actor
from bot.media.sample import sample_photo
from storage.db import Database
from storage.uow import UnitOfWork
from tests.integration.test_budget_quotas import USER, revisions, services_for

GROUP = -1_007_000_000_016


def status(value: str):  # type: ignore[no-untyped-def]
    async def fetch() -> str:
        return value

    return fetch


async def test_in_an_admins_only_group_only_admins_change_the_shape(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path)
    await revisions(database, GROUP, 1)
    member = Actor(USER, GROUP, "supergroup")
    await services.groups.set_policy(GROUP, "admins")
    with pytest.raises(StudioError) as refused:
        await services.projects.set_aspect(member, "9:16", fetch_status=status("member"))
    assert refused.value.key == "group.generate_admins_only"
    assert (await services.projects.aspect(member)).aspect is None  # nothing changed

    admin = Actor(USER + 1, GROUP, "supergroup")
    view = await services.projects.set_aspect(admin, "9:16", fetch_status=status("administrator"))
    assert view.aspect == "9:16"

    await services.groups.set_policy(GROUP, "everyone")
    view = await services.projects.set_aspect(member, "1:1", fetch_status=status("member"))
    assert view.aspect == "1:1"
    with pytest.raises(StudioError) as bad:
        await services.projects.set_aspect(member, "4:3")
    assert bad.value.key == "aspect.usage"


async def test_shots_already_in_the_project_keep_their_shape_and_new_ones_take_it(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path)
    [old_revision] = await revisions(database, USER, 1)
    actor = Actor(USER, USER)
    view = await services.projects.set_aspect(actor, "9:16")
    assert (view.aspect, view.others) == ("9:16", 1)  # the chat is told the old one stays

    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=1280, height=720), "Boats glide on the river"
    )
    shot = outcome.shot
    assert shot.facts["aspect"] == "9:16"
    assert shot.photo_width * 16 == shot.photo_height * 9  # cut exactly, never stretched
    with Image.open(shot.photo_path) as stored:
        assert stored.size == (shot.photo_width, shot.photo_height)
    assert outcome.framed is not None and ("aspect.cropped", {"aspect": "9:16"}) in outcome.notes
    assert outcome.revision is not None

    new_take = await services.generation.request_take(actor, outcome.revision.id)
    old_take = await services.generation.request_take(actor, old_revision)
    assert new_take.take.params["aspect"] == "9:16"
    assert "aspect" not in old_take.take.params  # still its own photo's shape

    # Choosing it again changes nothing: the old shot is still the one of another shape.
    again = await services.projects.set_aspect(actor, "9:16")
    assert again.others == 1


async def test_the_command_lines_first_shot_rule(database: Database, tmp_path: Path) -> None:
    services = services_for(database, tmp_path)
    actor = Actor(USER, USER)
    async with database.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(USER, first_name="Lin")
        await uow.chats.upsert_chat(USER, type="private")
    empty = await services.projects.shape_first_shot(actor, "9:16")
    assert empty.aspect == "9:16"
    await services.drafting.add_photo(actor, sample_photo(width=800, height=600), "Trams")
    same = await services.projects.shape_first_shot(actor, "9:16")
    assert same.aspect == "9:16"
    with pytest.raises(StudioError) as mixed:
        await services.projects.shape_first_shot(actor, "1:1")
    assert mixed.value.key == "aspect.has_shots"
    assert mixed.value.params["aspect"] == "9:16" and mixed.value.params["wanted"] == "1:1"


async def test_an_end_frame_is_cut_to_the_shape_its_clip_starts_in(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path)
    actor = Actor(USER, USER)
    async with database.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(USER, first_name="Lin")
        await uow.chats.upsert_chat(USER, type="private")
    await services.projects.set_aspect(actor, "9:16")
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=1280, height=720), "Boats glide on the river"
    )
    assert outcome.revision is not None and services.stills is not None
    ended = await services.stills.end_frame(
        actor, outcome.revision.id, sample_photo(width=1280, height=720)
    )
    with Image.open(ended.params["image_tail_path"]) as tail:
        width, height = tail.size
    assert width * 16 == height * 9  # the same shape as the start, cut, never stretched
