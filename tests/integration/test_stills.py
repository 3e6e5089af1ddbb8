"""Clay stills: 🎨 a still of a draft's photo, 🎬 Animate this, end frames, quotas and /forget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.ports import StillMaker
from bot.domain.types import Sender
from bot.media.sample import sample_photo
from bot.services.stills import Stills
from bot.wiring import Wiring, build_runner, build_services
from storage.uow import UnitOfWork
from tests.conftest import make_settings
from tests.integration.test_jobs import RecordingObserver


@pytest.fixture
async def wired(tmp_path: Path, database_url: str) -> AsyncIterator[Wiring]:
    built = await build_services(make_settings(tmp_path, database_url=database_url), migrate=False)
    try:
        yield built
    finally:
        await built.aclose()


async def test_the_chosen_still_is_what_the_video_model_animates(wired: Wiring) -> None:
    services, stills = wired.services, wired.services.stills
    assert stills is not None and stills.cost_units == 0.0  # offline: free
    actor = await services.accounts.enter(Sender(user_id=3, chat_id=3))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    revision = outcome.revision
    assert revision is not None

    first = await stills.make(actor, revision.id)
    second = await stills.make(actor, revision.id)  # 🔄 Another
    assert (first.number, second.number) == (1, 2)
    assert first.path.read_bytes() != second.path.read_bytes()

    await stills.choose(actor, revision.id, 2)  # 🎬 Animate this
    take = (await services.generation.request_take(actor, revision.id)).take
    runner = build_runner(wired.db, wired.providers, RecordingObserver(), clips_dir=Path("."))
    request = await runner.machine.video_request(take)
    assert request.image_path == second.path

    await stills.choose(actor, revision.id, None)  # 📷 Use the original photo
    request = await runner.machine.video_request(take)
    assert request.image_path == Path(outcome.shot.photo_path)

    with pytest.raises(StudioError) as error:
        await stills.choose(actor, revision.id, 9)
    assert error.value.key == "still.gone"
    stranger = await services.accounts.enter(Sender(user_id=4, chat_id=4))
    with pytest.raises(StudioError):
        await stills.make(stranger, revision.id)


async def test_an_end_frame_wins_over_the_camera_and_forces_five_seconds(
    wired: Wiring,
) -> None:
    services, stills = wired.services, wired.services.stills
    assert stills is not None
    actor = await services.accounts.enter(Sender(user_id=3, chat_id=3))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None
    revision = await services.drafting.change_setting(actor, outcome.revision.id, "duration", 10)
    revision = await services.drafting.change_setting(actor, revision.id, "camera_move", "orbit")

    ended = await stills.end_frame(actor, revision.id, sample_photo(width=480, height=360))
    assert ended.parent_id == revision.id and ended.prompt == revision.prompt
    assert ended.params["duration"] == 5 and ended.params["camera_move"] == "static"
    tail = Path(ended.params["image_tail_path"])
    assert Image.open(tail).format == "JPEG"  # written to disk

    # Even if the user then picks a camera move or 10 s, the take keeps Kling's rule.
    moved = await services.drafting.change_setting(actor, ended.id, "camera_move", "push_in")
    take = (await services.generation.request_take(actor, moved.id)).take
    assert take.params == {
        "mode": moved.params["mode"],
        "duration": 5,
        "camera_move": "static",
        "image_tail_path": str(tail),
    }
    runner = build_runner(wired.db, wired.providers, RecordingObserver(), clips_dir=Path("."))
    request = await runner.machine.video_request(take)
    assert request.image_tail_path == tail and request.duration == 5

    # ↩️ Undo twice: back to the draft without the end frame.
    previous = await services.drafting.undo(actor, ended.shot_id)
    assert previous is not None and "image_tail_path" in previous.params
    previous = await services.drafting.undo(actor, ended.shot_id)
    assert previous is not None and "image_tail_path" not in previous.params


# --- stills are paid work ----------------------------------------------------------------


class PaidMaker:
    """A still maker priced like Kling's images; fails when told to, counts its calls."""

    name = "kling"

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.fail_kind = ErrorKind.TRANSIENT

    async def make(self, photo: Path, seed: int) -> bytes:
        self.calls += 1
        if self.fail:
            raise ProviderError(self.fail_kind, "image service down")
        return sample_photo(width=320, height=240)

    async def aclose(self) -> None:
        pass


