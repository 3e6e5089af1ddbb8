"""The story as a whole on a real database: the board's picture, reordering, dropping, the film."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.domain.errors import StudioError
from bot.domain.types import Actor, Sender
from bot.media.storyboard import board_layout, first_words, render_board
from bot.services import Services
from bot.wiring import Wiring, build_services
from storage.db import Database
from storage.models import utcnow
from storage.uow import UnitOfWork
from tests.conftest import make_settings
from tests.unit.test_film import decoded_frames, make_clip

COLOURS = [(220, 40, 40), (40, 200, 60), (40, 70, 220), (230, 210, 30), (200, 60, 200)]


def solid_photo(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (640, 360), colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture
async def wired(tmp_path: Path, database_url: str) -> AsyncIterator[Wiring]:
    settings = make_settings(tmp_path, database_url=database_url, preview_height=240)
    built = await build_services(settings, migrate=False)
    try:
        yield built
    finally:
        await built.aclose()


async def shots_of(services: Services, actor: Actor, count: int) -> list[int]:
    ids = []
    for index in range(count):
        outcome = await services.drafting.add_photo(
            actor, solid_photo(COLOURS[index]), f"shot {index + 1} the tram rolls by slowly"
        )
        ids.append(outcome.shot.id)
    return ids


async def deliver_take(db: Database, shot_id: int, clip: Path) -> int:
    """A delivered take as the job runner would leave it (without rendering one)."""
    async with db.session() as session:
        uow = UnitOfWork(session)
        shot = await uow.shots.get_shot(shot_id)
        assert shot is not None and shot.current_revision_id is not None
        take = await uow.takes.add_take(
            shot_id=shot_id,
            revision_id=shot.current_revision_id,
            provider="offline",
            model="clay-preview",
            params={},
            external_id=str(uuid.uuid4()),
            status="delivered",
            clip_path=str(clip),
            delivered_at=utcnow(),
        )
        return take.id


def tile_colours(picture: bytes, count: int) -> list[tuple[int, int, int]]:
    image = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB")).astype(int)
    colours = []
    for x, y, w, h in board_layout(count).thumbs:
        # Sample left of centre, under any badge: the photo itself.
        patch = image[y + h // 2 - 5 : y + h // 2 + 5, x + w // 3 - 5 : x + w // 3 + 5]
        colours.append(tuple(int(v) for v in patch.reshape(-1, 3).mean(axis=0)))
    return colours


def nearest(colour: tuple[int, int, int]) -> int:
    return int(np.argmin([np.abs(np.subtract(colour, c)).sum() for c in COLOURS]))


async def test_the_board_shows_one_tile_per_shot_in_order_and_follows_moves(
    wired: Wiring,
) -> None:
    services = wired.services
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7, first_name="Lin"))
    await shots_of(services, actor, 5)
    storyboard = services.projects

    board = await storyboard.board(actor)
    assert [item.number for item in board.shots] == [1, 2, 3, 4, 5]
    picture = render_board(board)
    image = Image.open(io.BytesIO(picture))
    assert image.format == "JPEG"
    assert image.size == board_layout(5).size and image.width >= 1080
    assert [nearest(c) for c in tile_colours(picture, 5)] == [0, 1, 2, 3, 4]

    board = await storyboard.move(actor, 5, 1)  # /move 5 1
    assert [nearest(c) for c in tile_colours(render_board(board), 5)] == [4, 0, 1, 2, 3]
    assert [item.number for item in board.shots] == [1, 2, 3, 4, 5]

    board = await storyboard.nudge(actor, board.shots[1].shot.id, +1)  # ⬇️ on shot 2
    assert [nearest(c) for c in tile_colours(render_board(board), 5)] == [4, 1, 0, 2, 3]

    board = await storyboard.drop(actor, 2)  # /drop 2
    assert len(board.shots) == 4
    assert [nearest(c) for c in tile_colours(render_board(board), 4)] == [4, 0, 2, 3]
    assert [item.number for item in board.shots] == [1, 2, 3, 4]

    with pytest.raises(StudioError) as error:
        await storyboard.move(actor, 9, 1)
    assert error.value.key == "board.no_such_shot"


async def test_another_chats_project_is_not_on_the_board(wired: Wiring) -> None:
    services = wired.services
    owner = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    stranger = await services.accounts.enter(Sender(user_id=8, chat_id=8))
    await shots_of(services, owner, 1)
    project = await services.projects.current_project(owner)
    with pytest.raises(StudioError):
        await services.projects.board(stranger, project.id)


async def test_the_film_uses_each_shots_kept_take_else_its_latest(
    wired: Wiring, tmp_path: Path
) -> None:
    services = wired.services
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    first, second, third = await shots_of(services, actor, 3)
    clips = tmp_path / "clips"
    clips.mkdir()
    kept = await deliver_take(wired.db, first, make_clip(clips / "a1.mp4", seconds=1))
    await deliver_take(wired.db, first, make_clip(clips / "a2.mp4", seconds=2))  # not kept
    await services.generation.keep_take(actor, kept)
    await deliver_take(wired.db, second, make_clip(clips / "b1.mp4", seconds=1))
    await deliver_take(wired.db, second, make_clip(clips / "b2.mp4", seconds=3))  # the latest
    # The third shot has no take: the film goes on without it.

    storyboard = services.projects
    board = await storyboard.board(actor)
    assert [i.kept for i in board.shots] == [True, False, False]
    assert board.shots[2].clip is None
    picture = render_board(board)
    assert Image.open(io.BytesIO(picture)).width == 1080

    _, film = await storyboard.film(actor, title=False, crossfade_s=0)
    assert film.clips == 2 and film.method == "copy"
    assert film.duration_s == pytest.approx(1 + 3, abs=0.05)
    assert decoded_frames(film.path) == 4 * 24
    assert film.size_bytes <= wired.settings.upload_limit_bytes

    # The bot's default: 0.3 s crossfades; a title card only for a project with a name.
    _, faded = await storyboard.film(actor)
    assert faded.method == "reencode"
    assert faded.duration_s == pytest.approx(4 - 0.3, abs=0.05)
    project = await services.projects.current_project(actor)
    async with wired.db.session() as session:
        stored = await UnitOfWork(session).projects.get_project(project.id)
        assert stored is not None
        stored.title = "Shanghai in clay"
    _, titled = await storyboard.film(actor)
    assert titled.duration_s == pytest.approx(2 + 4 - 2 * 0.3, abs=0.05)


async def test_a_project_without_clips_has_no_film(wired: Wiring) -> None:
    services = wired.services
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    await shots_of(services, actor, 1)
    with pytest.raises(StudioError) as error:
        await services.projects.film(actor)
    assert error.value.key == "film.no_clips"


def test_first_words_cut_english_by_words_and_chinese_by_characters() -> None:
    assert first_words("one two three", 2) == "one two…"
    assert first_words("短" * 40, 8) == "短" * 24 + "…"


async def test_votes_show_as_stars_on_the_board(wired: Wiring, tmp_path: Path) -> None:
    from storage.models import TakeVote

    services = wired.services
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7))
    (shot_id,) = await shots_of(services, actor, 1)
    take_id = await deliver_take(wired.db, shot_id, make_clip(tmp_path / "a.mp4"))
    async with wired.db.session() as session:
        await UnitOfWork(session).chats.upsert_user(
            8, first_name="Mei", username=None, language_code=None
        )
        await UnitOfWork(session).chats.upsert_user(
            9, first_name="Bo", username=None, language_code=None
        )
        for user_id in (8, 9):
            session.add(TakeVote(shot_id=shot_id, user_id=user_id, take_id=take_id))
    board = await services.projects.board(actor)
    assert board.shots[0].stars == 2
    assert Image.open(io.BytesIO(render_board(board))).width == 1080


def test_the_command_line_makes_the_same_film(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.cli import main

    monkeypatch.setenv("CLAYMATE_DATA_DIR", str(tmp_path / "data"))

    async def prepare() -> None:
        wiring = await build_services(make_settings(tmp_path))
        try:
            services = wiring.services
            actor = await services.accounts.enter(Sender(user_id=0, chat_id=0, chat_type="cli"))
            await services.projects.new_project(actor, "Suzhou Creek")
            for index, shot_id in enumerate(await shots_of(services, actor, 2)):
                clip = make_clip(tmp_path / f"c{index}.mp4", colour=index)
                await deliver_take(wiring.db, shot_id, clip)
        finally:
            await wiring.aclose()

    asyncio.run(prepare())
    out = tmp_path / "film.mp4"
    with pytest.raises(SystemExit) as done:
        main(["film", "Suzhou Creek", "--out", str(out), "--no-title", "--crossfade", "0"])
    assert done.value.code == 0
    assert decoded_frames(out) == 2 * 24
    with pytest.raises(SystemExit) as missing:
        main(["film", "No such project"])
    assert missing.value.code == 1


async def test_tiles_show_the_kept_takes_first_frame_else_the_still_else_the_photo(
    wired: Wiring, tmp_path: Path
) -> None:
    services = wired.services
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7, first_name="Lin"))
    with_still, with_kept, plain, with_unkept = await shots_of(services, actor, 4)
    still = tmp_path / "still.jpg"
    still.write_bytes(solid_photo(COLOURS[3]))
    kept_clip = make_clip(tmp_path / "kept.mp4", colour=1)
    take_id = await deliver_take(wired.db, with_kept, kept_clip)
    await deliver_take(wired.db, with_unkept, make_clip(tmp_path / "latest.mp4", colour=2))
    async with wired.db.unit_of_work() as uow:
        shot = await uow.shots.get_shot(with_still)
        assert shot is not None
        shot.still_path = str(still)
        shot = await uow.shots.get_shot(with_kept)
        assert shot is not None
        shot.kept_take_id = take_id

    board = await services.projects.board(actor)
    tiles = {item.shot.id: item for item in board.shots}
    assert tiles[with_still].image_path == still and tiles[with_still].frame_clip is None
    assert tiles[with_kept].frame_clip == kept_clip
    assert tiles[plain].frame_clip is None
    assert tiles[plain].image_path == Path(tiles[plain].shot.photo_path)
    assert tiles[with_unkept].frame_clip is None  # only a kept take stands for its shot

    colours = tile_colours(render_board(board), 4)
    assert nearest(colours[0]) == 3  # the still, not the red photo
    assert np.abs(np.subtract(colours[1], (67, 131, 119))).sum() < 40  # the clip's frame
    assert nearest(colours[2]) == 2  # the photo


async def test_a_tile_says_what_happens_not_the_prompts_clay_opening(wired: Wiring) -> None:
    services = wired.services
    actor = await services.accounts.enter(Sender(user_id=7, chat_id=7, first_name="Lin"))
    await services.drafting.add_photo(actor, solid_photo(COLOURS[0]), "A tram rolls past the Bund")
    await services.drafting.add_photo(actor, solid_photo(COLOURS[1]), "弄堂里晾着的衣服在风中飘动")
    board = await services.projects.board(actor)
    english, chinese = (item.words for item in board.shots)
    revision = await services.drafting.revision_by_id(
        actor, board.shots[0].shot.current_revision_id or 0
    )
    assert english == revision.summary.split(" · ")[0]
    assert "tram" in english.lower() and "clay" not in english.lower()
    assert "衣服" in chinese and "黏土" not in chinese and "·" not in chinese
    assert render_board(board)  # Chinese words draw with the CJK font
