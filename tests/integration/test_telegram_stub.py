"""The Bot API stub, proven with the real python-telegram-bot: if these pass, an e2e test that
uses the stub fails for the bot's reasons, not the harness's.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes import updates as tg
from tests.fakes.bot_api_spec import (
    BotApiSpec,
    EntityParseError,
    check_call,
    check_limits,
    check_object,
    check_result,
    default_spec_path,
    load_spec,
    render_text,
)
from tests.fakes.telegram_stub import (
    DEFAULT_TOKEN,
    NOT_MODIFIED,
    TelegramStub,
    polling,
)

STUB_THREAD_PREFIX = "telegram-stub"


def _stub_threads(port: int | None = None) -> list[threading.Thread]:
    """The stub's threads (of the one on `port`): named so leaks are attributable."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith(STUB_THREAD_PREFIX) and (port is None or t.name.endswith(f"-{port}"))
    ]


def _require_spec() -> BotApiSpec:
    spec = load_spec()
    if spec is None:
        pytest.skip(f"Bot API spec not found at {default_spec_path()}")
    return spec


def _jpeg(width: int = 1600, height: int = 1200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 80)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    with TelegramStub() as running:
        port = running.port
        yield running
    assert not _stub_threads(port), "the stub left threads behind"


@pytest.fixture(params=["spec", "no-spec"])
def any_stub(request: pytest.FixtureRequest) -> Iterator[TelegramStub]:
    """The stub with and without the spec: its behaviour must not depend on it."""
    spec = _require_spec() if request.param == "spec" else None
    with TelegramStub(spec=spec) as running:
        yield running


@pytest.fixture
async def bot(stub: TelegramStub) -> Any:
    async with Bot(DEFAULT_TOKEN, base_url=stub.base_url, base_file_url=stub.base_file_url) as b:
        yield b


def _api(stub: TelegramStub, method: str, token: str | None = None) -> str:
    return f"{stub.base_url}{token or stub.token}/{method}"


# --- lifecycle ------------------------------------------------------------------------------


def test_urls_follow_ptb_and_settings_conventions() -> None:
    with TelegramStub() as stub:
        root = f"http://127.0.0.1:{stub.port}"
        assert stub.api_root == root
        assert stub.base_url == root + "/bot"
        assert stub.base_file_url == root + "/file/bot"
        app = stub.application_builder().build()
        assert app.bot.base_url == f"{root}/bot{DEFAULT_TOKEN}"
        assert app.bot.base_file_url == f"{root}/file/bot{DEFAULT_TOKEN}"
        port = stub.port
    assert not stub.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    assert not _stub_threads(port)


def test_stop_wakes_a_long_poll_and_joins_every_thread() -> None:
    stub = TelegramStub().start()
    port = stub.port
    answers: list[httpx.Response] = []
    poller = threading.Thread(
        target=lambda: answers.append(
            httpx.post(_api(stub, "getUpdates"), json={"timeout": 30}, timeout=35)
        )
    )
    poller.start()
    time.sleep(0.2)  # let the long poll start waiting
    assert len(_stub_threads(port)) == 2  # the server and the worker holding the long poll
    started = time.monotonic()
    stub.stop()
    poller.join(5)
    assert time.monotonic() - started < 2
    assert answers[0].json() == {"ok": True, "result": []}
    assert not _stub_threads(port)


# --- PTB Application end to end -------------------------------------------------------------