def stills_with(wired: Wiring, maker: StillMaker) -> Stills:
    """The stills use case of `wired`, with another maker."""
    services = wired.services
    return Stills(
        wired.db,
        maker,
        drafting=services.drafting,
        permissions=services.permissions,
        budget=services.accounts.budget,
        intake=services.drafting.intake,
        folder=wired.folders.stills,
    )


async def still_ledger(wired: Wiring) -> list[tuple[str, str, float]]:
    from sqlalchemy import select

    from storage.models import UsageEntry

    async with wired.db.session() as session:
        rows = (await session.execute(select(UsageEntry).order_by(UsageEntry.id))).scalars()
        return [(r.kind, r.state, r.units) for r in rows]


@pytest.fixture
async def paid(tmp_path: Path, database_url: str) -> AsyncIterator[Wiring]:
    settings = make_settings(
        tmp_path, database_url=database_url, quota_user_day=0.5, costs="offline=1"
    )
    built = await build_services(settings, migrate=False)
    try:
        yield built
    finally:
        await built.aclose()


async def test_a_still_is_quota_checked_reserved_charged_and_refunded_on_failure(
    paid: Wiring,
) -> None:
    services, maker = paid.services, PaidMaker()
    stills = stills_with(paid, maker)  # type: ignore[arg-type]
    assert stills.cost_units == 0.25
    actor = await services.accounts.enter(Sender(user_id=5, chat_id=5))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None

    maker.fail = True
    with pytest.raises(StudioError) as failed:
        await stills.make(actor, outcome.revision.id)
    assert failed.value.key == "still.failed"
    assert await still_ledger(paid) == [("still", "refunded", 0.25)]

    maker.fail_kind = ErrorKind.CONTENT  # Kling 1301: the photo, so say so, and refund
    with pytest.raises(StudioError) as moderated:
        await stills.make(actor, outcome.revision.id)
    assert moderated.value.key == "still.refused"
    assert await still_ledger(paid) == [("still", "refunded", 0.25)] * 2
    maker.fail_kind = ErrorKind.TRANSIENT

    maker.fail = False
    await stills.make(actor, outcome.revision.id)
    await stills.make(actor, outcome.revision.id)
    with pytest.raises(StudioError) as refused:  # 0.5 of 0.5 spent
        await stills.make(actor, outcome.revision.id)
    assert refused.value.key == "budget.exceeded"
    assert maker.calls == 4  # the refused still never reached the provider
    assert await still_ledger(paid) == [
        ("still", "refunded", 0.25),
        ("still", "refunded", 0.25),
        ("still", "charged", 0.25),
        ("still", "charged", 0.25),
    ]
    usage = await services.accounts.budget.usage(5)  # /usage: stills are spending, not takes
    assert (usage.day.charged, usage.day.refunded, usage.day.takes) == (0.5, 0.5, 0)


async def test_a_refused_animate_leaves_the_shots_picture_as_it_was(
    paid: Wiring,
) -> None:
    services, stills = paid.services, paid.services.stills
    assert stills is not None
    actor = await services.accounts.enter(Sender(user_id=6, chat_id=6))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None
    still = await stills.make(actor, outcome.revision.id)  # offline: free

    choice = await stills.choice(actor, outcome.revision.id, still.number)
    with pytest.raises(StudioError) as refused:  # a take costs 1, the quota is 0.5
        await services.generation.request_take(actor, outcome.revision.id, still=choice)
    assert refused.value.key == "budget.exceeded"
    shot = await services.drafting.shot_by_id(actor, outcome.shot.id)
    assert shot.still_path is None


