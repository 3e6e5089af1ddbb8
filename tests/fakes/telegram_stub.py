"""A local Telegram Bot API server, so tests can run the real python-telegram-bot Application.

Tests point PTB at `stub.base_url` / `stub.base_file_url` (or our settings at `stub.api_root`),
push updates with `stub.push_update(...)` and assert on the calls the bot made. The stub answers
like Telegram does, down to the error texts bots branch on ("message is not modified", "retry
after", "bot was blocked by the user"), because a fake that is kinder than Telegram hides bugs.

It runs in a background thread (http.server), not in the test's event loop: the Application
polls it with long polling from that loop, and a blocking getUpdates must never stall the loop.
Every call is checked against the Bot API spec when the spec is available; problems go to
`spec_violations` rather than failing the request, because the real API ignores unknown
parameters and a test should see all of them at the end, not only the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import itertools
import json
import mimetypes
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message as _MimeHeaders
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from .bot_api_spec import (
    BotApiSpec,
    EntityParseError,
    RenderedText,
    check_call,
    check_limits,
    load_spec,
    render_text,
    utf16_len,
)

if TYPE_CHECKING:
    from telegram.ext import Application, ApplicationBuilder

DEFAULT_TOKEN: Final = "123456789:AAEclaymate-test-token-for-the-local-stub"
BOT_USERNAME: Final = "claymate_test_bot"
BOT_FIRST_NAME: Final = "Claymate"
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024  # getFile refuses bigger files on the cloud API
PHOTO_SIZES: Final = (90, 320, 800, 1280)  # the side lengths Telegram makes for a photo

NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MEMBER_STATUSES: Final = frozenset(
    {"creator", "administrator", "member", "restricted", "left", "kicked"}
)

# Message ids are shared by the factories and the stub, so a user's message and the bot's
# replies never collide in one chat, and both increase like Telegram's do.
_ids_lock = threading.Lock()
_message_ids = itertools.count(1001)
_file_counter = itertools.count(1)
_FILE_ID_PREFIXES: Final = {
    "photo": ("AgACAgIAAxkBAAI", "AQAD"),
    "video": ("BAACAgIAAxkBAAI", "AgAD"),
    "document": ("BQACAgIAAxkBAAI", "AgAD"),
    "animation": ("CgACAgIAAxkBAAI", "AgAD"),
    "audio": ("CQACAgIAAxkBAAI", "AgAD"),
}


def next_message_id() -> int:
    """A fresh message id, increasing across the whole test session."""
    with _ids_lock:
        return next(_message_ids)


def new_file_id(kind: str = "document") -> tuple[str, str]:
    """A (file_id, file_unique_id) pair shaped like Telegram's for this kind of file."""
    prefix, unique_prefix = _FILE_ID_PREFIXES.get(kind, _FILE_ID_PREFIXES["document"])
    with _ids_lock:
        n = next(_file_counter)
    return f"{prefix}{n:08d}-{kind}", f"{unique_prefix}{n:08d}"


class ApiError(Exception):
    """A Telegram error answer; raised inside the stub's method handlers."""

    def __init__(
        self, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters or {})

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class Upload:
    """One multipart file part, as PTB uploaded it."""

    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Call:
    """One request the bot made, with its decoded parameters and the stub's answer."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    token: str
    uploads: dict[str, Upload] = field(default_factory=dict)
    http_method: str = "POST"
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        return self.response.get("description")


@dataclass
class StoredFile:
    """A file the stub can serve: registered by a test or uploaded by the bot."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    media: dict[str, Any] | None = None  # the object messages show (video, document...)

    def as_file(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class _Failure:
    error_code: int
    description: str
    parameters: dict[str, Any]
    when: Callable[[Mapping[str, Any]], bool] | None


_FAILURE_DESCRIPTIONS: Final = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_CHAT_KEYS: Final = ("id", "type", "title", "username", "first_name", "last_name", "is_forum")
_USER_KEYS: Final = (
    "id",
    "is_bot",
    "first_name",
    "last_name",
    "username",
    "language_code",
    "is_premium",
)
_MEDIA_KEYS: Final = ("photo", "video", "document", "animation", "audio")
_UPDATE_KINDS: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    "poll",
    "poll_answer",
    "pre_checkout_query",
    "shipping_query",
)

# Without the spec a form value's type is a guess: PTB JSON-encodes everything but strings, so
# "42" may be an int or a text. These names are never free text or never numbers.
_FALLBACK_INT_PARAMS: Final = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "user_id",
        "message_thread_id",
        "direct_messages_topic_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "duration",
        "width",
        "height",
        "cache_time",
        "until_date",
        "max_connections",
        "start_timestamp",
        "video_start_timestamp",
    }
)
_FALLBACK_TEXT_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "description",
        "short_description",
        "name",
        "title",
        "quote",
        "query",
        "url",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "parse_mode",
        "action",
        "language_code",
        "secret_token",
        "custom_title",
        "business_connection_id",
        "message_effect_id",
        "emoji",
    }
)
_INT_RE = re.compile(r"-?\d+")

_AUTO: Any = object()