async def test_application_replies_to_a_pushed_message(stub: TelegramStub) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(
            f"echo: {update.message.text}",
            do_quote=True,
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Again", callback_data="a:1")]]
            ),
        )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"args={context.args}")

    app = stub.application_builder().build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    user = tg.private_user(first_name="Ada")
    chat = tg.private_chat(user)

    async with polling(app):
        pushed = stub.push_update(tg.text_update(chat, user, "boats at dusk"))
        [call] = await stub.wait_for_async("sendMessage")
        stub.push_update(tg.command_update(chat, user, "/start", "deep-link"))
        [args_reply] = await stub.wait_for_async(
            "sendMessage", predicate=lambda c: c.params["text"].startswith("args=")
        )

    user_message_id = pushed["message"]["message_id"]
    assert call.params["chat_id"] == user["id"]
    assert call.params["text"] == "echo: boats at dusk"
    assert call.params["reply_parameters"]["message_id"] == user_message_id
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Again", "callback_data": "a:1"}]]
    }
    assert call.result["reply_to_message"]["text"] == "boats at dusk"
    assert call.result["message_id"] > user_message_id
    assert args_reply.params["text"] == "args=['deep-link']"
    [sent, _] = stub.messages(user["id"], from_bot=True)
    assert sent["text"] == "echo: boats at dusk"
    # Stopping the updater confirms what it fetched, so a restart would not see it again.
    assert stub.is_acknowledged(pushed["update_id"])
    assert stub.pending_updates() == []
    assert {"getMe", "deleteWebhook", "getUpdates"} <= {c.method for c in stub.calls()}
    stub.assert_clean()


async def test_button_press_reaches_a_callback_handler_and_is_answered(
    stub: TelegramStub, bot: Bot
) -> None:
    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("On it")
        await update.callback_query.edit_message_text(f"pressed {update.callback_query.data}")

    user = tg.private_user()
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Generate", callback_data="gen:7")]])
    draft = await bot.send_message(user["id"], "Your draft", reply_markup=markup)
    app = stub.application_builder().build()
    app.add_handler(CallbackQueryHandler(pressed))

    async with polling(app):
        sent = stub.message(user["id"], draft.message_id)
        assert sent is not None
        press = stub.push_update(tg.button_press(user, sent, "gen:7"))
        [edit] = await stub.wait_for_async("editMessageText")

    answer = stub.last("answerCallbackQuery")
    assert answer.params == {"callback_query_id": press["callback_query"]["id"], "text": "On it"}
    assert edit.result["text"] == "pressed gen:7"
    assert "reply_markup" not in edit.result  # an edit without markup drops the keyboard
    assert stub.unanswered_callback_queries() == []
    async with httpx.AsyncClient() as client:
        again = await client.post(
            _api(stub, "answerCallbackQuery"),
            json={"callback_query_id": press["callback_query"]["id"]},
        )
    assert again.status_code == 400
    assert "query is too old" in again.json()["description"]
    stub.assert_clean()


async def test_photo_sizes_download_as_the_exact_bytes(stub: TelegramStub) -> None:
    jpeg = _jpeg(1600, 1200)
    received: list[bytes] = []

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        largest = await update.message.photo[-1].get_file()
        received.append(bytes(await largest.download_as_bytearray()))
        await update.message.reply_text("got it")

    app = stub.application_builder().build()
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    user = tg.private_user()
    upd = tg.photo_update(stub, tg.private_chat(user), user, jpeg, caption="a city at dusk")

    async with polling(app):
        stub.push_update(upd)
        await stub.wait_for_async("sendMessage")

    assert received == [jpeg]
    sizes = upd["message"]["photo"]
    assert [max(s["width"], s["height"]) for s in sizes] == [90, 320, 800, 1280, 1600]
    assert sizes[-1]["file_size"] == len(jpeg)
    smallest = stub.file_bytes(sizes[0]["file_id"])
    with Image.open(io.BytesIO(smallest)) as image:
        assert image.size == (90, 68)  # a real thumbnail, not the original
    assert stub.downloads == [stub.last("getFile").result["file_path"]]
    stub.assert_clean()


async def test_get_file_and_download_registered_bytes(stub: TelegramStub, bot: Bot) -> None:
    stub.add_file("doc-1", b"%PDF-1.7 clay", file_path="documents/file_9.pdf")

    file = await bot.get_file("doc-1")

    assert file.file_size == len(b"%PDF-1.7 clay")
    assert await file.download_as_bytearray() == bytearray(b"%PDF-1.7 clay")
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_too_big_file_is_refused_like_the_cloud_api(stub: TelegramStub, bot: Bot) -> None:
    stub.add_file("huge", b"\0" * (20 * 1024 * 1024 + 1))

    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await bot.get_file("huge")


