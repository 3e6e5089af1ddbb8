"""➡️ Continue: the next shot starts from the kept take's last frame, in the same project,
and the provider is given exactly that frame; only the project's own chat may continue."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bot.domain.errors import StudioError
from bot.domain.states import ShotState
from bot.media.lastframe import last_frame, provider_frame_path
from bot.services.generation import TakeMachine, TakePolicy
from tests.fakes.ports import FakeObserver
from tests.unit.services.conftest import GROUP, MEMBER, OWNER, STRANGER, World
from tests.unit.test_lastframe import clip_with_keyframes


def machine(world: World, tmp_path: Path) -> TakeMachine:
    return TakeMachine(
        world.db,
        {"kling": world.video},
        FakeObserver(),
        clips_dir=tmp_path / "data" / "clips",  # where /forget looks
        policy=TakePolicy(poll_interval_s=0.01),
    )


async def kept_take(world: World, tmp_path: Path, description: str = "a tram rolls in") -> int:
    """A group member's delivered take of a real clip, kept for the film."""
    owner = await world.actor(OWNER, GROUP)
    world.video.clip = clip_with_keyframes(tmp_path / "source.mp4").read_bytes()
    request = await world.services.generation.request_take(owner, await world.draft(owner))
    await machine(world, tmp_path).advance(request.take.id)
    async with world.db.unit_of_work() as uow:
        shot = await uow.shots.get_shot(request.take.shot_id)
        assert shot is not None
        shot.kept_take_id = request.take.id  # the group's vote settled on it
    return request.take.id


async def test_continue_starts_the_next_shot_from_the_last_frame_and_the_provider_gets_it(
    world: World, tmp_path: Path
) -> None:
    take_id = await kept_take(world, tmp_path)
    owner = await world.actor(OWNER, GROUP)
    await world.draft(owner, "kites rise over the roofs")  # shot 2, already in the story
    member = await world.actor(MEMBER, GROUP)  # anyone in the group may continue the story

    started = await world.services.continuity.start(member, take_id)
    take = await world.services.generation.take_by_id(member, take_id)
    assert take.clip_path is not None
    expected = last_frame(Path(take.clip_path)).jpeg
    assert started.frame == expected and not started.from_provider
    assert Path(started.shot.photo_path).read_bytes() == expected  # noqa: ASYNC240
    assert started.shot.status == ShotState.AWAITING_DESCRIPTION
    assert started.shot.created_by == MEMBER
    board = await world.services.projects.board(member)
    # Right after the shot it continues, before the one that was next.
    assert [i.shot.id for i in board.shots][1] == started.shot.id
    assert [i.words for i in board.shots][2].startswith("clay kites")

    revision = await world.services.drafting.describe(
        member,
        started.shot.id,
        "the tram stops, a cat hops on",
        follows=started.follows_revision_id,
    )
    source = await world.services.generation.revision_for_take(take)
    for key in ("provider", "model", "mode", "duration"):
        assert revision.params[key] == source.params[key]
    assert world.drafter.drafts[-1].description == "the tram stops, a cat hops on"

    request = await world.services.generation.request_take(member, revision.id)
    await machine(world, tmp_path).advance(request.take.id)
    assert world.video.images[-1] == expected  # exactly the frame, byte for byte


async def test_a_providers_own_last_frame_is_preferred(world: World, tmp_path: Path) -> None:
    take_id = await kept_take(world, tmp_path)
    member = await world.actor(MEMBER, GROUP)
    take = await world.services.generation.take_by_id(member, take_id)
    assert take.clip_path is not None
    png = tmp_path / "frame.png"

    Image.new("RGB", (320, 240), (10, 200, 30)).save(png, "PNG")
    provider_frame_path(Path(take.clip_path)).write_bytes(png.read_bytes())  # noqa: ASYNC240
    started = await world.services.continuity.start(member, take_id)
    assert started.from_provider and started.frame == png.read_bytes()  # noqa: ASYNC240
    assert Path(started.shot.photo_path).suffix == ".png"
    assert started.shot.source_format == "PNG"


async def test_an_outsider_or_a_take_not_kept_cannot_be_continued(
    world: World, tmp_path: Path
) -> None:
    take_id = await kept_take(world, tmp_path)
    outsider = await world.actor(STRANGER)  # not in the group: a forged button
    with pytest.raises(StudioError) as refused:
        await world.services.continuity.start(outsider, take_id)
    assert refused.value.key == "draft.not_found"  # as if the take never existed
    outsider_in_own_group = await world.actor(STRANGER, -1_005_000_000_999)
    with pytest.raises(StudioError):
        await world.services.continuity.start(outsider_in_own_group, take_id)

    member = await world.actor(MEMBER, GROUP)
    async with world.db.unit_of_work() as uow:
        take = await uow.takes.get_take(take_id)
        assert take is not None
        shot = await uow.shots.get_shot(take.shot_id)
        assert shot is not None
        shot.kept_take_id = None
    with pytest.raises(StudioError) as not_kept:
        await world.services.continuity.start(member, take_id)
    assert not_kept.value.key == "continue.not_kept"
    board = await world.services.projects.board(member)
    assert len(board.shots) == 1  # nothing was added by the refusals


async def test_a_kept_take_whose_clip_is_gone_says_so(world: World, tmp_path: Path) -> None:
    take_id = await kept_take(world, tmp_path)
    member = await world.actor(MEMBER, GROUP)
    take = await world.services.generation.take_by_id(member, take_id)
    assert take.clip_path is not None
    Path(take.clip_path).unlink()  # noqa: ASYNC240
    with pytest.raises(StudioError) as gone:
        await world.services.continuity.start(member, take_id)
    assert gone.value.key == "continue.no_clip"


async def test_forget_removes_the_photo_of_a_continued_shot_and_the_providers_frame(
    world: World, tmp_path: Path
) -> None:
    take_id = await kept_take(world, tmp_path)
    member = await world.actor(MEMBER, GROUP)
    take = await world.services.generation.take_by_id(member, take_id)
    assert take.clip_path is not None
    kept_frame = provider_frame_path(Path(take.clip_path))
    kept_frame.write_bytes(Path(take.clip_path).read_bytes()[:10])  # noqa: ASYNC240
    started = await world.services.continuity.start(member, take_id)
    photo = Path(started.shot.photo_path)
    await world.services.accounts.forget(MEMBER)  # the continued shot is the member's
    assert not photo.exists()  # noqa: ASYNC240
    await world.services.accounts.forget(OWNER)  # the take, its clip and the provider's frame
    assert not kept_frame.exists() and not Path(take.clip_path).exists()  # noqa: ASYNC240


async def test_pressing_continue_again_before_answering_asks_about_the_same_shot(
    world: World, tmp_path: Path
) -> None:
    take_id = await kept_take(world, tmp_path)
    member = await world.actor(MEMBER, GROUP)
    first = await world.services.continuity.start(member, take_id)
    again = await world.services.continuity.start(member, take_id)
    assert again.shot.id == first.shot.id and again.frame == first.frame
    assert len((await world.services.projects.board(member)).shots) == 2
    await world.services.drafting.describe(
        member, first.shot.id, "a cat hops on", follows=first.follows_revision_id
    )
    later = await world.services.continuity.start(member, take_id)  # a new next shot
    assert later.shot.id != first.shot.id
    assert len((await world.services.projects.board(member)).shots) == 3