class TelegramStub:
    """A Bot API server on 127.0.0.1 that records calls and answers like Telegram.

    Use it as a context manager (`with TelegramStub() as stub:`) or call start()/stop().
    Safe to use from any thread; the async helpers never block the event loop.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        spec: BotApiSpec | None = _AUTO,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        strict_replies: bool = False,
    ) -> None:
        self.token = token
        self.spec: BotApiSpec | None = load_spec() if spec is _AUTO else spec
        self.strict_replies = strict_replies
        head = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(head) if head.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.spec_violations: list[str] = []
        self.server_errors: list[str] = []
        self.downloads: list[str] = []
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000_001
        self._acknowledged_offset = 0
        self._poll_generation = 0
        self._webhook: dict[str, Any] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._holds: dict[str, threading.Event] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._photo_groups: dict[str, list[dict[str, Any]]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._member_status: dict[tuple[int, int], str] = {}
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._pre_checkouts: dict[str, bool] = {}  # id -> answered
        self._charges: dict[str, dict[str, Any]] = {}  # charge id -> user id, refunded
        self._media_groups = itertools.count(13_000_000_000_000_001)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, Upload]], Any]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setMyDescription": self._true,
            "setMyShortDescription": self._true,
            "setMyName": self._true,
            "setChatMenuButton": self._true,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendVideo": self._send_video,
            "sendDocument": self._send_document,
            "sendAnimation": self._send_animation,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageMedia": self._edit_message_media,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "setMessageReaction": self._true,
            "pinChatMessage": self._true,
            "unpinChatMessage": self._true,
            "leaveChat": self._true,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getFile": self._get_file,
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "refundStarPayment": self._refund_star_payment,
        }
        self._method_index = {name.lower(): name for name in self._handlers}
        if self.spec is not None:
            self._method_index.update({name.lower(): name for name in self.spec.methods})

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("TelegramStub is already running")
        self._closing = False
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stub = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"telegram-stub-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def hold(self, method: str) -> threading.Event:
        """Carry out calls to `method` at once but answer them only once the event is set.

        For crash tests: the bot can be killed after Telegram did the work and before the
        bot heard back, the one window no bot can see into.
        """
        release = threading.Event()
        self._holds[self.canonical(method)] = release
        return release

    def stop(self) -> None:
        """Stop serving, wake long pollers, close the socket and join every stub thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        for release in self._holds.values():
            release.set()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        server.shutdown()
        server.server_close()
        server.join_workers(timeout=5)
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("TelegramStub is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def api_root(self) -> str:
        """What TELEGRAM_API_URL holds: our code appends /bot and /file/bot itself."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(): PTB appends the token."""
        return f"{self.api_root}/bot"

    @property
    def base_file_url(self) -> str:
        """For ApplicationBuilder().base_file_url(): PTB appends the token."""
        return f"{self.api_root}/file/bot"

    def application_builder(self) -> ApplicationBuilder:
        """An ApplicationBuilder already pointed at this stub with its token."""
        from telegram.ext import Application

        return (
            Application.builder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    @property
    def supported_methods(self) -> list[str]:
        """The Bot API methods this stub answers; anything else gets Telegram's 404."""
        return sorted(self._handlers)

    # --- recorded calls -------------------------------------------------------------------

    def canonical(self, method: str) -> str:
        """The Bot API spelling of a method name; the real API ignores case."""
        return self._method_index.get(method.lower(), method)

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            if method is None:
                return list(self._calls)
            name = self.canonical(method)
            return [c for c in self._calls if c.method == name]

    def last(self, method: str) -> Call:
        found = self.calls(method)
        if not found:
            raise LookupError(f"no {method} call; calls so far: {self._summary()}")
        return found[-1]

    def clear(self) -> None:
        """Forget recorded calls, violations and downloads (updates, files, messages stay)."""
        with self._cond:
            self._calls.clear()
            self.spec_violations.clear()
            self.server_errors.clear()
            self.downloads.clear()

    def _matching(self, method: str, predicate: Callable[[Call], bool] | None) -> list[Call]:
        name = self.canonical(method)
        return [c for c in self._calls if c.method == name and (predicate is None or predicate(c))]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Block until `count` matching calls were made; returns all matching calls."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._matching(method, predicate)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._wait_message(method, count, timeout, found))
                self._cond.wait(remaining)

    async def wait_for_async(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - same signature as wait_for, on purpose
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """wait_for for async tests: polls, so the Application keeps running meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                found = self._matching(method, predicate)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(self._wait_message(method, count, timeout, found))
            await asyncio.sleep(0.01)

    def _wait_message(self, method: str, count: int, timeout: float, found: list[Call]) -> str:
        return (
            f"expected {count} {self.canonical(method)} call(s) within {timeout}s, "
            f"got {len(found)}; calls so far: {self._summary()}"
        )

    def _summary(self) -> str:
        with self._cond:
            names = [c.method for c in self._calls]
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        return ", ".join(f"{n}×{k}" for n, k in counts.items()) or "none"

    def assert_clean(self) -> None:
        """Fail if any call broke the spec or the stub itself hit an error."""
        problems = [*self.spec_violations, *self.server_errors]
        assert not problems, "Bot API problems:\n" + "\n".join(problems)

    # --- updates --------------------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; assigns update_id when absent. Returns the update."""
        u = copy.deepcopy(dict(update))
        with self._cond:
            if "update_id" not in u:
                u["update_id"] = self._next_update_id
            elif u["update_id"] < self._next_update_id:
                raise ValueError(
                    f"update_id {u['update_id']} is not above the last one "
                    f"({self._next_update_id - 1}): Telegram's ids only increase"
                )
            self._next_update_id = u["update_id"] + 1
            self._remember_update(u)
            self._updates.append(u)
            self._cond.notify_all()
        return copy.deepcopy(u)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet acknowledged by a getUpdates offset."""
        with self._cond:
            return copy.deepcopy(self._updates)

    @property
    def acknowledged_offset(self) -> int:
        """The highest offset a getUpdates call confirmed: updates below it are consumed."""
        with self._cond:
            return self._acknowledged_offset

    def is_acknowledged(self, update_id: int) -> bool:
        return update_id < self.acknowledged_offset

    def wait_acknowledged(self, update_id: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._acknowledged_offset <= update_id:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"update {update_id} was not acknowledged in {timeout}s")
                self._cond.wait(remaining)

    def unanswered_callback_queries(self) -> list[str]:
        """Ids of pushed callback queries the bot never answered (Telegram shows a spinner)."""
        with self._cond:
            return [qid for qid, answered in self._callback_queries.items() if not answered]

    def _remember_update(self, update: dict[str, Any]) -> None:
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if kind in update:
                self._remember_message(update[kind])
        query = update.get("callback_query")
        if query:
            self._callback_queries.setdefault(str(query["id"]), False)
            self._remember_user(query.get("from"))
            if isinstance(query.get("message"), dict) and "chat" in query["message"]:
                self._remember_chat(query["message"]["chat"])
        for kind in ("my_chat_member", "chat_member"):
            if kind in update:
                self._remember_chat(update[kind].get("chat"))
                self._remember_user(update[kind].get("from"))
        checkout = update.get("pre_checkout_query")
        if checkout:
            self._pre_checkouts.setdefault(str(checkout["id"]), False)
            self._remember_user(checkout.get("from"))
        paid = (update.get("message") or {}).get("successful_payment")
        if paid:  # Telegram knows the charge from now on: refundStarPayment may name it
            payer = update["message"].get("from", {}).get("id")
            charge = str(paid["telegram_payment_charge_id"])
            self._charges.setdefault(charge, {"user_id": payer, "refunded": False})

    def _remember_message(self, message: dict[str, Any]) -> None:
        self._remember_chat(message.get("chat"))
        self._remember_user(message.get("from"))
        chat_id = message.get("chat", {}).get("id")
        if isinstance(chat_id, int) and isinstance(message.get("message_id"), int):
            self._messages[(chat_id, message["message_id"])] = copy.deepcopy(message)

    def _remember_chat(self, chat: Any) -> None:
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            self._chats[chat["id"]] = {k: chat[k] for k in _CHAT_KEYS if k in chat}

    def _remember_user(self, user: Any) -> None:
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            self._users[user["id"]] = {k: user[k] for k in _USER_KEYS if k in user}

    # --- state a test arranges ------------------------------------------------------------

    def add_file(
        self,
        file_id: str,
        data: bytes,
        file_path: str | None = None,
        *,
        file_unique_id: str | None = None,
    ) -> dict[str, Any]:
        """Make a file available to getFile and the file URL; returns the File object."""
        with self._cond:
            stored = self._store_file(file_id, file_unique_id, data, file_path)
        return stored.as_file()

    def register_photo(
        self, data: bytes, *, width: int | None = None, height: int | None = None
    ) -> list[dict[str, Any]]:
        """Register a photo as Telegram would: several sizes, the original bytes as the largest.

        Smaller sizes are real downscaled JPEGs when Pillow can read the bytes, otherwise
        placeholder bytes, so a handler that picks the wrong size never gets the original.
        """
        dims = _image_size(data) or (width or 1280, height or 960)
        w, h = dims
        longest = max(w, h)
        sizes: list[dict[str, Any]] = []
        with self._cond:
            for target in PHOTO_SIZES:
                if target >= longest:
                    break
                tw, th = max(1, round(w * target / longest)), max(1, round(h * target / longest))
                file_id, unique = new_file_id("photo")
                thumb = _thumbnail(data, target)
                if thumb is None:
                    thumb = (tw, th, f"placeholder {tw}x{th} for {unique}".encode())
                stored = self._store_file(file_id, unique, thumb[2], None, suffix=".jpg")
                sizes.append(_photo_size(stored, thumb[0], thumb[1]))
            file_id, unique = new_file_id("photo")
            stored = self._store_file(file_id, unique, data, None, suffix=".jpg")
            sizes.append(_photo_size(stored, w, h))
            for size in sizes:
                self._photo_groups[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def register_document(
        self,
        data: bytes,
        *,
        file_name: str = "photo.jpg",
        mime_type: str | None = None,
    ) -> dict[str, Any]:
        """Register a file a user sends "as a file"; returns the Document object."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        file_id, unique = new_file_id("document")
        with self._cond:
            stored = self._store_file(file_id, unique, data, None, suffix=_suffix(file_name))
            stored.media = {
                "file_id": file_id,
                "file_unique_id": unique,
                "file_name": file_name,
                "mime_type": mime,
                "file_size": len(data),
            }
        return copy.deepcopy(stored.media)

    def webhook_failing(self, message: str = "Connection refused") -> None:
        """Report in getWebhookInfo that delivering to the webhook just failed with `message`."""
        with self._cond:
            self._webhook["last_error_date"] = int(time.time())
            self._webhook["last_error_message"] = message

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for (chat, user); "member" unless set."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        with self._cond:
            self._member_status[(chat_id, user_id)] = status

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (optionally only those `when` accepts)
        with a Telegram error: 429 "retry after" by default, or any 400/403/409/5xx.
        """
        parameters: dict[str, Any] = {}
        if error_code == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
            description = description or (
                "Bad Request: group chat was upgraded to a supergroup chat"
            )
        if description is None:
            description = _FAILURE_DESCRIPTIONS.get(error_code, f"Error {error_code}")
        failure = _Failure(error_code, description, parameters, when)
        with self._cond:
            queue = self._failures.setdefault(self.canonical(method), deque())
            queue.extend(copy.copy(failure) for _ in range(times))

    # --- stored messages ------------------------------------------------------------------

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message as Telegram holds it now (after edits), or None if unknown or deleted."""
        with self._cond:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found else None

    def messages(self, chat_id: int | None = None, *, from_bot: bool | None = None) -> list[dict]:
        """Known messages in id order; from_bot=True for what the bot sent."""
        with self._cond:
            found = [
                m
                for (cid, _), m in sorted(self._messages.items())
                if (chat_id is None or cid == chat_id)
                and (
                    from_bot is None
                    or (m.get("from", {}).get("id") == self.bot_user["id"]) == from_bot
                )
            ]
            return copy.deepcopy(found)

    def file_bytes(self, file_id: str) -> bytes:
        with self._cond:
            return self._files[file_id].data

    # --- HTTP plumbing --------------------------------------------------------------------

    def _handle_http(self, handler: _Handler) -> None:
        """Entry point of a server thread; never raises (errors become server_errors)."""
        try:
            url = urlsplit(handler.path)
            body = handler.read_body()
            if url.path.startswith("/file/bot"):
                self._serve_file(handler, url.path[len("/file/bot") :])
                return
            if not url.path.startswith("/bot") or "/" not in url.path[4:]:
                handler.send_json(404, ApiError(404, "Not Found").payload())
                return
            token, _, method = url.path[4:].partition("/")
            params, uploads = self._parse_params(
                method, handler.headers.get("Content-Type", ""), body, url.query
            )
            status, payload = self._dispatch(
                unquote(token), method, params, uploads, handler.command
            )
            if (release := self._holds.get(self.canonical(method))) is not None:
                release.wait(timeout=60)  # the call is done and recorded; the answer waits
            handler.send_json(status, payload)
        except Exception as exc:  # the server thread must survive anything
            self.server_errors.append(f"{handler.command} {handler.path}: {exc!r}")
            with contextlib.suppress(Exception):
                handler.send_json(
                    500, ApiError(500, f"Internal Server Error: stub failed: {exc!r}").payload()
                )

    def _serve_file(self, handler: _Handler, rest: str) -> None:
        token, _, file_path = rest.partition("/")
        file_path = unquote(file_path)
        if unquote(token) != self.token:
            handler.send_json(401, ApiError(401, "Unauthorized").payload())
            return
        with self._cond:
            stored = self._files_by_path.get(file_path)
            if stored is not None:
                self.downloads.append(file_path)
        if stored is None:
            handler.send_json(404, ApiError(404, "Not Found").payload())
            return
        handler.send_bytes(200, stored.data, "application/octet-stream")

    def _parse_params(
        self, method: str, content_type: str, body: bytes, query: str
    ) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        for key, raw in parse_qsl(query, keep_blank_values=True):
            params[key] = self._decode(method, key, raw)
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime == "application/json" and body.strip():
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            params.update(decoded)
        elif mime == "application/x-www-form-urlencoded":
            for key, raw in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                params[key] = self._decode(method, key, raw)
        elif mime == "multipart/form-data":
            fields, uploads = _parse_multipart(body, content_type)
            for key, raw in fields.items():
                params[key] = self._decode(method, key, raw)
        return params, uploads

    def _decode(self, method: str, name: str, raw: str) -> Any:
        """Form values are strings; PTB JSON-encodes everything that is not a string."""
        types = self.spec.param_types(method, name) if self.spec else None
        if types is None:
            if name in _FALLBACK_TEXT_PARAMS:
                return raw
            if name in _FALLBACK_INT_PARAMS and _INT_RE.fullmatch(raw):
                return int(raw)
            if raw in ("true", "false"):
                return raw == "true"
            return _json_or_raw(raw)
        if any(t.startswith("Array of ") or t not in _SCALARS for t in types):
            if raw[:1] in "[{":
                return _json_or_raw(raw)
        if "Integer" in types and _INT_RE.fullmatch(raw):
            return int(raw)
        if "Float" in types:
            with contextlib.suppress(ValueError):
                return float(raw)
        if "Boolean" in types and raw in ("true", "false"):
            return raw == "true"
        return raw

    def _dispatch(
        self,
        token: str,
        raw_method: str,
        params: dict[str, Any],
        uploads: dict[str, Upload],
        http_method: str,
    ) -> tuple[int, dict[str, Any]]:
        method = self.canonical(raw_method)
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            self._validate(method, params, uploads)
            handler = self._handlers.get(method)
            with self._cond:
                failure = self._take_failure(method, params)
            if failure is not None:
                raise ApiError(failure.error_code, failure.description, failure.parameters)
            if handler is None:
                if self.spec is not None and self.spec.canonical_method(method):
                    self.server_errors.append(
                        f"{method} is a Bot API method the stub does not implement yet"
                    )
                raise ApiError(404, "Not Found")
            with self._cond:
                result = handler(params, uploads)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, payload = exc.error_code, exc.payload()
        call = Call(
            method=method,
            params=params,
            files={name: u.data for name, u in uploads.items()},
            token=token,
            uploads=uploads,
            http_method=http_method,
            status=status,
            response=payload,
            at=time.time(),
        )
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        return status, payload

    def _validate(self, method: str, params: dict[str, Any], uploads: dict[str, Upload]) -> None:
        if self.spec is not None:
            problems = check_call(self.spec, method, params, uploads)
        else:
            problems = check_limits(method, params, uploads)
        if problems:
            with self._cond:
                self.spec_violations.extend(problems)

    def _take_failure(self, method: str, params: Mapping[str, Any]) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        for failure in list(queue):
            if failure.when is None or failure.when(params):
                queue.remove(failure)
                return failure
        return None

    # --- method handlers (called with self._cond held) ------------------------------------

    def _true(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        return True

    def _get_me(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, p: dict[str, Any], uploads: dict[str, Upload]) -> list[dict]:
        if self._webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset") or 0)
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        timeout = max(float(p.get("timeout") or 0), 0.0)
        allowed = p.get("allowed_updates") or None
        self._poll_generation += 1
        generation = self._poll_generation
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._acknowledged_offset = max(self._acknowledged_offset, offset)
        elif offset < 0:
            self._updates = self._updates[offset:]
            if self._updates:
                first = self._updates[0]["update_id"]
                self._acknowledged_offset = max(self._acknowledged_offset, first)
        self._cond.notify_all()  # wakes a superseded long poll and wait_acknowledged()
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self._updates if allowed is None or _kind(u) in allowed][:limit]
            if ready or self._closing:
                return copy.deepcopy(ready)
            if generation != self._poll_generation:
                raise ApiError(409, _FAILURE_DESCRIPTIONS[409])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._cond.wait(remaining)

    def _set_webhook(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": str(p.get("url") or ""),
            "max_connections": int(p.get("max_connections") or 40),
            "allowed_updates": p.get("allowed_updates"),
            "secret_token": p.get("secret_token"),
        }
        return True

    def _delete_webhook(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {}
        return True

    def _get_webhook_info(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict:
        info: dict[str, Any] = {
            "url": self._webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if info["url"]:
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook.get("last_error_message"):
                info["last_error_date"] = self._webhook["last_error_date"]
                info["last_error_message"] = self._webhook["last_error_message"]
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info

    def _commands_key(self, p: Mapping[str, Any]) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)

    def _set_my_commands(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(p)] = copy.deepcopy(commands)
        return True

    def _delete_my_commands(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _get_my_commands(self, p: dict[str, Any], uploads: dict[str, Upload]) -> list[dict]:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    def _send_chat_action(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        self._chat(p)
        if p.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _answer_callback_query(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        if self._callback_queries.get(query_id):
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is "
                "invalid",
            )
        self._callback_queries[query_id] = True
        return True

    def _send_invoice(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        """An invoice message. For Stars (XTR) Telegram wants no provider token (or an
        empty one) and exactly one price; amounts are whole, positive Stars."""
        chat = self._chat(p)
        for name, low, high in (("title", 1, 32), ("description", 1, 255)):
            value = p.get(name)
            if not isinstance(value, str) or not low <= len(value) <= high:
                raise ApiError(400, f"Bad Request: invoice {name} must be {low}-{high} characters")
        payload = p.get("payload")
        if not isinstance(payload, str) or not 1 <= len(payload.encode()) <= 128:
            raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
        prices = p.get("prices")
        if not isinstance(prices, list) or not prices:
            raise ApiError(400, "Bad Request: prices must be non-empty")
        for price in prices:
            amount = price.get("amount") if isinstance(price, dict) else None
            if not isinstance(amount, int) or not isinstance(price.get("label"), str):
                raise ApiError(400, "Bad Request: can't parse prices JSON object")
        currency = p.get("currency")
        if currency == "XTR":
            if p.get("provider_token"):
                raise ApiError(400, "Bad Request: provider_token must be empty for Stars")
            if len(prices) != 1:
                raise ApiError(400, "Bad Request: Stars invoices take exactly one price")
            if not 1 <= prices[0]["amount"] <= 10_000:
                raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        elif not p.get("provider_token"):
            raise ApiError(400, "Bad Request: PAYMENT_PROVIDER_INVALID")
        invoice = {
            "title": p["title"],
            "description": p["description"],
            "start_parameter": str(p.get("start_parameter") or ""),
            "currency": currency,
            "total_amount": sum(price["amount"] for price in prices),
        }
        return self._new_message(chat, p, {"invoice": invoice})

    def _answer_pre_checkout_query(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        query_id = str(p.get("pre_checkout_query_id", ""))
        if query_id not in self._pre_checkouts or self._pre_checkouts[query_id]:
            raise ApiError(400, "Bad Request: QUERY_ID_INVALID")
        if p.get("ok") is not True and not p.get("error_message"):
            raise ApiError(400, "Bad Request: error_message is required when ok is false")
        self._pre_checkouts[query_id] = True
        return True

    def _refund_star_payment(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        charge = self._charges.get(str(p.get("telegram_payment_charge_id", "")))
        if charge is None or charge["user_id"] != p.get("user_id"):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if charge["refunded"]:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        charge["refunded"] = True
        return True

    def unanswered_pre_checkouts(self) -> list[str]:
        """Ids of pushed pre-checkout queries the bot never answered (the payment fails)."""
        with self._cond:
            return [qid for qid, answered in self._pre_checkouts.items() if not answered]

    def refunded_charges(self) -> list[str]:
        """Charge ids refundStarPayment has refunded."""
        with self._cond:
            return [charge for charge, state in self._charges.items() if state["refunded"]]

    def _send_message(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        text = p.get("text")
        if not isinstance(text, str) or not text:
            raise ApiError(400, "Bad Request: message text is empty")
        rendered = self._render(text, p.get("parse_mode"), p.get("entities"))
        if not rendered.text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(rendered.text) > 4096:  # Telegram counts UTF-16 units
            raise ApiError(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": rendered.text}
        if rendered.entities:
            content["entities"] = list(rendered.entities)
        if isinstance(p.get("link_preview_options"), dict):
            content["link_preview_options"] = p["link_preview_options"]
        return self._new_message(chat, p, content)

    def _send_photo(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        content = {"photo": self._photo_input(p.get("photo"), uploads.get("photo"))}
        return self._new_message(chat, p, {**content, **self._caption(p)})

    def _send_video(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        video = self._media_input("video", p.get("video"), uploads.get("video"), p)
        return self._new_message(chat, p, {"video": video, **self._caption(p)})

    def _send_document(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        document = self._media_input("document", p.get("document"), uploads.get("document"), p)
        return self._new_message(chat, p, {"document": document, **self._caption(p)})

    def _send_animation(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        animation = self._media_input("animation", p.get("animation"), uploads.get("animation"), p)
        # Telegram shows an animation as both `animation` and `document`.
        document = {
            k: animation[k]
            for k in ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
            if k in animation
        }
        content = {"animation": animation, "document": document, **self._caption(p)}
        return self._new_message(chat, p, content)

    def _send_media_group(self, p: dict[str, Any], uploads: dict[str, Upload]) -> list[dict]:
        chat = self._chat(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media items, must be 2-10")
        group_id = str(next(self._media_groups))
        messages = []
        for item in media:
            content = self._input_media(item, uploads)
            content["media_group_id"] = group_id
            messages.append(self._new_message(chat, p, content))
        return messages

    def _copy_message(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        source = self._find_message(p.get("from_chat_id"), p.get("message_id"))
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        content = {k: copy.deepcopy(v) for k, v in source.items() if k in _CONTENT_KEYS}
        if "caption" in p:
            content.pop("caption_entities", None)
            content.update(self._caption(p))
        return {"message_id": self._new_message(chat, p, content)["message_id"]}

    def _forward_message(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        source = self._find_message(p.get("from_chat_id"), p.get("message_id"))
        if source is None:
            raise ApiError(400, "Bad Request: message to forward not found")
        content = {k: copy.deepcopy(v) for k, v in source.items() if k in _CONTENT_KEYS}
        if "from" in source:
            origin = {"type": "user", "sender_user": source["from"], "date": source["date"]}
        else:
            origin = {"type": "chat", "sender_chat": source["chat"], "date": source["date"]}
        content["forward_origin"] = origin
        return self._new_message(chat, p, content)

    def _edit_target(self, p: dict[str, Any]) -> dict[str, Any] | None:
        if p.get("inline_message_id"):
            return None
        if p.get("message_id") is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        message = self._find_message(p.get("chat_id"), p.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit_message_text(self, p: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        text = p.get("text")
        if not isinstance(text, str) or not text:
            raise ApiError(400, "Bad Request: message text is empty")
        rendered = self._render(text, p.get("parse_mode"), p.get("entities"))
        if utf16_len(rendered.text) > 4096:  # Telegram counts UTF-16 units
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._inline_markup(p)
        message = self._edit_target(p)
        if message is None:
            return True
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        new = {"text": rendered.text, "entities": list(rendered.entities), "reply_markup": markup}
        return self._apply_edit(message, new)

    def _edit_message_caption(self, p: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        caption = self._caption(p)
        markup = self._inline_markup(p)
        message = self._edit_target(p)
        if message is None:
            return True
        if not any(k in message for k in _MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        new = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities", []),
            "reply_markup": markup,
        }
        return self._apply_edit(message, new)

    def _edit_message_reply_markup(self, p: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        markup = self._inline_markup(p)
        message = self._edit_target(p)
        if message is None:
            return True
        return self._apply_edit(message, {"reply_markup": markup})

    def _edit_message_media(self, p: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        media = p.get("media")
        if not isinstance(media, dict):
            raise ApiError(400, "Bad Request: can't parse InputMedia JSON object")
        content = self._input_media(media, uploads)
        markup = self._inline_markup(p)
        message = self._edit_target(p)
        if message is None:
            return True
        if not any(k in message for k in _MEDIA_KEYS):
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        for key in (*_MEDIA_KEYS, "caption", "caption_entities"):
            message.pop(key, None)
        message.update(content)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _apply_edit(self, message: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Telegram refuses an edit that changes nothing; bots must treat that as success."""
        if all(_normalised(message.get(k)) == _normalised(v) for k, v in new.items()):
            raise ApiError(400, NOT_MODIFIED)
        for key, value in new.items():
            _set_or_drop(message, key, value)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _delete_message(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        chat_id = self._chat(p)["id"]
        if self._messages.pop((chat_id, p.get("message_id")), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _delete_messages(self, p: dict[str, Any], uploads: dict[str, Upload]) -> bool:
        chat_id = self._chat(p)["id"]
        for message_id in p.get("message_ids") or []:
            self._messages.pop((chat_id, message_id), None)
        return True

    def _get_chat(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        chat = self._chat(p)
        user_id = p.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if user_id == self.bot_user["id"]:
            user = dict(self.bot_user)
        else:
            user = self._users.get(user_id) or {
                "id": user_id,
                "is_bot": False,
                "first_name": "User",
            }
        status = self._member_status.get((chat["id"], user_id), "member")
        return _chat_member(status, dict(user))

    def _get_file(self, p: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        stored = self._files.get(str(p.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.as_file()

    # --- helpers for handlers -------------------------------------------------------------

    def _chat(self, p: Mapping[str, Any], key: str = "chat_id") -> dict[str, Any]:
        return copy.deepcopy(self._chat_by_id(p.get(key)))

    def _chat_by_id(self, chat_id: Any) -> dict[str, Any]:
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, str):
            if chat_id.startswith("@"):
                for chat in self._chats.values():
                    if chat.get("username", "").lower() == chat_id[1:].lower():
                        return chat
                raise ApiError(400, "Bad Request: chat not found")
            if not _INT_RE.fullmatch(chat_id):
                raise ApiError(400, "Bad Request: chat not found")
            chat_id = int(chat_id)
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id not in self._chats:
            if chat_id > 0:
                user = self._users.get(chat_id, {})
                chat = {"id": chat_id, "type": "private", "first_name": "User"}
                chat.update(
                    {k: user[k] for k in ("first_name", "last_name", "username") if k in user}
                )
            else:
                chat = {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
            self._chats[chat_id] = chat
        return self._chats[chat_id]

    def _find_message(self, chat_id: Any, message_id: Any) -> dict[str, Any] | None:
        chat = self._chat_by_id(chat_id)
        if not isinstance(message_id, int):
            return None
        return self._messages.get((chat["id"], message_id))

    def _new_message(
        self, chat: dict[str, Any], p: Mapping[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next_message_id(),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
        }
        thread_id = p.get("message_thread_id")
        if isinstance(thread_id, int):
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        reply = self._reply_to(chat, p)
        if reply is not None:
            message["reply_to_message"] = reply
            if isinstance(p.get("reply_parameters"), dict) and p["reply_parameters"].get("quote"):
                message["quote"] = {"text": p["reply_parameters"]["quote"], "position": 0}
        message.update(content)
        markup = self._inline_markup(p)
        if markup is not None:
            message["reply_markup"] = markup
        if p.get("has_spoiler"):
            message["has_media_spoiler"] = True
        if p.get("show_caption_above_media"):
            message["show_caption_above_media"] = True
        if p.get("protect_content"):
            message["has_protected_content"] = True
        self._messages[(chat["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _reply_to(self, chat: dict[str, Any], p: Mapping[str, Any]) -> dict[str, Any] | None:
        params = p.get("reply_parameters")
        if not isinstance(params, dict):
            legacy = p.get("reply_to_message_id")
            params = {"message_id": legacy} if isinstance(legacy, int) else None
        if not params:
            return None
        target_chat = self._chat_by_id(params.get("chat_id", chat["id"]))
        target = self._messages.get((target_chat["id"], params.get("message_id")))
        if target is not None:
            reply = copy.deepcopy(target)
            reply.pop("reply_to_message", None)  # Telegram nests only one level
            return reply
        if params.get("allow_sending_without_reply"):
            return None
        if self.strict_replies:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {
            "message_id": params.get("message_id"),
            "chat": target_chat,
            "date": int(time.time()),
        }

    def _render(self, text: str, parse_mode: Any, entities: Any) -> RenderedText:
        try:
            return render_text(
                text,
                parse_mode if isinstance(parse_mode, str) else None,
                entities if isinstance(entities, list) else None,
            )
        except EntityParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None

    def _caption(self, p: Mapping[str, Any]) -> dict[str, Any]:
        caption = p.get("caption")
        if not isinstance(caption, str) or not caption:
            return {}
        rendered = self._render(caption, p.get("parse_mode"), p.get("caption_entities"))
        if utf16_len(rendered.text) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        out: dict[str, Any] = {"caption": rendered.text}
        if rendered.entities:
            out["caption_entities"] = list(rendered.entities)
        return out

    def _inline_markup(self, p: Mapping[str, Any]) -> dict[str, Any] | None:
        """Only inline keyboards are part of a Message; check what Telegram checks in them."""
        markup = p.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, 'Bad Request: field "inline_keyboard" must be of type Array')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button")
                data = button.get("callback_data")
                if data is not None and not (
                    isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64
                ):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return copy.deepcopy(markup)

    def _photo_input(self, value: Any, upload: Upload | None) -> list[dict[str, Any]]:
        if upload is not None:
            return self.register_photo(upload.data)
        if isinstance(value, str):
            if value in self._photo_groups:
                return copy.deepcopy(self._photo_groups[value])
            if value.startswith(("http://", "https://")):
                return self.register_photo(f"downloaded from {value}".encode())
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _media_input(
        self, kind: str, value: Any, upload: Upload | None, p: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A video/document/animation object for an upload, a known file_id, or a URL."""
        if upload is not None:
            return self._describe(kind, upload.data, upload.filename, upload.content_type, p)
        if isinstance(value, str) and value in self._files:
            stored = self._files[value]
            media = stored.media or {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data),
            }
            return _complete_media(kind, media, p)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            # No network here: Telegram would fetch the URL; a placeholder stands in for it.
            return self._describe(kind, f"downloaded from {value}".encode(), None, None, p)
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _describe(
        self,
        kind: str,
        data: bytes,
        file_name: str | None,
        mime: str | None,
        p: Mapping[str, Any],
    ) -> dict[str, Any]:
        file_id, unique = new_file_id(kind)
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(file_name or "")[0] or _DEFAULT_MIME.get(kind)
        stored = self._store_file(file_id, unique, data, None, suffix=_suffix(file_name or ""))
        media: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique}
        if file_name:
            media["file_name"] = file_name
        elif kind == "document":
            media["file_name"] = "file"
        if mime:
            media["mime_type"] = mime
        media["file_size"] = len(data)
        stored.media = _complete_media(kind, media, p)
        return copy.deepcopy(stored.media)

    def _input_media(self, item: Any, uploads: dict[str, Upload]) -> dict[str, Any]:
        if not isinstance(item, dict) or item.get("type") not in (
            "photo",
            "video",
            "document",
            "animation",
            "audio",
        ):
            raise ApiError(400, "Bad Request: can't parse InputMedia JSON object")
        kind, value = item["type"], item.get("media")
        upload = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if kind == "photo":
            content: dict[str, Any] = {"photo": self._photo_input(value, upload)}
        else:
            content = {kind: self._media_input(kind, value, upload, item)}
        content.update(self._caption(item))
        return content

    def _store_file(
        self,
        file_id: str,
        file_unique_id: str | None,
        data: bytes,
        file_path: str | None,
        *,
        suffix: str = "",
    ) -> StoredFile:
        unique = file_unique_id or f"AgAD{zlib.crc32(file_id.encode()):010d}"
        if file_path is None:
            folder = _FOLDERS.get(file_id[:4], "documents")
            ext = suffix or _sniff_suffix(data)
            file_path = f"{folder}/file_{len(self._files_by_path) + 1}{ext}"
        stored = StoredFile(file_id, unique, bytes(data), file_path)
        self._files[file_id] = stored
        self._files_by_path[file_path] = stored
        return stored


_SCALARS: Final = frozenset({"Integer", "Float", "String", "Boolean", "True", "InputFile"})
_CONTENT_KEYS: Final = frozenset(
    {"text", "entities", "caption", "caption_entities", *_MEDIA_KEYS, "link_preview_options"}
)
_FOLDERS: Final = {"AgAC": "photos", "BAAC": "videos", "BQAC": "documents", "CgAC": "animations"}
_DEFAULT_MIME: Final = {"video": "video/mp4", "animation": "video/mp4", "audio": "audio/mpeg"}


def _complete_media(kind: str, media: Mapping[str, Any], p: Mapping[str, Any]) -> dict[str, Any]:
    """Add what the spec requires for this kind (a Video needs width, height and duration)."""
    out = dict(media)
    if kind in ("video", "animation"):
        out.setdefault("width", _int_or(p.get("width"), 1280))
        out.setdefault("height", _int_or(p.get("height"), 720))
        out.setdefault("duration", _int_or(p.get("duration"), 5))
    elif kind == "audio":
        out.setdefault("duration", _int_or(p.get("duration"), 5))
    return out


def _kind(update: Mapping[str, Any]) -> str:
    return next((k for k in _UPDATE_KINDS if k in update), "")


def _json_or_raw(raw: str) -> Any:
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _normalised(value: Any) -> Any:
    """Absent, None and empty lists are the same message content."""
    return value if value not in (None, [], {}) else None


def _set_or_drop(message: dict[str, Any], key: str, value: Any) -> None:
    if _normalised(value) is None:
        message.pop(key, None)
    else:
        message[key] = value


def _suffix(file_name: str) -> str:
    dot = file_name.rfind(".")
    return file_name[dot:].lower() if dot > 0 else ""


def _sniff_suffix(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data[4:8] == b"ftyp":
        return ".mp4"
    return ""


def _photo_size(stored: StoredFile, width: int, height: int) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "width": width,
        "height": height,
    }


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image Pillow can read: use the defaults
        return None


def _thumbnail(data: bytes, side: int) -> tuple[int, int, bytes] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((side, side))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
            return image.size[0], image.size[1], out.getvalue()
    except Exception:  # not an image Pillow can read: use a placeholder
        return None


def _chat_member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    if status == "creator":
        return {"status": status, "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = dict.fromkeys(
            (
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
                "can_pin_messages",
            ),
            True,
        )
        return {
            "status": status,
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_promote_members": False,
            **rights,
        }
    if status == "restricted":
        flags = dict.fromkeys(
            (
                "can_send_messages",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_send_polls",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_react_to_messages",
                "can_edit_tag",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_manage_topics",
            ),
            False,
        )
        return {"status": status, "user": user, "is_member": True, "until_date": 0, **flags}
    if status == "kicked":
        return {"status": status, "user": user, "until_date": 0}
    return {"status": status, "user": user}


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Upload]]:
    """multipart/form-data without the deprecated cgi module; keeps file bytes exact."""
    headers = _MimeHeaders()
    headers["content-type"] = content_type
    boundary = headers.get_param("boundary")
    if not isinstance(boundary, str):
        raise ValueError("multipart body without a boundary")
    fields: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, data = part.partition(b"\r\n\r\n")
        part_headers = _MimeHeaders()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                part_headers[name.strip()] = value.strip()
        name = part_headers.get_param("name", header="content-disposition")
        filename = part_headers.get_param("filename", header="content-disposition")
        if not isinstance(name, str):
            continue
        if filename is not None:
            uploads[name] = Upload(
                field_name=name,
                filename=filename if isinstance(filename, str) else None,
                content_type=part_headers.get_content_type()
                if "content-type" in part_headers
                else None,
                data=data,
            )
        else:
            fields[name] = data.decode("utf-8")
    return fields, uploads


class _Server(ThreadingHTTPServer):
    """Names and tracks its worker threads, so stop() can join them and tests can check."""

    daemon_threads = True
    request_queue_size = 256  # hundreds of simulated users connect at once in bench/
    stub: TelegramStub

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._workers: set[threading.Thread] = set()
        self._workers_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._work,
            args=(request, client_address),
            name=f"telegram-stub-worker-{self.server_address[1]}",
            daemon=True,
        )
        with self._workers_lock:
            self._workers.add(worker)
        worker.start()

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._workers_lock:
                self._workers.discard(threading.current_thread())

    def join_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._workers_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.stub.server_errors.append(f"connection from {client_address}: {exc!r}")


class _Handler(BaseHTTPRequestHandler):
    """One request per connection (HTTP/1.0), so no worker lingers on an idle keep-alive."""

    protocol_version = "HTTP/1.0"
    server_version = "TelegramStub/1.0"
    timeout = 10
    server: _Server

    def do_POST(self) -> None:
        self.server.stub._handle_http(self)

    do_GET = do_POST

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        self.send_bytes(status, json.dumps(payload).encode("utf-8"), "application/json")

    def send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (ConnectionError, TimeoutError):
            pass  # the client gave up (PTB cancels a long poll when it stops): nothing to do

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the calls are recorded; stderr noise would only hide test output


@contextlib.asynccontextmanager
async def polling(app: Application, *, poll_timeout: int = 1) -> AsyncIterator[Application]:
    """Run an Application with long polling for the duration of a block, then shut it down.

    `poll_timeout` is the getUpdates long-poll time: short, so stopping never waits long.
    """
    async with app:
        await app.start()
        assert app.updater is not None, "build the Application with an Updater"
        await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)
        try:
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
