"""A user puts the story together in the chat: /board, ⬆️ ⬇️, /move, /film (real bot, stub API)."""

from __future__ import annotations

import io
from pathlib import Path

import av
from PIL import Image

from tests.e2e.conftest import RunningBot
from tests.e2e.test_private_chat import buttons, draft_for_photo, generate
from tests.fakes.updates import button_press, command_update
from tests.integration.test_storyboard import COLOURS, nearest, solid_photo, tile_colours


async def test_board_reorder_and_film(bot: RunningBot, tmp_path: Path) -> None:
    bot.push(command_update(bot.chat, bot.user, "/new", "Shanghai", "in", "clay"))
    await bot.wait_for("sendMessage")
    _, first = await draft_for_photo(bot, solid_photo(COLOURS[0]), "a red tram rolls past")
    await generate(bot, first)
    await draft_for_photo(bot, solid_photo(COLOURS[1]), "green leaves sway")
    await bot.wait_for("sendMessage", lambda c: "g:" in str(c.params.get("reply_markup")), count=2)

    # /board: one picture, a tile per shot in order, ⬆️ ⬇️ buttons to reorder.
    bot.push(command_update(bot.chat, bot.user, "/board"))
    board_call = await bot.wait_for("sendPhoto")
    picture = board_call.uploads["photo"].data
    assert Image.open(io.BytesIO(picture)).width >= 1080
    assert [nearest(c) for c in tile_colours(picture, 2)] == [0, 1]
    assert "1. " in board_call.params["caption"] and "2. " in board_call.params["caption"]
    board = bot.sent_message(board_call)
    down = next(d for d in buttons(board) if d.startswith("md:"))

    # ⬇️ on shot 1: the same message now shows the green shot first.
    bot.push(button_press(bot.user, board, down))
    edited = await bot.wait_for("editMessageMedia")
    assert edited.params["message_id"] == board["message_id"]
    redrawn = next(iter(edited.uploads.values())).data
    assert [nearest(c) for c in tile_colours(redrawn, 2)] == [1, 0]

    # /move 2 1 puts it back, and answers with a fresh board.
    bot.push(command_update(bot.chat, bot.user, "/move", "2", "1"))
    moved = await bot.wait_for("sendPhoto", count=2)
    assert [nearest(c) for c in tile_colours(moved.uploads["photo"].data, 2)] == [0, 1]

    # /film: the one delivered take, after a clay title card, as a streamable MP4.
    bot.push(command_update(bot.chat, bot.user, "/film"))
    film_call = await bot.wait_for("sendVideo", count=2, timeout=60)
    assert film_call.params["supports_streaming"] is True
    assert "shots: 1" in film_call.params["caption"]
    # The cover is the first kept shot's picture (here its photo: no clay still was made).
    cover = Image.open(io.BytesIO(film_call.uploads["cover"].data)).convert("RGB")
    assert nearest(cover.getpixel((cover.width // 2, cover.height // 2))) == 0
    assert int(film_call.params["width"]) > 0 and int(film_call.params["height"]) > 0
    path = tmp_path / "film.mp4"
    path.write_bytes(film_call.uploads["video"].data)
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        stream = container.streams.video[0]
        seconds = float(stream.duration * stream.time_base)
    assert 6.0 < seconds < 7.5  # a 2 s title card, a 5 s clip, one 0.3 s crossfade
    assert frames > 0
    # The "putting it together" notice is removed once the film is there.
    await bot.wait_for("deleteMessage")

    # /film cut: straight cuts, no title card: just the one 5 s clip.
    bot.push(command_update(bot.chat, bot.user, "/film", "cut"))
    cut_call = await bot.wait_for("sendVideo", count=3, timeout=60)
    assert int(cut_call.params["duration"]) == 5
    assert bot.stub.unanswered_callback_queries() == []


async def test_film_and_board_of_an_empty_project_explain_what_to_do(bot: RunningBot) -> None:
    bot.push(command_update(bot.chat, bot.user, "/board"))
    empty = await bot.wait_for("sendMessage")
    assert "no shots" in empty.params["text"]
    bot.push(command_update(bot.chat, bot.user, "/film"))
    answer = await bot.wait_for("editMessageText")
    assert "No clips yet" in answer.params["text"]
    bot.push(command_update(bot.chat, bot.user, "/move", "x"))
    usage = await bot.wait_for("sendMessage", lambda c: "/move" in c.params["text"], count=1)
    assert "<code>/move 3 1</code>" in usage.params["text"]
