"""Stories of one user in a private chat, told to the real bot through the Bot API stub."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import RunningBot, bot_settings, start_bot, still_first_off, stop_bot
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import (
    album_updates,
    button_press,
    command_update,
    document_update,
    photo_update,
    text_update,
)


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def button(message: dict[str, Any], action: str) -> str:
    return next(data for data in buttons(message) if data.split(":")[0] == action)


def is_draft(call: Call) -> bool:
    markup = call.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", [])
    return any(b.get("callback_data", "").startswith("g:") for row in rows for b in row)


async def draft_for_photo(bot: RunningBot, photo: bytes, caption: str) -> tuple[dict, dict]:
    """Send a captioned photo; return (the photo message, the draft message)."""
    update = bot.push(photo_update(bot.stub, bot.chat, bot.user, photo, caption=caption))
    call = await bot.wait_for("sendMessage", is_draft)
    return update["message"], bot.sent_message(call)


async def generate(bot: RunningBot, draft: dict[str, Any]) -> Call:
    bot.push(button_press(bot.user, draft, button(draft, "g")))
    return await bot.wait_for("sendVideo", timeout=60)


async def test_start_explains_the_bot_and_registers_commands(bot: RunningBot) -> None:
    bot.push(command_update(bot.chat, bot.user, "/start"))
    call = await bot.wait_for("sendMessage")
    assert "Claymate" in call.params["text"]
    assert call.params["parse_mode"] == "HTML"
    commands = bot.stub.calls("setMyCommands")
    assert {c.params.get("language_code") for c in commands} == {None, "zh"}
    assert "projects" in [c["command"] for c in commands[0].params["commands"]]


async def test_a_captioned_photo_becomes_a_draft_then_a_clip(
    bot: RunningBot, city_photo: bytes
) -> None:
    photo, draft = await draft_for_photo(
        bot, city_photo, "Boats glide on the river, lights flicker on along the Bund"
    )
    # The draft replies to the photo, shows the prompt and offers every action.
    draft_call = bot.stub.calls("sendMessage")[-1]
    assert draft_call.params["reply_parameters"]["message_id"] == photo["message_id"]
    assert "<blockquote>" in draft_call.params["text"]
    assert {d.split(":")[0] for d in buttons(draft)} >= {"g", "r", "n", "s", "x"}

    video = await generate(bot, draft)
    params = video.params
    assert params["supports_streaming"] is True
    assert params["reply_parameters"]["message_id"] == photo["message_id"]
    assert int(params["height"]) == 240 and int(params["width"]) > 0
    assert int(params["duration"]) == 5
    assert "Preview" in params["caption"]
    assert {d.split(":")[0] for d in buttons({"reply_markup": params["reply_markup"]})} == {
        "a",
        "r",
        "k",
    }
    upload = video.uploads["video"]
    assert upload.size > 10_000  # a real MP4, uploaded multipart

    # The status message was shown at once, with ✖, and ends as "done".
    statuses = [
        c for c in bot.stub.calls("sendMessage") if "c:" in str(c.params.get("reply_markup"))
    ]
    assert len(statuses) == 1  # one status message, never a second one from the runner
    status = statuses[0]
    assert len([c for c in bot.stub.calls("sendMessage") if "⏳" in c.params["text"]]) == 1
    final = await bot.wait_for(
        "editMessageText",
        lambda c: (
            c.params["message_id"] == status.result["message_id"] and "✅" in c.params["text"]
        ),
    )
    assert "✅" in final.params["text"]
    assert bot.stub.unanswered_callback_queries() == []


async def test_refining_by_reply_and_undo(bot: RunningBot, city_photo: bytes) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "Clouds drift over the Bund")
    bot.push(text_update(bot.chat, bot.user, "slower, at night", reply_to=draft))
    revised_call = await bot.wait_for("sendMessage", lambda c: "Draft 2" in c.params["text"])
    revised = bot.sent_message(revised_call)
    assert "u:" in " ".join(buttons(revised))  # undo appears once there is history

    bot.push(button_press(bot.user, revised, button(revised, "u")))
    undone = await bot.wait_for("editMessageText", lambda c: "Draft 1" in c.params["text"])
    assert undone.params["message_id"] == revised["message_id"]

    # A second round of refinement, then generating the refined prompt.
    bot.push(text_update(bot.chat, bot.user, "push in slowly", reply_to=revised))
    third = bot.sent_message(
        await bot.wait_for("sendMessage", lambda c: "Draft 3" in c.params["text"])
    )
    assert "push in" in third["text"]


async def test_a_photo_without_caption_asks_for_a_line(bot: RunningBot, city_photo: bytes) -> None:
    bot.push(photo_update(bot.stub, bot.chat, bot.user, city_photo))
    ask_call = await bot.wait_for(
        "sendMessage", lambda c: "d:" in str(c.params.get("reply_markup"))
    )
    ask = bot.sent_message(ask_call)
    bot.push(text_update(bot.chat, bot.user, "a tram rolls past", reply_to=ask))
    draft = await bot.wait_for("sendMessage", is_draft)
    assert "tram" in draft.params["text"].lower()

    # Or: draft from the photo alone.
    bot.push(photo_update(bot.stub, bot.chat, bot.user, city_photo))
    ask2 = bot.sent_message(
        await bot.wait_for(
            "sendMessage", lambda c: "d:" in str(c.params.get("reply_markup")), count=2
        )
    )
    bot.push(button_press(bot.user, ask2, button(ask2, "d")))
    edited = await bot.wait_for("editMessageText", lambda c: "Draft 1" in c.params["text"])
    assert edited.params["message_id"] == ask2["message_id"]


async def test_an_image_sent_as_a_file_works_like_a_photo(
    bot: RunningBot, city_photo: bytes
) -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(city_photo)).save(buffer, "PNG")
    bot.push(
        document_update(
            bot.stub,
            bot.chat,
            bot.user,
            buffer.getvalue(),
            "Boats glide",
            file_name="bund.png",
            mime_type="image/png",
        )
    )
    draft = await bot.wait_for("sendMessage", is_draft)
    assert "Draft 1" in draft.params["text"]


async def test_an_album_is_answered_in_one_message(bot: RunningBot, city_photo: bytes) -> None:
    photos = [city_photo, city_photo, city_photo]
    for update in album_updates(bot.stub, bot.chat, bot.user, photos, "boats glide at dusk"):
        bot.push(update)
    answer = await bot.wait_for("sendMessage", lambda c: "Added 3 shots" in c.params["text"])
    opened = bot.sent_message(answer)
    await_more = [c for c in bot.stub.calls("sendMessage") if "Added" in c.params["text"]]
    assert len(await_more) == 1
    # Each shot opens as its own draft.
    bot.push(button_press(bot.user, opened, buttons(opened)[1]))
    draft = await bot.wait_for("sendMessage", is_draft)
    assert "shot 2" in draft.params["text"]


async def test_answers_stay_in_their_forum_topic(bot: RunningBot, city_photo: bytes) -> None:
    group = {"id": -1001234567890, "type": "supergroup", "title": "Studio", "is_forum": True}
    await still_first_off(bot, group)  # the draft is found by its 🎬 Generate button
    update = photo_update(
        bot.stub,
        group,
        bot.user,
        city_photo,
        caption="/clay steam rises from the noodle stall",  # in a group: addressed to the bot
        thread_id=77,
        is_topic_message=True,
    )
    bot.push(update)
    draft = await bot.wait_for("sendMessage", is_draft)
    assert draft.params["message_thread_id"] == 77


async def test_a_queued_take_can_be_cancelled(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    # Offline rendering paused, so the take waits in the queue.
    bot = await start_bot(stub, bot_settings(tmp_path, stub, offline_max_concurrent=0))
    try:
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")
        bot.push(button_press(bot.user, draft, button(draft, "g")))
        status_call = await bot.wait_for(
            "sendMessage", lambda c: "c:" in str(c.params.get("reply_markup"))
        )
        status = bot.sent_message(status_call)
        await bot.wait_for(
            "editMessageText",
            lambda c: "ahead" in c.params["text"] or "Queued" in c.params["text"],
        )
        bot.push(button_press(bot.user, status, button(status, "c")))
        await bot.wait_for("editMessageText", lambda c: "Cancelled" in c.params["text"])
        assert not stub.calls("sendVideo")
    finally:
        await stop_bot(bot)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"%PDF-1.7 not a picture at all", "doesn't look like a picture"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "damaged or incomplete"),
    ],
)
async def test_bad_files_get_specific_messages(
    bot: RunningBot, payload: bytes, expected: str
) -> None:
    bot.push(document_update(bot.stub, bot.chat, bot.user, payload, "x", file_name="x.jpg"))
    call = await bot.wait_for("sendMessage")
    assert expected in call.params["text"]


async def test_a_too_small_photo_is_refused(bot: RunningBot) -> None:
    small = io.BytesIO()
    Image.new("RGB", (200, 150), "orange").save(small, "JPEG")
    bot.push(photo_update(bot.stub, bot.chat, bot.user, small.getvalue(), caption="x"))
    call = await bot.wait_for("sendMessage")
    assert "200×150" in call.params["text"]


async def test_a_non_image_document_is_refused(bot: RunningBot) -> None:
    bot.push(
        document_update(
            bot.stub,
            bot.chat,
            bot.user,
            b"hello",
            None,
            file_name="notes.txt",
            mime_type="text/plain",
        )
    )
    call = await bot.wait_for("sendMessage")
    assert "doesn't look like a picture" in call.params["text"]


async def test_projects_list_opens_and_resends_a_clip_by_file_id(
    bot: RunningBot, city_photo: bytes
) -> None:
    bot.push(command_update(bot.chat, bot.user, "/new", "Shanghai", "in", "clay"))
    await bot.wait_for("sendMessage", lambda c: "Shanghai in clay" in c.params["text"])
    _, draft = await draft_for_photo(bot, city_photo, "boats glide")
    video = await generate(bot, draft)
    await bot.wait_for("editMessageText", lambda c: "✅" in c.params["text"])
    file_id = video.result["video"]["file_id"]

    bot.push(command_update(bot.chat, bot.user, "/projects"))
    listing = bot.sent_message(
        await bot.wait_for("sendMessage", lambda c: "Your projects" in c.params["text"])
    )
    assert "1 shots · 1 clips" in listing["text"]
    bot.push(button_press(bot.user, listing, button(listing, "p")))
    opened_call = await bot.wait_for(
        "editMessageText", lambda c: "Shanghai in clay" in c.params["text"]
    )
    opened = bot.sent_message(opened_call)
    bot.push(button_press(bot.user, opened, button(opened, "v")))
    resent = await bot.wait_for("sendVideo", count=2)
    assert resent.params["video"] == file_id  # by file_id: no upload
    assert not resent.uploads


async def test_flood_control_is_waited_out(bot: RunningBot) -> None:
    bot.stub.fail_next("sendMessage", error_code=429, retry_after=1, times=1)
    bot.push(command_update(bot.chat, bot.user, "/help"))
    calls = await bot.wait_for("sendMessage", count=2, timeout=15)
    assert calls.ok and "Claymate" in calls.params["text"]


async def test_stale_and_foreign_buttons_get_a_polite_answer(
    bot: RunningBot, city_photo: bytes
) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "boats glide")
    bot.push(button_press(bot.user, draft, "g:999999"))
    answer = await bot.wait_for("answerCallbackQuery", lambda c: c.params.get("show_alert"))
    assert "no longer available" in answer.params["text"]
    bot.push(button_press(bot.user, draft, "nonsense"))
    await bot.wait_for("answerCallbackQuery", count=2)
    assert bot.stub.unanswered_callback_queries() == []


async def test_a_double_tapped_generate_makes_one_take(bot: RunningBot, city_photo: bytes) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "boats glide")
    data = button(draft, "g")
    bot.push(button_press(bot.user, draft, data))
    bot.push(button_press(bot.user, draft, data))
    await bot.wait_for("sendVideo", timeout=60)
    answers = await bot.wait_for("answerCallbackQuery", count=2)
    assert answers is not None
    assert len(bot.stub.calls("sendVideo")) == 1
    notices = [c.params.get("text") or "" for c in bot.stub.calls("answerCallbackQuery")]
    assert any("already being generated" in n for n in notices)


async def test_the_token_never_appears_in_logs(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_bot(stub, bot_settings(tmp_path, stub))
    try:
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")
        await generate(bot, draft)
    finally:
        await stop_bot(bot)
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert stub.token not in text
    assert stub.token.split(":", 1)[1] not in text
    assert "update " in caplog.text  # one line per handled update was logged


async def test_a_camera_chosen_in_settings_is_written_into_the_prompt_and_undo_restores_it(
    bot: RunningBot, city_photo: bytes
) -> None:
    _, draft = await draft_for_photo(bot, city_photo, "Boats glide on the river")
    assert "The camera tilts slowly upwards." not in draft["text"]
    old_camera = next(line for line in draft["text"].split(". ") if "The camera" in line)

    bot.push(button_press(bot.user, draft, button(draft, "s")))
    opened = await bot.wait_for("editMessageReplyMarkup")
    choices = {"reply_markup": opened.params["reply_markup"]}
    tilt = next(data for data in buttons(choices) if data.endswith("camera_move=tilt_up"))
    bot.push(button_press(bot.user, draft, tilt))
    moved = await bot.wait_for("editMessageText", lambda c: "Draft 2" in c.params["text"])
    assert "The camera tilts slowly upwards." in moved.params["text"]
    assert old_camera not in moved.params["text"]  # one move, the chosen one

    settings_open = {"reply_markup": moved.params["reply_markup"]}
    bot.push(button_press(bot.user, draft, button(settings_open, "b")))
    back = await bot.wait_for("editMessageReplyMarkup", lambda c: "u:" in str(c.params))
    back_markup = {"reply_markup": back.params["reply_markup"]}
    bot.push(button_press(bot.user, draft, button(back_markup, "u")))
    undone = await bot.wait_for("editMessageText", lambda c: "Draft 1" in c.params["text"])
    assert old_camera in undone.params["text"]
    assert "The camera tilts slowly upwards." not in undone.params["text"]
