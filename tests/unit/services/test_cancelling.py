"""/cancel picks the user's own queued take first, then their waiting draft, never more."""

from __future__ import annotations

import pytest

from bot.domain.errors import StudioError
from bot.domain.states import ShotState, TakeState
from bot.services.cancelling import Outcome
from tests.unit.services.conftest import GROUP, MEMBER, OWNER, World


async def test_the_queued_take_goes_first_then_the_waiting_draft(world: World) -> None:
    actor = await world.actor(OWNER)
    take = (await world.services.generation.request_take(actor, await world.draft(actor))).take
    await world.draft(actor, "a tram rolls")  # a newer draft, never generated
    cancel = world.services.cancelling.cancel_latest

    first = await cancel(actor)
    assert (first.outcome, first.position, first.take_id) == (Outcome.TAKE, 1, take.id)
    assert (await world.services.generation.take_by_id(actor, take.id)).status == "cancelled"
    second = await cancel(actor)
    assert (second.outcome, second.position) == (Outcome.DRAFT, 2)
    assert (await cancel(actor)).outcome is Outcome.NOTHING
    shots = [await world.services.drafting.shot_by_id(actor, i) for i in (1, 2)]
    assert [s.status for s in shots] == [ShotState.DRAFTED, ShotState.CANCELLED]


async def test_a_take_already_at_the_provider_is_not_stopped(world: World) -> None:
    actor = await world.actor(OWNER)
    take_id = (
        await world.services.generation.request_take(actor, await world.draft(actor))
    ).take.id
    async with world.db.unit_of_work() as uow:
        take = await uow.takes.get_take(take_id)
        assert take is not None
        await uow.takes.transition_take(take, TakeState.SUBMITTING)
    busy = await world.services.cancelling.cancel_latest(actor)
    assert (busy.outcome, busy.take_id) == (Outcome.BUSY, take_id)
    assert (await world.services.generation.take_by_id(actor, take_id)).status == "submitting"


async def test_in_a_group_only_the_senders_own_work_is_cancelled(world: World) -> None:
    owner = await world.actor(OWNER, GROUP)
    member = await world.actor(MEMBER, GROUP)
    revision_id = await world.draft(owner)
    await world.services.generation.request_take(owner, revision_id)
    await world.draft(owner, "gulls circle")
    assert (await world.services.cancelling.cancel_latest(member)).outcome is Outcome.NOTHING
    elsewhere = await world.actor(OWNER)  # the owner's private chat: a different place
    assert (await world.services.cancelling.cancel_latest(elsewhere)).outcome is Outcome.NOTHING


async def test_a_cancelled_draft_can_no_longer_be_generated(world: World) -> None:
    # /cancel leaves the draft's message (and its 🎬 button) in the chat: pressing it later
    # must not spend money on a shot the user dropped.
    actor = await world.actor(OWNER)
    revision_id = await world.draft(actor)
    assert (await world.services.cancelling.cancel_latest(actor)).outcome is Outcome.DRAFT
    with pytest.raises(StudioError) as refused:
        await world.services.generation.request_take(actor, revision_id)
    assert refused.value.key == "draft.dropped"
    async with world.db.unit_of_work() as uow:
        assert await uow.takes.active_take_for_revision(revision_id) is None
