"""A burst of photos: intake (CPU work on threads) takes them a few at a time, in order,
and every one of them still becomes a shot with its draft, in one unit of work."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.types import Sender
from bot.media.sample import sample_photo
from bot.providers.offline.drafter import OfflineDrafter
from bot.providers.offline.video import OfflineVideoProvider
from bot.services import drafting as drafting_module
from bot.services.capacity import INTAKE_SLOTS
from bot.wiring import build_use_cases
from storage.db import Database
from storage.models import PromptRevision, Shot
from tests.conftest import make_settings


async def test_a_burst_goes_through_intake_a_few_at_a_time_first_come_first_served(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    services = build_use_cases(
        settings, database, OfflineDrafter(), {"offline": OfflineVideoProvider()}, "offline"
    )
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