async def test_429_is_retry_after_for_ptb(stub: TelegramStub, bot: Bot) -> None:
    stub.fail_next("sendMessage", retry_after=3)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1, "hello")

    assert "retry in 3 seconds" in str(caught.value).lower()
    failed = stub.last("sendMessage")
    assert failed.status == 429
    assert failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert (await bot.send_message(1, "hello")).text == "hello"


async def test_rate_limiter_waits_out_a_429_and_succeeds(stub: TelegramStub) -> None:
    app = stub.application_builder().rate_limiter(AIORateLimiter(max_retries=1)).build()
    stub.fail_next("sendMessage", retry_after=1)

    async with app:
        started = time.monotonic()
        message = await app.bot.send_message(5, "clip is ready")
        elapsed = time.monotonic() - started

    assert message.text == "clip is ready"
    assert [c.status for c in stub.calls("sendMessage")] == [429, 200]
    assert elapsed >= 1.0


async def test_injected_forbidden_and_bad_request_only_where_asked(
    stub: TelegramStub, bot: Bot
) -> None:
    stub.fail_next("sendMessage", 403, when=lambda p: p["chat_id"] == 7)
    stub.fail_next("sendVideo", 400, "Bad Request: wrong file identifier/HTTP URL specified")

    await bot.send_message(8, "other chats are unaffected")
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(7, "hi")
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_video(7, b"\0\0\0\x18ftypmp42")
    await bot.send_message(7, "the failure was used up")


