"""🎬 Generate, ✖ and the take machine, against fake providers and an in-memory database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.domain.errors import StudioError
from bot.domain.records import TakeRecord
from bot.domain.states import TakeState
from bot.domain.types import Delivery
from bot.services.generation import TakeMachine, TakePolicy
from tests.fakes.ports import FakeObserver
from tests.unit.services.conftest import (
    ADMIN,
    GROUP,
    MEMBER,
    OPERATOR,
    OWNER,
    World,
    WorldFactory,
    status_is,
)


async def spent(world: World) -> dict[str, float]:
    """The ledger by state: what is reserved, charged, refunded."""
    usage = await world.services.accounts.usage(OWNER)
    totals = usage.day
    return {"reserved": totals.reserved, "charged": totals.charged, "refunded": totals.refunded}


async def test_a_press_delivered_twice_or_a_double_tap_makes_one_take(world: World) -> None:
    actor = await world.actor(OWNER)
    revision_id = await world.draft(actor)
    generation = world.services.generation

    first = await generation.request_take(actor, revision_id, request_key="cb:1")
    again = await generation.request_take(actor, revision_id, request_key="cb:1")  # redelivered
    tapped = await generation.request_take(actor, revision_id, request_key="cb:2")  # double tap

    assert first.created and not again.created and not tapped.created
    assert again.take.id == tapped.take.id == first.take.id
    assert (await spent(world))["reserved"] == 1.5  # reserved once
    # Once that take is over, the same draft may be generated again.
    assert await generation.cancel_take(actor, first.take.id)
    second = await generation.request_take(actor, revision_id, request_key="cb:3")
    assert second.created and second.take.id != first.take.id


async def test_generate_over_the_quota_is_refused_and_reserves_nothing(
    make_world: WorldFactory,
) -> None:
    world = await make_world(quota_user_day=2.0)
    actor = await world.actor(OWNER)
    first, second = await world.draft(actor), await world.draft(actor, "kites rise")
    generation = world.services.generation

    await generation.request_take(actor, first)  # 1.5 of 2
    with pytest.raises(StudioError) as refused:
        await generation.request_take(actor, second)

    assert refused.value.key == "budget.exceeded"
    assert refused.value.params == {"cost": "1.5", "left": "0.5"}
    assert await spent(world) == {"reserved": 1.5, "charged": 0.0, "refunded": 0.0}
    draft = await world.services.drafting.revision_by_id(actor, second)
    view = await world.services.drafting.draft_view(actor, draft)
    assert (view.allowance.cost, view.allowance.left) == (1.5, 0.5)  # what the draft shows


async def test_who_may_cancel_a_take_in_a_group(world: World) -> None:
    owner = await world.actor(OWNER, GROUP)
    member = await world.actor(MEMBER, GROUP)
    admin = await world.actor(ADMIN, GROUP)
    operator = await world.actor(OPERATOR, GROUP)
    generation = world.services.generation

    async def queued() -> int:
        return (await generation.request_take(owner, await world.draft(owner))).take.id

    take_id = await queued()
    with pytest.raises(StudioError) as refused:
        await generation.cancel_take(member, take_id, fetch_status=status_is("member"))
    assert refused.value.key == "take.cancel_not_allowed"
    assert await generation.cancel_take(admin, take_id, fetch_status=status_is("administrator"))
    assert await generation.cancel_take(operator, await queued())  # no lookup needed
    assert await generation.cancel_take(owner, await queued())  # the author's own


async def test_a_take_past_the_queue_is_not_cancelled(world: World, tmp_path: Path) -> None:
    actor = await world.actor(OWNER)
    revision_id = await world.draft(actor)
    take_id = (await world.services.generation.request_take(actor, revision_id)).take.id
    machine = TakeMachine(
        world.db, {"kling": world.video}, FakeObserver(), clips_dir=tmp_path / "clips"
    )
    await machine.advance(take_id)  # all the way: the fake provider finishes at once
    assert not await world.services.generation.cancel_take(actor, take_id)


async def test_the_take_machine_walks_a_take_to_its_delivered_clip(
    world: World, tmp_path: Path
) -> None:
    actor = await world.actor(OWNER)
    request = await world.services.generation.request_take(
        actor, await world.draft(actor), chat_id=actor.chat_id
    )
    observer = FakeObserver()
    machine = TakeMachine(
        world.db,
        {"kling": world.video},
        observer,
        clips_dir=tmp_path / "clips",
        caps={"kling": 1},
        policy=TakePolicy(poll_interval_s=0.01),
    )

    await machine.advance(request.take.id)

    take = await machine.load(request.take.id)
    assert take.status == TakeState.DELIVERED
    assert world.video.submitted == [take.external_id]  # created once, under our own id
    assert take.upstream_task_id == "task-1" and take.telegram_file_id == f"file-{take.id}"
    assert take.clip_path and Path(take.clip_path).is_file()  # noqa: ASYNC240
    phases = [phase for take_id, phase in observer.phases if take_id == take.id]
    assert phases == [TakeState.SUBMITTED, TakeState.DOWNLOADING, TakeState.DELIVERING]
    assert observer.delivered == [take.id] and observer.finished == {take.id: "delivered"}
    assert await spent(world) == {"reserved": 0.0, "charged": 1.5, "refunded": 0.0}


async def test_a_take_is_only_seen_from_its_own_chat(world: World) -> None:
    owner, stranger = await world.actor(OWNER), await world.actor(MEMBER)
    take = (await world.services.generation.request_take(owner, await world.draft(owner))).take
    generation = world.services.generation
    with pytest.raises(StudioError) as refused:
        await generation.take_by_id(stranger, take.id)
    assert refused.value.key == "draft.not_found"
    with pytest.raises(StudioError) as refused:
        await generation.cancel_take(stranger, take.id)
    assert refused.value.key == "draft.not_found"


async def test_in_an_admins_only_group_the_use_cases_refuse_a_members_paid_work(
    world: World,
) -> None:
    """Whoever calls them (a button, the CLI, a future Mini App), the rule holds in the
    use case itself, not only in the handler that usually asks first."""
    owner = await world.actor(OWNER, GROUP)
    member = await world.actor(MEMBER, GROUP)
    await world.services.groups.set_policy(GROUP, "admins")
    revision_id = await world.draft(owner)

    with pytest.raises(StudioError) as refused:
        await world.services.generation.request_take(
            member, revision_id, fetch_status=status_is("member")
        )
    assert refused.value.key == "group.generate_admins_only"
    with pytest.raises(StudioError) as refused:  # no way to ask Telegram: not an admin
        await world.services.generation.request_take(member, revision_id)
    assert refused.value.key == "group.generate_admins_only"
    with pytest.raises(StudioError) as refused:
        await world.services.stills.make(member, revision_id, fetch_status=status_is("member"))
    assert refused.value.key == "group.generate_admins_only"
    shot_id = (await world.services.drafting.revision_by_id(owner, revision_id)).shot_id
    async with world.db.unit_of_work() as uow:
        assert await uow.takes.shot_takes(shot_id) == []  # nothing queued, nothing reserved

    admin = await world.actor(ADMIN, GROUP)
    made = await world.services.generation.request_take(
        admin, revision_id, fetch_status=status_is("administrator")
    )
    assert made.created


def acting_on_arrival(
    world: World, tmp_path: Path, act: Callable[[TakeRecord], Awaitable[None]]
) -> TakeMachine:
    """A take machine whose chat does `act` the moment a clip is sent, before the bot has
    heard back from sendVideo and recorded the delivery: where a user's quick press lands."""

    class ActsOnArrival(FakeObserver):
        async def deliver(self, take: TakeRecord) -> Delivery:
            delivery = await super().deliver(take)
            await act(take)
            return delivery

    return TakeMachine(
        world.db, {"kling": world.video}, ActsOnArrival(), clips_dir=tmp_path / "clips"
    )