async def test_an_end_frame_does_not_use_up_a_still_number(wired: Wiring) -> None:
    """End frames live in the shot's folder too; the first still after one is still 1."""
    services, stills = wired.services, wired.services.stills
    assert stills is not None
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None

    end_photo = sample_photo(width=480, height=360)
    ending = await stills.end_frame(actor, outcome.revision.id, end_photo)
    first = await stills.make(actor, ending.id)
    second = await stills.make(actor, ending.id)

    assert (first.number, second.number) == (1, 2)
    assert first.path.name == "1.jpg" and first.path.is_file()


async def test_an_end_frame_is_prepared_inside_the_intake_cap(wired: Wiring) -> None:
    """End frames are photos too: they wait for an intake slot like any other photo."""
    services, stills = wired.services, wired.services.stills
    assert stills is not None
    actor = await services.accounts.enter(Sender(user_id=5, chat_id=5))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None

    class CountingSlots:
        def __init__(self) -> None:
            self.entered = 0

        async def __aenter__(self) -> None:
            self.entered += 1

        async def __aexit__(self, *exc: object) -> None:
            return None

    slots = CountingSlots()
    services.drafting.intake._slots = slots  # type: ignore[assignment]
    await stills.end_frame(actor, outcome.revision.id, sample_photo(width=480, height=360))

    assert slots.entered == 1


# --- /forget while a still is being made, and end frames on other people's shots -----------


class HeldMaker(PaidMaker):
    """A paid maker that waits until told to finish, as a slow image service would."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def make(self, photo: Path, seed: int) -> bytes:
        self.started.set()
        await self.release.wait()
        return await super().make(photo, seed)


async def test_forget_while_a_still_is_made_refunds_it_and_leaves_no_file(
    paid: Wiring,
) -> None:
    services, maker = paid.services, HeldMaker()
    stills = stills_with(paid, maker)  # type: ignore[arg-type]
    actor = await services.accounts.enter(Sender(user_id=8, chat_id=8))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None
    making = asyncio.create_task(stills.make(actor, outcome.revision.id))
    await maker.started.wait()
    await services.accounts.forget(8)
    maker.release.set()
    with pytest.raises(StudioError):  # the shot is gone: nothing to show
        await making
    assert await still_ledger(paid) == [("still", "refunded", 0.25)]
    left = [p for p in stills.folder.rglob("*") if p.is_file()] if stills.folder.exists() else []
    assert left == []


async def test_a_member_who_forgets_takes_their_end_frame_off_someone_elses_shot(
    wired: Wiring,
) -> None:
    services, stills = wired.services, wired.services.stills
    assert stills is not None
    group = -1_009_000_000_077
    owner = await services.accounts.enter(
        Sender(user_id=21, chat_id=group, chat_type="supergroup")
    )
    member = await services.accounts.enter(
        Sender(user_id=22, chat_id=group, chat_type="supergroup")
    )
    outcome = await services.drafting.add_photo(
        owner, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None
    end_photo = sample_photo(width=480, height=360)
    ended = await stills.end_frame(member, outcome.revision.id, end_photo)
    tail = Path(ended.params["image_tail_path"])
    assert await asyncio.to_thread(tail.is_file)
    queued = (await services.generation.request_take(owner, ended.id)).take  # the owner's, from it

    await services.accounts.forget(22)
    runner = build_runner(wired.db, wired.providers, RecordingObserver(), clips_dir=Path("."))
    with pytest.raises(ProviderError) as gone:  # fails (and is refunded), never retried
        await runner.machine.video_request(queued)
    assert gone.value.kind is ErrorKind.INVALID
    assert not await asyncio.to_thread(tail.exists)  # the member's photo is gone with them
    async with wired.db.session() as session:
        revisions = await UnitOfWork(session).shots.shot_revisions(outcome.shot.id)
    assert revisions and all("image_tail_path" not in r.params for r in revisions)
    owners_photo = Path(outcome.shot.photo_path)
    assert await asyncio.to_thread(owners_photo.is_file)  # the owner's shot stays