async def test_edits_answer_like_telegram(stub: TelegramStub, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await bot.send_message(3, "Rendering…", reply_markup=markup)

    with pytest.raises(BadRequest) as same:
        await bot.edit_message_text("Rendering…", 3, sent.message_id, reply_markup=markup)
    edited = await bot.edit_message_text("Done", 3, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", 3, 999_999_999)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(3, sent.message_id, reply_markup=markup)
    without_keyboard = await bot.edit_message_reply_markup(3, sent.message_id)

    assert "not modified" in same.value.message
    assert stub.calls("editMessageText")[0].description == NOT_MODIFIED
    assert isinstance(edited, type(sent)) and edited.text == "Done"
    assert edited.edit_date is not None
    assert not isinstance(without_keyboard, bool) and without_keyboard.reply_markup is None
    assert (stub.message(3, sent.message_id) or {}).get("text") == "Done"


async def test_media_edits_and_deletes(stub: TelegramStub, bot: Bot) -> None:
    photo = await bot.send_photo(3, _jpeg(400, 300), caption="draft")
    text = await bot.send_message(3, "plain")

    with pytest.raises(BadRequest, match="(?i)no text in the message"):
        await bot.edit_message_text("x", 3, photo.message_id)
    with pytest.raises(BadRequest, match="(?i)no caption in the message"):
        await bot.edit_message_caption(3, text.message_id, caption="x")
    recaptioned = await bot.edit_message_caption(3, photo.message_id, caption="final")
    assert not isinstance(recaptioned, bool) and recaptioned.caption == "final"
    assert await bot.delete_message(3, text.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(3, text.message_id)


async def test_send_video_uploads_and_reuses_file_ids(stub: TelegramStub, bot: Bot) -> None:
    clip = b"\0\0\0\x18ftypmp42" + b"\1" * 1000

    first = await bot.send_video(
        -100_123,
        clip,
        caption="Your clip",
        width=720,
        height=1280,
        duration=5,
        supports_streaming=True,
        filename="clip.mp4",
    )
    again = await bot.send_video(-100_123, first.video.file_id)

    upload = stub.calls("sendVideo")[0].uploads["video"]
    assert (upload.filename, upload.size, upload.data) == ("clip.mp4", len(clip), clip)
    assert stub.calls("sendVideo")[0].files == {"video": clip}
    assert first.chat.type == "supergroup"
    assert first.caption == "Your clip"
    video = first.video
    assert (video.width, video.height) == (720, 1280)
    assert stub.calls("sendVideo")[0].result["video"]["duration"] == 5
    assert (video.mime_type, video.file_size, video.file_name) == (
        "video/mp4",
        len(clip),
        "clip.mp4",
    )
    assert again.video.file_id == first.video.file_id
    assert stub.file_bytes(first.video.file_id) == clip
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_video(-100_123, "not-a-file-id")


async def test_media_group_and_documents(stub: TelegramStub, bot: Bot) -> None:
    album = await bot.send_media_group(
        9, [InputMediaPhoto(_jpeg(320, 240), caption="one"), InputMediaPhoto(_jpeg(240, 320))]
    )
    document = await bot.send_document(9, b"hello", filename="notes.txt")

    assert len(album) == 2
    assert album[0].media_group_id == album[1].media_group_id is not None
    assert album[0].caption == "one" and album[1].caption is None
    call = stub.last("sendMediaGroup")
    assert len(call.uploads) == 2 and all(
        u.data.startswith(b"\xff\xd8") for u in call.uploads.values()
    )
    assert document.document.file_name == "notes.txt"
    assert document.document.mime_type == "text/plain"
    stub.assert_clean()


async def test_reply_thread_and_group_fields(stub: TelegramStub, bot: Bot) -> None:
    group = tg.group_chat(title="Clay club", is_forum=True)
    user = tg.private_user()
    incoming = stub.push_update(
        tg.update(message=tg.photo_message(group, user, tg.photo_sizes(), thread_id=77))
    )["message"]

    reply = await bot.send_message(
        group["id"],
        "Draft ready",
        message_thread_id=77,
        reply_to_message_id=incoming["message_id"],
    )

    assert reply.message_thread_id == 77 and reply.is_topic_message
    assert reply.chat.title == "Clay club" and reply.chat.is_forum
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == incoming["message_id"]
    assert reply.reply_to_message.photo[-1].file_id == incoming["photo"][-1]["file_id"]


async def test_chat_member_status_is_configurable(stub: TelegramStub, bot: Bot) -> None:
    stub.set_member_status(-100_5, 42, "administrator")

    admin = await bot.get_chat_member(-100_5, 42)
    member = await bot.get_chat_member(-100_5, 43)
    chat = await bot.get_chat(-100_5)

    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages
    assert isinstance(member, ChatMemberMember) and member.user.id == 43
    assert chat.type == "supergroup"
    with pytest.raises(ValueError):
        stub.set_member_status(-100_5, 42, "owner")


async def test_bot_identity_commands_and_webhook(stub: TelegramStub, bot: Bot) -> None:
    me = await bot.get_me()
    await bot.set_my_commands([("start", "Begin"), ("projects", "Your clips")])
    commands = await bot.get_my_commands()
    await bot.set_webhook("https://example.invalid/hook")
    info = await bot.get_webhook_info()

    assert (me.username, me.is_bot, me.can_join_groups) == ("claymate_test_bot", True, True)
    assert me.can_read_all_group_messages is False and me.supports_inline_queries is False
    assert [c.command for c in commands] == ["start", "projects"]
    assert info.url == "https://example.invalid/hook"
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start-Now", "no capitals or dashes")])
    assert await bot.send_chat_action(1, "upload_video")
    stub.assert_clean()


async def test_formatting_errors_and_length_limits(any_stub: TelegramStub) -> None:
    stub = any_stub
    async with Bot(stub.token, base_url=stub.base_url) as bot:
        html = await bot.send_message(1, "<b>Clay</b> &amp; <i>light</i>", parse_mode="HTML")
        # User text pasted into HTML unescaped: the classic way a bot's reply fails.
        with pytest.raises(
            BadRequest, match='(?i)can\'t parse entities: Unsupported start tag "clay"'
        ):
            await bot.send_message(1, "You asked for: <clay> boats", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(1, "1 < 2", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)Character '.' is reserved"):
            await bot.send_message(1, "Done. Enjoy!", parse_mode="MarkdownV2")
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(1, "x" * 4097)
        with pytest.raises(BadRequest, match="(?i)message caption is too long"):
            await bot.send_photo(1, _jpeg(100, 100), caption="y" * 1025)
        with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                1,
                "pick",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("long", callback_data="p" * 65)]]
                ),
            )

    assert html.text == "Clay & light"
    assert [(e.type, e.offset, e.length) for e in html.entities] == [
        ("bold", 0, 4),
        ("italic", 7, 5),
    ]
    violations = "\n".join(stub.spec_violations)
    assert "sendMessage.text: 4097 characters, over the limit of 4096" in violations
    assert "sendPhoto.caption: 1025 characters, over the limit of 1024" in violations
    assert (
        "sendMessage.reply_markup.inline_keyboard[0][0].callback_data: 65 bytes, over the "
        "limit of 64" in violations
    )