async def test_keep_pressed_the_moment_the_clip_arrives_is_kept(
    world: World, tmp_path: Path
) -> None:
    """The clip's message, with its ⭐ Keep, is on the user's phone before the bot has heard
    back from sendVideo and recorded the take as delivered: a quick press in that moment keeps
    the take instead of calling it gone. (A group's vote is the same press.)"""
    owner, group_owner = await world.actor(OWNER), await world.actor(OWNER, GROUP)
    pressed: dict[int, object] = {}

    async def press_keep(take: TakeRecord) -> None:
        actor = group_owner if take.id in pressed else owner
        if actor.is_group:
            pressed[take.id] = await world.services.groups.vote(actor, take.id, admin=False)
        else:
            pressed[take.id] = await world.services.generation.keep_take(actor, take.id)

    machine = acting_on_arrival(world, tmp_path, press_keep)
    private = await world.services.generation.request_take(owner, await world.draft(owner))
    await machine.advance(private.take.id)
    group = await world.services.generation.request_take(
        group_owner, await world.draft(group_owner)
    )
    pressed[group.take.id] = None  # the group's press is a vote
    await machine.advance(group.take.id)

    for request in (private, group):
        async with world.db.unit_of_work() as uow:
            shot = await uow.shots.get_shot(request.take.shot_id)
            assert shot is not None and shot.kept_take_id == request.take.id
        assert (await machine.load(request.take.id)).status == TakeState.DELIVERED


async def test_again_pressed_the_moment_the_clip_arrives_makes_a_second_take(
    world: World, tmp_path: Path
) -> None:
    """🔁 Again under a clip whose delivery the bot has not recorded yet is a new take, not
    the one being delivered seen as a double tap."""
    owner = await world.actor(OWNER)
    revision_id = await world.draft(owner)
    again: list[object] = []

    async def press_again(_take: TakeRecord) -> None:
        if not again:
            again.append(await world.services.generation.request_take(owner, revision_id))

    machine = acting_on_arrival(world, tmp_path, press_again)
    first = await world.services.generation.request_take(owner, revision_id)
    await machine.advance(first.take.id)

    (second,) = again
    assert second.created and second.take.id != first.take.id  # type: ignore[attr-defined]


async def test_an_export_asked_the_moment_the_clip_arrives_includes_it(
    world: World, tmp_path: Path
) -> None:
    """/export sent as the clip reaches the chat (before its delivery is recorded) carries
    that clip: it is on disk and already the user's."""
    owner = await world.actor(OWNER)
    counted: list[str] = []

    async def export(_take: TakeRecord) -> None:
        made = await world.services.accounts.export_project(owner, limit_bytes=10**8)
        counted.append(f"{made.shots} shots, {made.clips} clips")

    machine = acting_on_arrival(world, tmp_path, export)
    request = await world.services.generation.request_take(owner, await world.draft(owner))
    await machine.advance(request.take.id)
    assert counted == ["1 shots, 1 clips"]
