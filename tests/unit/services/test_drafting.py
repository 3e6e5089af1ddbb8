"""Drafts, refinements and Undo, and who may reach a shot, with a fake drafter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.domain.errors import StudioError
from tests.unit.services.conftest import GROUP, MEMBER, OWNER, STRANGER, World, status_is


async def test_refinements_chain_and_undo_walks_back_along_it(world: World) -> None:
    actor = await world.actor(OWNER)
    drafting = world.services.drafting
    first = await drafting.revision_by_id(actor, await world.draft(actor, "boats glide"))

    slower = (await drafting.refine(actor, first.id, "slower boats")).revision
    redder = (await drafting.refine(actor, slower.id, "a red boat")).revision

    assert (first.prompt, slower.prompt, redder.prompt) == (
        "clay boats glide",
        "clay boats glide; slower boats",
        "clay boats glide; slower boats; a red boat",
    )
    assert (slower.parent_id, redder.parent_id) == (first.id, slower.id)
    # The drafter sees the story so far: each earlier instruction with its prompt.
    _, instruction, history = world.drafter.refinements[-1]
    assert instruction == "a red boat"
    assert [(step.instruction, step.prompt) for step in history] == [
        ("slower boats", slower.prompt)
    ]

    shot_id = first.shot_id
    back = await drafting.undo(actor, shot_id)
    assert back is not None and back.id == slower.id
    back = await drafting.undo(actor, shot_id)
    assert back is not None and back.id == first.id
    assert await drafting.undo(actor, shot_id) is None  # the first draft has no parent
    assert (await drafting.shot_by_id(actor, shot_id)).current_revision_id == first.id


async def test_an_empty_instruction_is_refused_before_any_drafting(world: World) -> None:
    actor = await world.actor(OWNER)
    revision_id = await world.draft(actor)
    with pytest.raises(StudioError) as refused:
        await world.services.drafting.refine(actor, revision_id, "   ")
    assert refused.value.key == "refine.empty"
    assert world.drafter.refinements == []


async def test_a_settings_change_is_a_new_revision_that_undo_takes_back(world: World) -> None:
    actor = await world.actor(OWNER)
    drafting = world.services.drafting
    first = await drafting.revision_by_id(actor, await world.draft(actor))
    longer = await drafting.change_setting(actor, first.id, "duration", 10)
    assert longer.params["duration"] == 10 and longer.prompt == first.prompt
    with pytest.raises(StudioError) as refused:
        await drafting.change_setting(actor, first.id, "duration", 7)
    assert refused.value.key == "settings.invalid"
    back = await drafting.undo(actor, first.shot_id)
    assert back is not None and back.params["duration"] == 5


async def test_another_chats_shot_is_not_found_whatever_is_asked(world: World) -> None:
    owner, stranger = await world.actor(OWNER), await world.actor(STRANGER)
    drafting = world.services.drafting
    revision = await drafting.revision_by_id(owner, await world.draft(owner))
    shot_id = revision.shot_id

    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: drafting.revision_by_id(stranger, revision.id),
        lambda: drafting.shot_by_id(stranger, shot_id),
        lambda: drafting.refine(stranger, revision.id, "make it mine"),
        lambda: drafting.redraft(stranger, shot_id),
        lambda: drafting.undo(stranger, shot_id),
        lambda: drafting.change_setting(stranger, revision.id, "duration", 10),
        lambda: drafting.cancel_shot(stranger, shot_id),
        lambda: drafting.draft_view(stranger, revision),
        lambda: world.services.generation.request_take(stranger, revision.id),
    ]
    for attempt in attempts:
        with pytest.raises(StudioError) as refused:
            await attempt()
        assert refused.value.key == "draft.not_found"
    assert world.drafter.refinements == []  # refused before the drafter was asked
    project = await world.services.projects.current_project(owner)
    with pytest.raises(StudioError) as refused:
        await world.services.projects.open_project(stranger, project.id)
    assert refused.value.key == "project.not_found"


async def test_in_an_admins_only_group_a_member_may_draft_but_not_set_the_cost(
    world: World,
) -> None:
    owner = await world.actor(OWNER, GROUP)
    member = await world.actor(MEMBER, GROUP)
    await world.services.groups.set_policy(GROUP, "admins")
    revision_id = await world.draft(owner)
    drafting = world.services.drafting

    refined = (await drafting.refine(member, revision_id, "slower")).revision  # stays open
    with pytest.raises(StudioError) as refused:
        await drafting.change_setting(
            member, refined.id, "mode", "pro", fetch_status=status_is("member")
        )
    assert refused.value.key == "group.generate_admins_only"
    with pytest.raises(StudioError) as refused:
        await drafting.cancel_shot(member, refined.shot_id, fetch_status=status_is("member"))
    assert refused.value.key == "shot.cancel_not_allowed"


async def test_a_camera_change_rewrites_the_camera_sentence_and_undo_brings_it_back(
    world: World,
) -> None:
    actor = await world.actor(OWNER)
    drafting = world.services.drafting
    first_id = await world.draft(actor, "boats glide. The camera holds still.")
    first = await drafting.revision_by_id(actor, first_id)
    panned = await drafting.change_setting(actor, first.id, "camera_move", "pan_left")
    assert panned.params["camera_move"] == "pan_left" and panned.parent_id == first.id
    assert panned.prompt == "clay boats glide. The camera pans slowly to the left."
    assert "holds still" not in panned.prompt
    back = await drafting.undo(actor, first.shot_id)
    assert back is not None and back.prompt == first.prompt
    assert back.params["camera_move"] == first.params["camera_move"]


async def test_still_first_is_on_in_a_group_off_in_private_and_the_toggle_flips_it(
    world: World,
) -> None:
    drafting = world.services.drafting
    private = await world.actor(OWNER)
    private_revision = await drafting.revision_by_id(private, await world.draft(private))
    assert not (await drafting.draft_view(private, private_revision)).still_first

    owner = await world.actor(OWNER, GROUP)
    revision = await drafting.revision_by_id(owner, await world.draft(owner))
    assert (await drafting.draft_view(owner, revision)).still_first

    same = await drafting.change_setting(owner, revision.id, "still_first", False)
    assert same.id == revision.id  # a chat setting, not a new revision
    assert (await drafting.shot_by_id(owner, revision.shot_id)).current_revision_id == revision.id
    assert not (await drafting.draft_view(owner, revision)).still_first
    with pytest.raises(StudioError) as refused:
        await drafting.change_setting(owner, revision.id, "still_first", "maybe")
    assert refused.value.key == "settings.invalid"

    # Private chats keep their own default: a group's choice does not reach them.
    await drafting.change_setting(private, private_revision.id, "still_first", True)
    assert (await drafting.draft_view(private, private_revision)).still_first


async def test_in_an_admins_only_group_a_member_may_not_toggle_still_first(
    world: World,
) -> None:
    owner = await world.actor(OWNER, GROUP)
    member = await world.actor(MEMBER, GROUP)
    await world.services.groups.set_policy(GROUP, "admins")
    revision = await world.services.drafting.revision_by_id(owner, await world.draft(owner))
    drafting = world.services.drafting
    with pytest.raises(StudioError) as refused:
        await drafting.change_setting(
            member, revision.id, "still_first", False, fetch_status=status_is("member")
        )
    assert refused.value.key == "group.generate_admins_only"
    assert (await drafting.draft_view(member, revision)).still_first