async def test_wrong_token_is_invalid_token(stub: TelegramStub) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("42:WRONG", base_url=stub.base_url):
            pass

    call = stub.last("getMe")
    assert (call.token, call.status, call.response["description"]) == (
        "42:WRONG",
        401,
        "Unauthorized",
    )
    async with httpx.AsyncClient() as client:
        download = await client.get(f"{stub.base_file_url}42:WRONG/photos/file_1.jpg")
    assert download.status_code == 401


# --- the wire: encodings, method names, long polling ---------------------------------------


def test_params_arrive_decoded_from_json_form_and_multipart(stub: TelegramStub) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go:1"}]]}
    httpx.post(_api(stub, "sendMessage"), json={"chat_id": 5, "text": "json"})
    httpx.post(
        _api(stub, "sendMessage"),
        data={"chat_id": "5", "text": "123", "reply_markup": json.dumps(markup)},
    )
    httpx.post(
        _api(stub, "sendDocument"),
        data={"chat_id": "5", "caption": "true"},
        files={"document": ("café.jpg", b"\xff\xd8\r\n--boundary-like\r\n", "image/jpeg")},
    )
    httpx.get(_api(stub, "sendChatAction"), params={"chat_id": "5", "action": "typing"})

    as_json, as_form = stub.calls("sendMessage")
    assert as_json.params == {"chat_id": 5, "text": "json"}
    assert as_form.params == {"chat_id": 5, "text": "123", "reply_markup": markup}
    upload = stub.last("sendDocument")
    assert upload.params == {"chat_id": 5, "caption": "true"}
    assert upload.uploads["document"].filename == "café.jpg"
    assert upload.uploads["document"].content_type == "image/jpeg"
    assert upload.files == {"document": b"\xff\xd8\r\n--boundary-like\r\n"}
    assert upload.result["document"]["mime_type"] == "image/jpeg"
    assert stub.last("sendChatAction").http_method == "GET"
    stub.assert_clean()


def test_method_names_are_case_insensitive_and_unknown_ones_404(stub: TelegramStub) -> None:
    ok = httpx.post(_api(stub, "SENDMESSAGE"), json={"chat_id": 1, "text": "hi"})
    missing = httpx.post(_api(stub, "sendClayFigurine"), json={})

    assert ok.json()["ok"] is True
    assert stub.last("sendmessage").method == "sendMessage"
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_get_updates_long_polls_and_honours_offsets(stub: TelegramStub) -> None:
    first = stub.push_update(tg.text_update(tg.group_chat(), tg.private_user(), "one"))
    second = stub.push_update(tg.text_update(tg.group_chat(), tg.private_user(), "two"))
    url = _api(stub, "getUpdates")

    both = httpx.post(url, json={"offset": 0}).json()["result"]
    only_second = httpx.post(url, json={"offset": first["update_id"] + 1}).json()["result"]
    assert [u["update_id"] for u in both] == [first["update_id"], second["update_id"]]
    assert second["update_id"] == first["update_id"] + 1
    assert [u["message"]["text"] for u in only_second] == ["two"]
    assert stub.acknowledged_offset == first["update_id"] + 1
    assert stub.is_acknowledged(first["update_id"]) and not stub.is_acknowledged(
        second["update_id"]
    )

    # A long poll returns as soon as an update arrives, not at its timeout.
    offset = second["update_id"] + 1
    threading.Timer(
        0.2,
        lambda: stub.push_update(
            tg.button_press(
                tg.private_user(), tg.text_message(tg.group_chat(), tg.private_user(), "m"), "x"
            )
        ),
    ).start()
    started = time.monotonic()
    woken = httpx.post(url, json={"offset": offset, "timeout": 10}, timeout=15).json()["result"]
    assert time.monotonic() - started < 5
    assert "callback_query" in woken[0]

    # Filtered by allowed_updates, an empty long poll ends at its timeout.
    started = time.monotonic()
    empty = httpx.post(
        url, json={"offset": offset, "timeout": 1, "allowed_updates": ["message"]}
    ).json()
    assert empty == {"ok": True, "result": []}
    assert 0.9 <= time.monotonic() - started < 3
    with pytest.raises(ValueError, match="only increase"):
        stub.push_update(
            {"update_id": 1, "message": tg.text_message(tg.group_chat(), tg.private_user(), "old")}
        )


