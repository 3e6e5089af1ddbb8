"""A film is made once per set of inputs: the same /film again re-sends Telegram's copy, and
any change to what it is made of (order, kept take, music, words, cut) makes it anew."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.errors import StudioError
from bot.domain.types import Sender
from bot.media.film import CALM
from bot.services.film_cache import FilmOrder
from bot.wiring import Wiring, build_services
from storage.uow import UnitOfWork
from tests.conftest import make_settings
from tests.integration.test_storyboard import deliver_take, shots_of
from tests.unit.test_film import make_clip


@pytest.fixture
async def wired(tmp_path: Path, database_url: str) -> AsyncIterator[Wiring]:
    settings = make_settings(tmp_path, database_url=database_url, preview_height=240)
    built = await build_services(settings, migrate=False)
    try:
        yield built
    finally:
        await built.aclose()


async def sent(wired: Wiring, order: FilmOrder, file_id: str) -> None:
    """What the chat front end does once Telegram answers sendVideo."""
    assert order.film is not None
    await wired.services.projects.film_sent(order, file_id)


async def test_the_same_inputs_re_send_and_any_change_assembles_again(
    wired: Wiring, tmp_path: Path
) -> None:
    services, projects = wired.services, wired.services.projects
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    first, second = await shots_of(services, actor, 2)
    a1 = await deliver_take(wired.db, first, make_clip(tmp_path / "a1.mp4", colour=1))
    await deliver_take(wired.db, first, make_clip(tmp_path / "a2.mp4", colour=2))
    await deliver_take(wired.db, second, make_clip(tmp_path / "b1.mp4", colour=3))

    order = await projects.film_or_copy(actor, title=False, crossfade_s=0)
    assert order.sent is None and order.film is not None and len(order.cut.key) == 64
    await sent(wired, order, "BAACAgIAAxkBAAI-first")

    again = await projects.film_or_copy(actor, title=False, crossfade_s=0)
    assert again.film is None and again.sent is not None
    assert again.sent.file_id == "BAACAgIAAxkBAAI-first"
    assert again.sent.clips == 2 and again.sent.width == 320

    keys = {order.cut.key}

    async def assembled() -> FilmOrder:
        changed = await projects.film_or_copy(actor, title=False, crossfade_s=0)
        assert changed.sent is None and changed.film is not None
        assert changed.cut.key not in keys
        keys.add(changed.cut.key)
        await sent(wired, changed, f"file-{len(keys)}")
        return changed

    await projects.move(actor, 2, 1)  # reorder
    await assembled()
    await services.generation.keep_take(actor, a1)  # shot 1's latest take was a2: a1 now
    await assembled()
    async with wired.db.session() as session:
        project = await UnitOfWork(session).projects.current_project(actor.chat_id)
        assert project is not None
        project.soundtrack = CALM  # the music changed
    await assembled()
    async with wired.db.session() as session:
        project = await UnitOfWork(session).projects.current_project(actor.chat_id)
        assert project is not None
        project.subtitles = True  # words on
    await assembled()
    crossfaded = await projects.film_or_copy(actor, title=False, crossfade_s=0.3)
    assert crossfaded.sent is None  # /film and /film cut are different films

    # Back to an earlier set of inputs: that copy is still held, and is re-sent.
    async with wired.db.session() as session:
        project = await UnitOfWork(session).projects.current_project(actor.chat_id)
        assert project is not None
        project.subtitles = False
    back = await projects.film_or_copy(actor, title=False, crossfade_s=0)
    assert back.sent is not None and back.sent.file_id == "file-4"

    # A clip file that changed under the same take id is another film.
    (tmp_path / "b1.mp4").unlink()
    make_clip(tmp_path / "b1.mp4", colour=4)
    assert (await projects.film_or_copy(actor, title=False, crossfade_s=0)).sent is None


async def test_a_refused_file_id_is_dropped_and_the_film_made_again(
    wired: Wiring, tmp_path: Path
) -> None:
    services, projects = wired.services, wired.services.projects
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    (shot,) = await shots_of(services, actor, 1)
    await deliver_take(wired.db, shot, make_clip(tmp_path / "a.mp4"))
    order = await projects.film_or_copy(actor, title=False, crossfade_s=0)
    await sent(wired, order, "gone")
    cached = await projects.film_or_copy(actor, title=False, crossfade_s=0)
    assert cached.sent is not None
    remade = await projects.film_copy_refused(cached)
    assert remade.film is not None and remade.film.path.is_file()
    assert (await projects.film_or_copy(actor, title=False, crossfade_s=0)).sent is None


async def test_forget_drops_the_films_that_showed_the_users_clips(
    wired: Wiring, tmp_path: Path
) -> None:
    services, projects = wired.services, wired.services.projects
    group = -100_500
    owner = await services.accounts.enter(Sender(user_id=7, chat_id=group, chat_type="group"))
    member = await services.accounts.enter(Sender(user_id=8, chat_id=group, chat_type="group"))
    (shot,) = await shots_of(services, owner, 1)
    take = await deliver_take(wired.db, shot, make_clip(tmp_path / "a.mp4"))
    async with wired.db.session() as session:
        stored = await UnitOfWork(session).takes.get_take(take)
        assert stored is not None
        stored.requested_by = member.user_id  # the member made the take
    order = await projects.film_or_copy(owner, title=False, crossfade_s=0)
    await sent(wired, order, "group-film")
    assert (await projects.film_or_copy(owner, title=False, crossfade_s=0)).sent is not None

    await services.accounts.forget(member.user_id)
    async with wired.db.session() as session:
        assert (
            await UnitOfWork(session).films.cached(order.cut.board.project.id, order.cut.key)
            is None
        )

    # A private project's films go with the project.
    solo = await services.accounts.enter(Sender(user_id=9, chat_id=9))
    (own,) = await shots_of(services, solo, 1)
    await deliver_take(wired.db, own, make_clip(tmp_path / "c.mp4"))
    mine = await projects.film_or_copy(solo, title=False, crossfade_s=0)
    await sent(wired, mine, "solo-film")
    await services.accounts.forget(solo.user_id)
    async with wired.db.session() as session:
        assert (
            await UnitOfWork(session).films.cached(mine.cut.board.project.id, mine.cut.key) is None
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_film_over_the_limit_is_re_encoded_to_fit_or_refused(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, preview_height=240)
    built = await build_services(settings, migrate=False)
    try:
        services = built.services
        actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
        (shot,) = await shots_of(services, actor, 1)
        clip = make_clip(tmp_path / "a.mp4", seconds=3, size=(640, 480))
        await deliver_take(built.db, shot, clip)
        plain = await services.projects.film_or_copy(actor, title=False, crossfade_s=0.3)
        assert plain.film is not None and not plain.refitted
        limit = plain.film.size_bytes * 2 // 3
        services.projects.upload_limit_bytes = limit  # an artificial limit, not 50 MB
        refit = await services.projects.film_or_copy(actor, title=False, crossfade_s=0.3)
        assert refit.refitted and refit.film is not None
        assert refit.film.size_bytes <= limit and refit.film.bitrate is not None
        services.projects.upload_limit_bytes = 2_000  # nothing plays in 2 kB
        with pytest.raises(StudioError) as error:
            await services.projects.film_or_copy(actor, title=False, crossfade_s=0.3)
        assert error.value.key == "film.too_large"
    finally:
        await built.aclose()
