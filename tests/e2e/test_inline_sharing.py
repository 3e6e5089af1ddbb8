"""Inline mode: `@bot words` offers a user their own clips and their groups' clips, never
anyone else's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import (
    RunningBot,
    all_takes_delivered,
    bot_settings,
    start_bot,
    still_first_off,
    stop_bot,
)
from tests.e2e.test_private_chat import button, is_draft
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    group_chat,
    inline_query_update,
    photo_update,
    private_chat,
    private_user,
)


async def clip_in(
    bot: RunningBot, chat: dict, user: dict, photo: bytes, caption: str, count: int
) -> str:
    """A photo, its draft, 🎬 Generate: the delivered clip's file_id."""
    bot.push(photo_update(bot.stub, chat, user, photo, caption=caption))
    draft = bot.sent_message(
        await bot.wait_for(
            "sendMessage", lambda c: is_draft(c) and c.params["chat_id"] == chat["id"]
        )
    )
    bot.push(button_press(user, draft, button(draft, "g")))
    video = await bot.wait_for("sendVideo", count=count, timeout=60)
    return str(bot.sent_message(video)["video"]["file_id"])


async def ask_inline(bot: RunningBot, user: dict[str, Any], query: str, count: int) -> Call:
    bot.push(inline_query_update(user, query))
    return await bot.wait_for("answerInlineQuery", count=count)


def offered(call: Call) -> list[str]:
    return [r["video_file_id"] for r in call.params["results"]]


async def test_inline_results_are_the_users_own_and_their_groups_clips_only(
    bot: RunningBot, city_photo: bytes
) -> None:
    lin, mallory = bot.user, private_user(first_name="Mallory")
    group = group_chat(title="Clay club")
    await still_first_off(bot, group)
    for user in (lin, mallory):
        await still_first_off(bot, private_chat(user))
    bot.push(command_update(bot.chat, lin, "/new", "Harbour"))
    mine = await clip_in(bot, bot.chat, lin, city_photo, "boats glide", 1)
    bot.push(command_update(private_chat(mallory), mallory, "/new", "Market"))
    theirs = await clip_in(bot, private_chat(mallory), mallory, city_photo, "stalls open", 2)
    ours = await clip_in(bot, group, lin, city_photo, "/clay a tram rolls", 3)

    everything = await ask_inline(bot, lin, "", 1)
    assert set(offered(everything)) == {mine, ours}
    assert everything.params["is_personal"] is True
    assert int(everything.params["cache_time"]) <= 10
    [first] = [r for r in everything.params["results"] if r["video_file_id"] == mine]
    assert first["type"] == "video" and "Harbour" in first["title"]

    assert offered(await ask_inline(bot, lin, "HARB", 2)) == [mine]
    # Mallory's project by its exact title: nothing of hers, and a button to make a clip.
    market = await ask_inline(bot, lin, "Market", 3)
    assert offered(market) == [] and market.params["button"]["start_parameter"] == "inline"
    assert offered(await ask_inline(bot, mallory, "", 4)) == [theirs]  # not the group's
    assert offered(await ask_inline(bot, lin, "%", 5)) == []  # LIKE wildcards are literal

    # Lin leaves the group: its clips are no longer Lin's to share.
    bot.stub.set_member_status(group["id"], lin["id"], "left")
    assert offered(await ask_inline(bot, lin, "", 6)) == [mine]


async def test_someone_not_let_in_gets_an_empty_inline_answer(
    stub: TelegramStub, tmp_path: Path
) -> None:
    friend, stranger = private_user(first_name="Friend"), private_user(first_name="Stranger")
    running = await start_bot(stub, bot_settings(tmp_path, stub, allowed_ids=(friend["id"],)))
    try:
        refused = await ask_inline(running, stranger, "", 1)
        assert refused.params["results"] == [] and refused.params["is_personal"] is True
        assert stub.calls("getChatMember") == []  # refused before anything was looked up
        allowed = await ask_inline(running, friend, "", 2)
        assert allowed.params["results"] == [] and "button" in allowed.params
    finally:
        await stop_bot(running)


async def test_a_sent_film_is_offered_first_and_only_to_those_who_may_see_it(
    bot: RunningBot, city_photo: bytes
) -> None:
    lin, mallory = bot.user, private_user(first_name="Mallory")
    await still_first_off(bot, bot.chat)
    bot.push(command_update(bot.chat, lin, "/new", "Harbour"))
    clip = await clip_in(bot, bot.chat, lin, city_photo, "boats glide", 1)
    await all_takes_delivered(bot)
    bot.push(command_update(bot.chat, lin, "/film"))
    film_sent = await bot.wait_for("sendVideo", count=2, timeout=90)
    film = str(bot.sent_message(film_sent)["video"]["file_id"])
    assert film != clip

    answer = await ask_inline(bot, lin, "harbour", 1)
    assert offered(answer) == [film, clip]  # the finished film first
    first = answer.params["results"][0]
    assert first["id"].startswith("film-") and "Harbour" in first["title"]
    assert offered(await ask_inline(bot, mallory, "", 2)) == []  # never someone else's film