def test_a_second_poller_terminates_the_first_with_409(stub: TelegramStub) -> None:
    url = _api(stub, "getUpdates")
    answers: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: answers.append(httpx.post(url, json={"timeout": 10}, timeout=15))
    )
    first.start()
    time.sleep(0.2)
    httpx.post(url, json={"timeout": 0})
    first.join(5)

    assert answers[0].status_code == 409
    assert "terminated by other getUpdates request" in answers[0].json()["description"]


def test_wait_for_reports_what_was_seen(stub: TelegramStub) -> None:
    httpx.post(_api(stub, "getMe"))

    with pytest.raises(TimeoutError, match=r"expected 1 sendMessage.*got 0.*getMe×1"):
        stub.wait_for("sendMessage", timeout=0.1)
    with pytest.raises(LookupError):
        stub.last("sendMessage")
    assert stub.wait_for("getme")[0].result["username"] == "claymate_test_bot"
    stub.clear()
    assert stub.calls() == []


# --- the spec -------------------------------------------------------------------------------


def test_bogus_parameter_is_a_spec_violation_but_still_answered(stub: TelegramStub) -> None:
    _require_spec()

    answer = httpx.post(_api(stub, "sendMessage"), json={"chat_id": 1, "text": "hi", "foo_bar": 1})

    assert answer.json()["ok"] is True  # Telegram ignores unknown parameters...
    assert stub.spec_violations == ["sendMessage: unknown parameter 'foo_bar'"]  # ...we don't
    with pytest.raises(AssertionError, match="foo_bar"):
        stub.assert_clean()


def test_every_method_the_stub_answers_is_in_the_spec() -> None:
    spec = _require_spec()
    stub = TelegramStub(spec=spec)

    assert [m for m in stub.supported_methods if spec.canonical_method(m) != m] == []


async def test_stub_results_match_the_spec_return_types(stub: TelegramStub, bot: Bot) -> None:
    spec = _require_spec()
    user = tg.private_user()
    stub.push_update(tg.text_update(tg.private_chat(user), user, "hello"))
    photo = tg.photo_update(stub, tg.private_chat(user), user, _jpeg(640, 480))["message"]
    stub.push_update(tg.update(message=photo))
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])

    sent = await bot.send_message(
        user["id"],
        "<b>hi</b>",
        parse_mode="HTML",
        reply_markup=markup,
        reply_to_message_id=photo["message_id"],
    )
    await bot.edit_message_text("bye", user["id"], sent.message_id)
    await bot.send_photo(user["id"], photo["photo"][-1]["file_id"], caption="again")
    video = await bot.send_video(user["id"], b"\0\0\0\x18ftypmp42", caption="clip")
    await bot.edit_message_caption(user["id"], video.message_id, caption="new")
    await bot.send_document(user["id"], b"%PDF", filename="a.pdf")
    await bot.send_animation(user["id"], b"GIF89a", filename="a.gif")
    await bot.send_media_group(user["id"], [InputMediaPhoto(_jpeg(50, 50))] * 2)
    await bot.copy_message(user["id"], user["id"], sent.message_id)
    await bot.forward_message(user["id"], user["id"], photo["message_id"])
    await bot.get_file(photo["photo"][0]["file_id"])
    await bot.get_chat(user["id"])
    for status in ("creator", "administrator", "member", "restricted", "left", "kicked"):
        stub.set_member_status(-100_77, 5, status)
        await bot.get_chat_member(-100_77, 5)
    await bot.get_webhook_info()
    await bot.set_my_commands([("start", "Begin")])
    await bot.get_my_commands()
    await bot.get_updates(timeout=0)

    checked = [c for c in stub.calls() if c.ok]
    assert len(checked) == len(stub.calls()) == 23
    problems = [p for c in checked for p in check_result(spec, c.method, c.result)]
    assert problems == []
    stub.assert_clean()


