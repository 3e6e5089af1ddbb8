"""A burst of photos: intake (CPU work on threads) takes them a few at a time, in order,
and every one of them still becomes a shot with its draft, in one unit of work."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.domain.states import ShotState
from bot.domain.types import Actor, Origin, Sender, ShotOutcome
from bot.media.sample import sample_photo
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.offline.video import OfflineVideoProvider
from bot.services import Services
from bot.services import drafting as drafting_module
from bot.services.capacity import INTAKE_SLOTS
from bot.wiring import build_use_cases
from storage.db import Database
from storage.models import PromptRevision, Shot
from tests.conftest import make_settings
from tests.statements import counting


@pytest.fixture
def services(database: Database, tmp_path: Path) -> Services:
    """The use cases, offline, on the test's database."""
    return build_use_cases(
        make_settings(tmp_path),
        database,
        OfflineDrafter(),
        {"offline": OfflineVideoProvider()},
        "offline",
    )


async def test_a_burst_goes_through_intake_a_few_at_a_time_first_come_first_served(
    database: Database, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_prepare = drafting_module.prepare_photo
    lock = threading.Lock()
    inside, most, started = 0, 0, []

    def watched_prepare(data: bytes, **limits: int):  # type: ignore[no-untyped-def]
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            started.append(data)
        time.sleep(0.01)  # long enough for the others to pile up if they could
        try:
            return real_prepare(data, **limits)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(drafting_module, "prepare_photo", watched_prepare)
    photos = [sample_photo(width=640 + 8 * n, height=480) for n in range(12)]
    users = [
        await services.accounts.enter(Sender(user_id=1000 + n, chat_id=1000 + n))
        for n in range(12)
    ]

    outcomes = await asyncio.gather(
        *(
            services.drafting.add_photo(user, photo, "boats glide")
            for user, photo in zip(users, photos, strict=True)
        )
    )

    assert most == INTAKE_SLOTS  # never more photos in intake than there are slots
    # In the order they came (photos in intake together may start either way round).
    assert all(abs(started.index(photo) - n) < INTAKE_SLOTS for n, photo in enumerate(photos))
    assert all(o.draft is not None for o in outcomes)
    async with database.session() as session:
        shots = await session.scalar(select(func.count()).select_from(Shot))
        revisions = await session.scalar(select(func.count()).select_from(PromptRevision))
    assert (shots, revisions) == (12, 12)
    for outcome, user in zip(outcomes, users, strict=True):
        assert outcome.draft is not None
        assert outcome.draft.project.chat_id == user.chat_id
        assert outcome.draft.shot.current_revision_id == outcome.draft.revision.id


async def through_intake_together(
    services: Services, photos: list[Coroutine[Any, Any, ShotOutcome]]
) -> tuple[list[asyncio.Task[ShotOutcome]], asyncio.Event]:
    """Start the photos, and return once each is through intake and held there. Set the
    event to let them all go in the same moment: their drafts then come back together,
    as under load."""
    held, all_held, holding = asyncio.Event(), asyncio.Event(), []
    real_store = services.drafting.intake.store

    async def store_and_hold(photo: bytes, aspect: object = None):  # type: ignore[no-untyped-def]
        stored = await real_store(photo, aspect)  # type: ignore[arg-type]
        holding.append(photo)
        if len(holding) == len(photos):
            all_held.set()
        await held.wait()
        return stored

    services.drafting.intake.store = store_and_hold  # type: ignore[method-assign]
    tasks = [asyncio.create_task(photo) for photo in photos]
    await asyncio.wait_for(all_held.wait(), timeout=30)
    return tasks, held


async def test_shots_whose_drafts_are_ready_together_are_written_together(
    database: Database, services: Services
) -> None:
    """Under load many drafts come back at once. Their shots share one transaction with a
    few multi-row statements, and each photo still gets its own shot, place and draft:
    an album's photos share the project the first of them opens, a chat with a project
    adds to it, and a photo without words waits for its description."""
    users = [
        await services.accounts.enter(Sender(user_id=2000 + n, chat_id=2000 + n)) for n in range(6)
    ]
    # Two chats already have a project with a shot in it.
    earlier = [
        await services.drafting.add_photo(user, sample_photo(), "rain on the Bund")
        for user in users[:2]
    ]
    photos = [  # (who, description, album)
        (users[0], "a tram rolls past", None),
        (users[1], None, None),  # no words: waits for them
        (users[2], "kites rise", "album-1"),
        (users[2], "kites fall", "album-1"),
        (users[3], "boats glide", None),
        (users[4], "a cat stretches", None),
        (users[5], "lanterns sway", "album-2"),
        (users[5], "lanterns glow", "album-2"),
    ]
    tasks, held = await through_intake_together(
        services,
        [
            services.drafting.add_photo(
                user,
                sample_photo(width=640 + 8 * n, height=480),
                words,
                Origin(chat_id=user.chat_id, message_id=100 + n, media_group_id=album),
            )
            for n, (user, words, album) in enumerate(photos)
        ],
    )
    with counting() as counted:
        held.set()
        outcomes = await asyncio.gather(*tasks)

    # One transaction for the eight shots, with one statement per step for the lot (the
    # chats; the new projects; the chats' current projects; the older projects touched;
    # the shots; their drafts; the shots' current drafts; the quotas). It was eight
    # transactions of up to eight statements each.
    written = "\n".join(counted.statements)
    assert counted.commits == 1, written
    assert len([s for s in counted.statements if s != "BEGIN IMMEDIATE"]) <= 8, written

    first_project = {o.draft.project.id for o in earlier if o.draft is not None}
    assert len(first_project) == 2
    places = [(o.shot.project_id, o.shot.position) for o in outcomes]
    assert places[0] == (earlier[0].shot.project_id, 2)
    assert places[1] == (earlier[1].shot.project_id, 2)
    assert places[2][0] == places[3][0] and {places[2][1], places[3][1]} == {1, 2}
    assert places[6][0] == places[7][0] and {places[6][1], places[7][1]} == {1, 2}
    assert len({p for p, _ in places}) == 6  # one project per chat
    assert outcomes[1].draft is None and outcomes[1].shot.status == ShotState.AWAITING_DESCRIPTION
    for outcome, (user, words, _) in zip(outcomes, photos, strict=True):
        assert outcome.shot.description == words
        if words is None:
            continue
        view = outcome.draft
        assert view is not None and view.project.chat_id == user.chat_id
        assert view.shot.id == outcome.shot.id and view.project.id == outcome.shot.project_id
        assert view.revision.shot_id == outcome.shot.id and view.revision.number == 1
        assert outcome.shot.current_revision_id == view.revision.id
        assert view.shot.status == ShotState.DRAFTED
    # What was written is what the outcomes say, and each chat points at its project.
    async with database.unit_of_work() as uow:
        for outcome, (user, _, _) in zip(outcomes, photos, strict=True):
            stored = await uow.shots.get_shot(outcome.shot.id)
            assert stored is not None
            assert (stored.project_id, stored.position) == (
                outcome.shot.project_id,
                outcome.shot.position,
            )
            assert stored.current_revision_id == outcome.shot.current_revision_id
            chat = await uow.chats.get_chat(user.chat_id)
            assert chat is not None and chat.current_project_id == outcome.shot.project_id
        assert [s.position for s in await uow.shots.project_shots(places[2][0])] == [1, 2]


async def test_a_shot_that_cannot_be_written_fails_alone(
    database: Database, services: Services
) -> None:
    """A batch that fails is rolled back and written again photo by photo: the photo that
    cannot be written gets its error, and the others their shots, as if each came alone."""
    users = [
        await services.accounts.enter(Sender(user_id=3000 + n, chat_id=3000 + n)) for n in range(3)
    ]
    # A chat the bot never admitted has no row: its project would break a foreign key.
    stranger = Actor(user_id=3999, chat_id=3999)
    tasks, held = await through_intake_together(
        services,
        [
            services.drafting.add_photo(actor, sample_photo(), "paper boats")
            for actor in (users[0], stranger, users[1], users[2])
        ],
    )
    with counting() as counted:
        held.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(outcomes[1], IntegrityError)
    written = [o for n, o in enumerate(outcomes) if n != 1]
    assert all(isinstance(o, ShotOutcome) and o.draft is not None for o in written)
    assert counted.commits == 3  # the batch rolled back, then each of the others alone
    async with database.unit_of_work() as uow:
        for outcome, user in zip(written, users, strict=True):
            assert isinstance(outcome, ShotOutcome) and outcome.draft is not None
            shot = await uow.shots.get_shot(outcome.shot.id)
            assert shot is not None and shot.position == 1
            assert shot.current_revision_id == outcome.draft.revision.id
            chat = await uow.chats.get_chat(user.chat_id)
            assert chat is not None and chat.current_project_id == shot.project_id
        assert await uow.chats.get_chat(stranger.chat_id) is None
