"""A vertical project, from the chat and from the command line, on offline providers: a
landscape photo is cut to 9:16 (and the chat is shown the cut), the clips are 9:16 and so
is the film; the shape is chosen on the project's card too, and a project whose shots
have another shape is refused on the command line."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.domain.aspect import matching_aspect
from bot.media.probe import probe_mp4
from bot.media.sample import sample_photo
from tests.e2e.conftest import RunningBot, all_takes_delivered
from tests.e2e.test_private_chat import button, buttons, draft_for_photo, generate, is_draft
from tests.fakes.updates import (
    album_updates,
    button_press,
    command_update,
    group_chat,
    photo_update,
    private_user,
)
from tests.integration.test_cli import claymate


def clip_of(tmp_path: Path, call_uploads: dict, name: str) -> Path:  # type: ignore[type-arg]
    path = tmp_path / name
    path.write_bytes(call_uploads["video"].data)
    return path


async def test_a_vertical_project_gives_vertical_clips_and_a_vertical_film(
    bot: RunningBot, tmp_path: Path
) -> None:
    bot.push(command_update(bot.chat, bot.user, "/new", "Vertical"))
    await bot.wait_for("sendMessage")
    bot.push(command_update(bot.chat, bot.user, "/aspect", "9:16"))
    chosen = await bot.wait_for("sendMessage", count=2)
    assert "9:16" in chosen.params["text"] and "Vertical" in chosen.params["text"]
    marked = [b["text"] for row in chosen.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "• ▯ 9:16" in marked

    landscape = sample_photo(width=1280, height=720)
    _, draft = await draft_for_photo(bot, landscape, "Boats glide on the river")
    # The cut is shown before the draft: what the clips will show.
    shown = await bot.wait_for("sendPhoto")
    picture = shown.uploads["photo"].data
    with Image.open(io.BytesIO(picture)) as cut:
        assert matching_aspect(*cut.size) == "9:16"
    assert "cropped" in shown.params["caption"]
    first = clip_of(tmp_path, (await generate(bot, draft)).uploads, "one.mp4")
    facts = probe_mp4(first)
    assert facts.width < facts.height and matching_aspect(facts.width, facts.height) == "9:16"

    bot.push(
        photo_update(
            bot.stub, bot.chat, bot.user, sample_photo(width=600, height=600), caption="Lanterns"
        )
    )
    second = bot.sent_message(await bot.wait_for("sendMessage", is_draft, count=2))
    bot.push(button_press(bot.user, second, button(second, "g")))
    await bot.wait_for("sendVideo", count=2, timeout=60)
    await all_takes_delivered(bot)

    bot.push(command_update(bot.chat, bot.user, "/film"))
    film_call = await bot.wait_for("sendVideo", count=3, timeout=90)
    film = probe_mp4(clip_of(tmp_path, film_call.uploads, "film.mp4"))
    assert film.width < film.height and matching_aspect(film.width, film.height) == "9:16"


async def test_a_group_photo_is_cut_to_the_groups_project_shape(bot: RunningBot) -> None:
    # In a group the sender is recorded by the handler, not the gate: the shape the photo
    # is cut to comes with that record, and is the group's project's, not a member's own.
    group, alice = group_chat(title="Clay club"), private_user(first_name="Alice")
    bot.push(command_update(group, alice, "/aspect", "9:16"))
    await bot.wait_for("sendMessage", lambda c: "9:16" in c.params.get("text", ""))
    bot.push(command_update(bot.chat, bot.user, "/aspect", "1:1"))  # a private project
    await bot.wait_for("sendMessage", lambda c: "1:1" in c.params.get("text", ""))
    bot.push(
        photo_update(
            bot.stub, group, alice, sample_photo(width=1280, height=720), caption="/clay boats"
        )
    )
    shown = await bot.wait_for("sendPhoto")
    assert shown.params["chat_id"] == group["id"]
    with Image.open(io.BytesIO(shown.uploads["photo"].data)) as cut:
        assert matching_aspect(*cut.size) == "9:16"


async def test_the_shape_is_chosen_on_the_project_card_and_old_shots_keep_theirs(
    bot: RunningBot,
) -> None:
    bot.push(command_update(bot.chat, bot.user, "/new", "Square later"))
    await bot.wait_for("sendMessage")
    await draft_for_photo(bot, sample_photo(width=800, height=600), "A tram turns the corner")
    assert not bot.stub.calls("sendPhoto")  # no shape chosen: the photo is left as it came

    bot.push(command_update(bot.chat, bot.user, "/projects"))
    listing = bot.sent_message(
        await bot.wait_for(
            "sendMessage", lambda c: any(d.startswith("p:") for d in buttons(c.params))
        )
    )
    opening = next(d for d in buttons(listing) if d.startswith("p:"))
    bot.push(button_press(bot.user, listing, opening))
    card_call = await bot.wait_for("editMessageText", lambda c: "each photo" in c.params["text"])
    card = bot.sent_message(card_call)
    square = next(d for d in buttons(card) if d.startswith("ar:") and d.endswith(":1:1"))

    bot.push(button_press(bot.user, card, square))
    answer = await bot.wait_for("answerCallbackQuery", lambda c: "1:1" in c.params.get("text", ""))
    assert "keep their shape" in answer.params["text"]  # the tram shot stays 4:3
    edited = await bot.wait_for("editMessageText", lambda c: "Shape: 1:1" in c.params["text"])
    marked = [b["text"] for row in edited.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "• ◻ 1:1" in marked

    bot.push(
        photo_update(
            bot.stub, bot.chat, bot.user, sample_photo(width=800, height=600), caption="A cat"
        )
    )
    shown = await bot.wait_for("sendPhoto")
    with Image.open(io.BytesIO(shown.uploads["photo"].data)) as cut:
        assert cut.width == cut.height


async def test_the_command_line_makes_a_vertical_clip_and_film_and_refuses_mixing(
    tmp_path: Path,
) -> None:
    photo = tmp_path / "wide.jpg"
    sample_photo(photo, width=800, height=450)
    made = claymate(tmp_path, "make", str(photo), "Boats glide", "--project", "Tall",
                    "--aspect", "9:16")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "cropped" in made.stdout
    clip = next(line for line in made.stdout.splitlines() if line.startswith("clip: "))
    facts = probe_mp4(Path(clip.removeprefix("clip: ").split("  (")[0]))
    assert facts.width < facts.height and matching_aspect(facts.width, facts.height) == "9:16"
    # A second shot takes the project's shape without being told again.
    again = claymate(tmp_path, "make", str(photo), "Lanterns", "--project", "Tall")
    assert again.returncode == 0, again.stderr

    out = tmp_path / "film.mp4"
    film = claymate(tmp_path, "film", "Tall", "--out", str(out))
    assert film.returncode == 0, film.stderr
    facts = probe_mp4(out)
    assert facts.width < facts.height and matching_aspect(facts.width, facts.height) == "9:16"

    mixed = claymate(tmp_path, "make", str(photo), "Trams", "--project", "Tall",
                     "--aspect", "1:1")  # fmt: skip
    assert mixed.returncode == 2
    assert "Tall" in mixed.stderr and "9:16" in mixed.stderr and "--project" in mixed.stderr
    wrong = claymate(tmp_path, "make", str(photo), "Trams", "--aspect", "4:3")
    assert wrong.returncode == 2 and "--aspect" in wrong.stderr


async def test_a_drafts_settings_offer_the_shape_and_say_this_shot_keeps_its_own(
    bot: RunningBot,
) -> None:
    _, draft = await draft_for_photo(bot, sample_photo(width=800, height=600), "A ferry")
    bot.push(button_press(bot.user, draft, button(draft, "s")))
    opened = await bot.wait_for("editMessageReplyMarkup")
    rows = opened.params["reply_markup"]["inline_keyboard"]
    shape_row = next(row for row in rows if row[0]["callback_data"].startswith("ad:"))
    assert [b["text"] for b in shape_row] == ["▭ 16:9", "▯ 9:16", "◻ 1:1"]  # none chosen yet

    bot.push(button_press(bot.user, draft, shape_row[1]["callback_data"]))
    answer = await bot.wait_for(
        "answerCallbackQuery", lambda c: "9:16" in c.params.get("text", "")
    )
    assert "1 shot(s) already in it keep their shape" in answer.params["text"]
    shown = await bot.wait_for(
        "editMessageText",
        lambda c: "• ▯ 9:16" in str(c.params.get("reply_markup")),
    )
    assert "<blockquote>" in shown.params["text"]  # still the draft, its settings open


async def test_an_album_in_a_square_project_says_its_photos_were_cropped(
    bot: RunningBot,
) -> None:
    bot.push(command_update(bot.chat, bot.user, "/aspect", "1:1"))
    await bot.wait_for("sendMessage")
    photos = [sample_photo(width=800, height=600), sample_photo(width=600, height=900)]
    for update in album_updates(bot.stub, bot.chat, bot.user, photos, "boats at dusk"):
        bot.push(update)
    answer = await bot.wait_for("sendMessage", lambda c: "Added 2 shots" in c.params["text"])
    assert "cropped to the project's 1:1" in answer.params["text"]