def test_factories_build_updates_the_spec_accepts() -> None:
    spec = _require_spec()
    user = tg.private_user(username="ada", last_name="L", is_premium=True)
    forum = tg.group_chat(is_forum=True, username="clayclub")
    with TelegramStub(spec=spec) as stub:
        bot_message = stub.push_update(tg.text_update(tg.private_chat(user), user, "hi"))[
            "message"
        ]
        updates = [
            tg.text_update(tg.private_chat(user), user, "hi", reply_to=bot_message),
            tg.command_update(
                forum, user, "/new", "a", "b", bot_username="claymate_test_bot", thread_id=3
            ),
            tg.photo_update(
                stub,
                forum,
                user,
                _jpeg(300, 200),
                caption="c",
                thread_id=3,
                is_topic_message=True,
                reply_to=bot_message,
            ),
            *tg.album_updates(stub, tg.private_chat(user), user, [_jpeg(64, 64)] * 2, "album"),
            tg.document_update(stub, tg.private_chat(user), user, b"\xff\xd8", file_name="x.jpg"),
            tg.update(message=tg.document_message(tg.private_chat(user), user, tg.document())),
            tg.update(
                message=tg.document_message(
                    tg.private_chat(user), user, mime_type="image/png", file_name="x.png"
                )
            ),
            tg.button_press(user, bot_message, "gen:1"),
            tg.bot_added_to_group(forum, user, stub),
            tg.update(
                my_chat_member=tg.chat_member_updated(
                    forum, user, tg.bot_user(), "member", "kicked"
                ),
                update_id=5,
            ),
        ]

    problems = [p for u in updates for p in check_object(spec, "Update", {"update_id": 1, **u})]
    assert problems == []
    for u in updates:
        assert Update.de_json({"update_id": 1, **u}, None) is not None


def test_check_call_walks_nested_objects() -> None:
    spec = _require_spec()
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go", "colour": "red"}]]}

    assert check_call(
        spec, "SendMessage", {"chat_id": 1, "text": "hi", "reply_markup": keyboard}
    ) == [
        "sendMessage.reply_markup.inline_keyboard[0][0]: unknown field 'colour' for "
        "InlineKeyboardButton"
    ]
    assert check_call(spec, "sendMessage", {"chat_id": 1}) == [
        "sendMessage: missing required parameter 'text'"
    ]
    assert check_call(
        spec,
        "sendMessage",
        {
            "chat_id": 1,
            "text": "hi",
            "reply_markup": {"keyboard": [[{"text": "a"}]], "resize": True},
            "reply_parameters": {"message_id": 3, "quote_text": "x"},
            "link_preview_options": {"is_disabled": True},
        },
    ) == [
        "sendMessage.reply_markup: unknown field 'resize' for ReplyKeyboardMarkup",
        "sendMessage.reply_parameters: unknown field 'quote_text' for ReplyParameters",
    ]
    assert check_call(
        spec,
        "setMyCommands",
        {
            "commands": [{"command": "start", "description": "Begin"}],
            "scope": {"type": "chat"},
        },
    ) == ["setMyCommands.scope: missing required field 'chat_id' of BotCommandScopeChat"]
    media_problems = check_call(
        spec,
        "sendMediaGroup",
        {
            "chat_id": 1,
            "media": [{"type": "photo", "media": "attach://a"}, {"type": "sticker"}],
        },
        files=["a"],
    )
    [media_problem] = media_problems  # the valid photo item passes; the list varies by version
    assert media_problem.startswith("sendMediaGroup.media[1]: type='sticker' matches none of")
    assert "InputMediaPhoto" in media_problem
    assert check_call(spec, "sendVideo", {"chat_id": 1}, files=["video"]) == []
    assert check_call(spec, "sendVideo", {"chat_id": 1, "video": "attach://v"}) == [
        "sendVideo.video: 'attach://v' names no uploaded file part"
    ]
    assert check_call(spec, "sendMessage", {"chat_id": "1", "text": 5}) == [
        "sendMessage.text: 5 is not String"
    ]
    assert check_call(spec, "sendClayFigurine", {})[0].startswith("sendClayFigurine: not a Bot")


# --- without the shared spec: loading, limits, formatting ----------------------------------


def test_load_spec_is_none_when_absent_and_follows_the_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAYMATE_BOT_API_SPEC", str(tmp_path / "missing.json"))
    assert load_spec() is None
    assert TelegramStub().spec is None

    mini = {
        "version": "Bot API test",
        "methods": {
            "sendMessage": {
                "name": "sendMessage",
                "returns": ["Message"],
                "fields": [
                    {
                        "name": "chat_id",
                        "types": ["Integer", "String"],
                        "required": True,
                        "description": "",
                    },
                    {
                        "name": "text",
                        "types": ["String"],
                        "required": True,
                        "description": "Text, 1-10 characters",
                    },
                ],
            }
        },
        "types": {},
    }
    (tmp_path / "mini.json").write_text(json.dumps(mini))
    monkeypatch.setenv("CLAYMATE_BOT_API_SPEC", str(tmp_path / "mini.json"))
    spec = load_spec()
    assert spec is not None and spec.version == "Bot API test"
    assert check_call(spec, "sendmessage", {"chat_id": 1, "text": "x" * 11, "parse": 1}) == [
        "sendMessage: unknown parameter 'parse'",
        "sendMessage.text: 11 characters, over the limit of 10 (1-10 characters)",
    ]


def test_check_limits_needs_no_spec() -> None:
    keyboard = {"inline_keyboard": [[{"text": "ok", "callback_data": "é" * 33}]]}
    problems = check_limits(
        "sendMessage",
        {"text": "<b>" + "x" * 4096 + "</b>", "parse_mode": "HTML", "reply_markup": keyboard},
    )

    # 4096 characters after entities parsing is within the limit; 66 bytes of UTF-8 is not.
    assert problems == [
        "sendMessage.reply_markup.inline_keyboard[0][0].callback_data: 66 bytes, over the limit "
        "of 64 (1-64 bytes)"
    ]
    assert check_limits("sendMediaGroup", {"media": [{"type": "photo", "media": "x"}]}) == [
        "sendMediaGroup.media: 1 items, must include 2-10 items"
    ]


def test_render_text_counts_like_telegram() -> None:
    html = render_text(
        '🎬 <a href="https://t.me/x">clip</a> <pre><code class="language-python">x</code></pre>',
        "HTML",
    )
    md = render_text(r"*Clay* \_v2\_ `a.b` [link](https://e.x/a\)b) ||s||", "MarkdownV2")

    assert html.text == "🎬 clip x"
    assert [(e["type"], e["offset"], e["length"]) for e in html.entities] == [
        ("text_link", 3, 4),  # the emoji is two UTF-16 code units
        ("pre", 8, 1),
    ]
    assert html.entities[1]["language"] == "python"
    assert md.text == "Clay _v2_ a.b link s"
    assert [e["type"] for e in md.entities] == ["bold", "code", "text_link", "spoiler"]
    assert md.entities[2]["url"] == "https://e.x/a)b"
    for bad, mode in (("<b>open", "HTML"), ("</i>", "HTML"), ("*open", "MarkdownV2")):
        with pytest.raises(EntityParseError):
            render_text(bad, mode)
    assert render_text("<b>raw</b>", None).text == "<b>raw</b>"
