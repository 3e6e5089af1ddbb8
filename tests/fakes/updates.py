"""Factories for update JSON exactly as Telegram sends it, for tests that read like stories.

    user = private_user(first_name="Ada")
    chat = private_chat(user)
    stub.push_update(photo_update(stub, chat, user, jpeg, caption="boats glide at dusk"))

Field names follow the Bot API types (Update, Message, PhotoSize, Document, CallbackQuery,
Chat, User; the harness tests check them against the spec). Ids increase across a test
session: message ids are shared with the stub, so a user's message and the bot's replies never
collide. Helpers that take a stub register the file bytes with it in the same step, so the bot
can getFile and download exactly what the "user" sent.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .bot_api_spec import utf16_len
from .telegram_stub import (
    BOT_FIRST_NAME,
    BOT_USERNAME,
    DEFAULT_TOKEN,
    new_file_id,
    next_message_id,
)

if TYPE_CHECKING:
    from .telegram_stub import TelegramStub

JSON = dict[str, Any]

_lock = threading.Lock()
_user_ids = itertools.count(510_000_001)
_group_ids = itertools.count(1)
_query_ids = itertools.count(1)


def _next(counter: itertools.count[int]) -> int:
    with _lock:
        return next(counter)


def private_user(
    id: int | None = None,  # noqa: A002 - Telegram's field name
    first_name: str = "Ada",
    *,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "en",
    is_premium: bool | None = None,
) -> JSON:
    """A human User (is_bot false); a fresh id unless given."""
    user: JSON = {"id": id if id is not None else _next(_user_ids), "is_bot": False}
    user["first_name"] = first_name
    if last_name is not None:
        user["last_name"] = last_name
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    if is_premium:
        user["is_premium"] = True
    return user


def bot_user(stub: TelegramStub | None = None) -> JSON:
    """The bot's own User, as it appears in `from` of its messages and in my_chat_member."""
    if stub is not None:
        return dict(stub.bot_user)
    return {
        "id": int(DEFAULT_TOKEN.split(":", 1)[0]),
        "is_bot": True,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
    }


def private_chat(user: Mapping[str, Any]) -> JSON:
    """The private chat with a user: same id as the user, type "private"."""
    chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if key in user:
            chat[key] = user[key]
    return chat


def group_chat(
    id: int | None = None,  # noqa: A002 - Telegram's field name
    title: str = "Clay club",
    *,
    is_forum: bool = False,
    username: str | None = None,
) -> JSON:
    """A supergroup (negative -100... id, as Telegram gives them); is_forum for topics."""
    chat: JSON = {
        "id": id if id is not None else -1_001_000_000_000 - _next(_group_ids),
        "type": "supergroup",
        "title": title,
    }
    if username is not None:
        chat["username"] = username
    if is_forum:
        chat["is_forum"] = True
    return chat


def _message(
    chat: Mapping[str, Any],
    user: Mapping[str, Any] | None,
    *,
    reply_to: Mapping[str, Any] | None,
    thread_id: int | None,
    is_topic_message: bool = False,
    message_id: int | None = None,
    date: int | None = None,
) -> JSON:
    message: JSON = {"message_id": message_id if message_id is not None else next_message_id()}
    if user is not None:
        message["from"] = dict(user)
    message["chat"] = dict(chat)
    message["date"] = date if date is not None else int(time.time())
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        if is_topic_message or chat.get("is_forum"):
            message["is_topic_message"] = True
    if reply_to is not None:
        reply = dict(reply_to)
        reply.pop("reply_to_message", None)  # Telegram nests only one level
        message["reply_to_message"] = reply
    return message


def text_message(
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    text: str,
    reply_to: Mapping[str, Any] | None = None,
    thread_id: int | None = None,
    *,
    entities: Sequence[Mapping[str, Any]] | None = None,
    message_id: int | None = None,
) -> JSON:
    """A plain text Message; reply_to is the replied-to Message dict (e.g. the bot's draft)."""
    message = _message(chat, user, reply_to=reply_to, thread_id=thread_id, message_id=message_id)
    message["text"] = text
    if entities:
        message["entities"] = [dict(e) for e in entities]
    return message


def command(
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    name: str,
    *args: str,
    bot_username: str | None = None,
    reply_to: Mapping[str, Any] | None = None,
    thread_id: int | None = None,
) -> JSON:
    """A command Message ("/start abc") with its bot_command entity, as clients send it.

    bot_username gives "/start@claymate_test_bot", what group members' clients send.
    """
    head = name if name.startswith("/") else f"/{name}"
    if bot_username:
        head = f"{head}@{bot_username}"
    text = " ".join((head, *args))
    entity = {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
    return text_message(chat, user, text, reply_to, thread_id, entities=[entity])


def photo_sizes(
    width: int = 1280, height: int = 960, *, sizes: Sequence[int] = (90, 320, 800, 1280)
) -> list[JSON]:
    """PhotoSize objects for a photo nobody downloads (no stub): fresh ids, smallest first."""
    longest = max(width, height)
    out: list[JSON] = []
    for side in [s for s in sizes if s < longest] + [longest]:
        w, h = round(width * side / longest), round(height * side / longest)
        file_id, unique = new_file_id("photo")
        out.append(
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "file_size": w * h // 8,
                "width": w,
                "height": h,
            }
        )
    return out


def photo_message(
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    photo: Sequence[Mapping[str, Any]],
    caption: str | None = None,
    media_group_id: str | None = None,
    reply_to: Mapping[str, Any] | None = None,
    thread_id: int | None = None,
    is_topic_message: bool = False,
    *,
    caption_entities: Sequence[Mapping[str, Any]] | None = None,
) -> JSON:
    """A photo Message; `photo` is the PhotoSize list, smallest first, as Telegram orders it."""
    message = _message(
        chat, user, reply_to=reply_to, thread_id=thread_id, is_topic_message=is_topic_message
    )
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
    message["photo"] = [dict(p) for p in photo]
    if caption is not None:
        message["caption"] = caption
        if caption_entities:
            message["caption_entities"] = [dict(e) for e in caption_entities]
    return message


def document_message(
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    document: Mapping[str, Any] | None = None,
    caption: str | None = None,
    reply_to: Mapping[str, Any] | None = None,
    thread_id: int | None = None,
    media_group_id: str | None = None,
    *,
    mime_type: str = "image/jpeg",
    file_name: str = "photo.jpg",
) -> JSON:
    """A Message with a Document (a photo sent "as a file" keeps its full resolution).

    Without `document`, a fresh one is made from file_name and mime_type (not downloadable:
    use document_update for that).
    """
    message = _message(chat, user, reply_to=reply_to, thread_id=thread_id)
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
    doc = document if document is not None else _document(file_name, mime_type)
    message["document"] = dict(doc)
    if caption is not None:
        message["caption"] = caption
    return message


def _document(
    file_name: str = "photo.jpg", mime_type: str = "image/jpeg", file_size: int = 1_000_000
) -> JSON:
    """A Document object for a file nobody downloads (no stub)."""
    file_id, unique = new_file_id("document")
    return {
        "file_id": file_id,
        "file_unique_id": unique,
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": file_size,
    }


document = _document  # public name; the parameter `document` above shadows it inside


def callback_query(
    user: Mapping[str, Any],
    message: Mapping[str, Any],
    data: str,
    *,
    id: str | None = None,  # noqa: A002 - Telegram's field name
    chat_instance: str | None = None,
) -> JSON:
    """A button press on `message` (usually one the bot sent: take it from the stub)."""
    query_id = id if id is not None else str(4_382_000_000_000_000_000 + _next(_query_ids))
    chat_id = message.get("chat", {}).get("id", 0)
    return {
        "id": query_id,
        "from": dict(user),
        "message": dict(message),
        "chat_instance": chat_instance or str(-(abs(chat_id) * 7 + 5_000_000_000_000_000)),
        "data": data,
    }


def update(
    *,
    message: Mapping[str, Any] | None = None,
    edited_message: Mapping[str, Any] | None = None,
    callback_query: Mapping[str, Any] | None = None,
    my_chat_member: Mapping[str, Any] | None = None,
    pre_checkout_query: Mapping[str, Any] | None = None,
    update_id: int | None = None,
) -> JSON:
    """An Update with exactly one payload; update_id is left to the stub unless given."""
    payloads = {
        "message": message,
        "edited_message": edited_message,
        "callback_query": callback_query,
        "my_chat_member": my_chat_member,
        "pre_checkout_query": pre_checkout_query,
    }
    given = {k: dict(v) for k, v in payloads.items() if v is not None}
    if len(given) != 1:
        raise ValueError(f"an Update carries exactly one payload, got {sorted(given)}")
    out: JSON = {} if update_id is None else {"update_id": update_id}
    out.update(given)
    return out


def chat_member_updated(
    chat: Mapping[str, Any],
    by: Mapping[str, Any],
    member: Mapping[str, Any],
    old_status: str,
    new_status: str,
) -> JSON:
    """A ChatMemberUpdated for simple statuses ("member", "left", "kicked")."""

    def state(status: str) -> JSON:
        out: JSON = {"status": status, "user": dict(member)}
        if status == "kicked":
            out["until_date"] = 0
        return out

    return {
        "chat": dict(chat),
        "from": dict(by),
        "date": int(time.time()),
        "old_chat_member": state(old_status),
        "new_chat_member": state(new_status),
    }


# --- one-step helpers: register the bytes with the stub and build the Update ----------------


def photo_update(
    stub: TelegramStub,
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    jpeg: bytes,
    caption: str | None = None,
    **message_kwargs: Any,
) -> JSON:
    """An Update with a photo whose sizes the bot can download (largest = `jpeg` exactly)."""
    sizes = stub.register_photo(jpeg)
    return update(message=photo_message(chat, user, sizes, caption, **message_kwargs))


def document_update(
    stub: TelegramStub,
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    data: bytes,
    caption: str | None = None,
    *,
    file_name: str = "photo.jpg",
    mime_type: str = "image/jpeg",
    **message_kwargs: Any,
) -> JSON:
    """An Update with a file sent "as a file"; the bot can download `data` exactly."""
    doc = stub.register_document(data, file_name=file_name, mime_type=mime_type)
    return update(message=document_message(chat, user, doc, caption, **message_kwargs))


def album_updates(
    stub: TelegramStub,
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    photos: Sequence[bytes],
    caption: str | None = None,
) -> list[JSON]:
    """An album: one Update per photo sharing a media_group_id; the caption rides on the first."""
    group_id = str(13_000_000_000_000_000 + _next(_group_ids))
    return [
        photo_update(stub, chat, user, data, caption if i == 0 else None, media_group_id=group_id)
        for i, data in enumerate(photos)
    ]


def text_update(
    chat: Mapping[str, Any], user: Mapping[str, Any], text: str, **message_kwargs: Any
) -> JSON:
    return update(message=text_message(chat, user, text, **message_kwargs))


def command_update(
    chat: Mapping[str, Any], user: Mapping[str, Any], name: str, *args: str, **kwargs: Any
) -> JSON:
    return update(message=command(chat, user, name, *args, **kwargs))


def button_press(
    user: Mapping[str, Any], message: Mapping[str, Any], data: str, **kwargs: Any
) -> JSON:
    """An Update for a press of an inline button on `message`."""
    return update(callback_query=callback_query(user, message, data, **kwargs))


def bot_added_to_group(chat: Mapping[str, Any], by: Mapping[str, Any], stub: TelegramStub) -> JSON:
    """The my_chat_member Update a bot gets when someone adds it to a group."""
    member = chat_member_updated(chat, by, bot_user(stub), "left", "member")
    return update(my_chat_member=member)


def audio_update(
    stub: TelegramStub,
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    data: bytes,
    caption: str | None = None,
    *,
    file_name: str = "song.mp3",
    mime_type: str = "audio/mpeg",
    duration: int = 3,
    **message_kwargs: Any,
) -> JSON:
    """An Update with a song sent as music (an Audio); the bot can download `data` exactly."""
    file_id, unique = new_file_id("audio")
    stub.add_file(file_id, data, f"music/{file_name}", file_unique_id=unique)
    message = _message(
        chat,
        user,
        reply_to=message_kwargs.pop("reply_to", None),
        thread_id=message_kwargs.pop("thread_id", None),
        **message_kwargs,
    )
    message["audio"] = {
        "file_id": file_id,
        "file_unique_id": unique,
        "duration": duration,
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": len(data),
    }
    if caption is not None:
        message["caption"] = caption
    return update(message=message)


def voice_update(
    stub: TelegramStub,
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    data: bytes,
    *,
    duration: int = 3,
    **message_kwargs: Any,
) -> JSON:
    """An Update with a voice note (ogg/opus, as Telegram records them)."""
    file_id, unique = new_file_id("voice")
    stub.add_file(file_id, data, "voice/file_0.oga", file_unique_id=unique)
    message = _message(
        chat,
        user,
        reply_to=message_kwargs.pop("reply_to", None),
        thread_id=message_kwargs.pop("thread_id", None),
        **message_kwargs,
    )
    message["voice"] = {
        "file_id": file_id,
        "file_unique_id": unique,
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_size": len(data),
    }
    return update(message=message)


# --- payments in Telegram Stars ------------------------------------------------------------

_charge_ids = itertools.count(1)


def pre_checkout_query(
    user: Mapping[str, Any],
    invoice_payload: str,
    total_amount: int,
    *,
    currency: str = "XTR",
    id: str | None = None,  # noqa: A002 - Telegram's field name
) -> JSON:
    """Telegram asking, before it takes the Stars, whether this order may be paid."""
    query_id = id if id is not None else str(5_100_000_000_000_000_000 + _next(_query_ids))
    return {
        "id": query_id,
        "from": dict(user),
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": invoice_payload,
    }


def pre_checkout_update(
    user: Mapping[str, Any], invoice: Mapping[str, Any], *, total_amount: int | None = None
) -> JSON:
    """The pre-checkout Telegram sends when `user` pays `invoice` (a sendInvoice call's
    params, as the stub recorded them); `total_amount` overrides what was asked."""
    amount = total_amount if total_amount is not None else invoice_total(invoice)
    query = pre_checkout_query(
        user, str(invoice["payload"]), amount, currency=str(invoice["currency"])
    )
    return update(pre_checkout_query=query)


def invoice_total(invoice: Mapping[str, Any]) -> int:
    """The sum of an invoice's prices (a sendInvoice call's params)."""
    prices = invoice["prices"]
    return sum(int(price["amount"]) for price in prices)


def new_charge_id() -> str:
    """A telegram_payment_charge_id as Telegram makes them (unique per payment)."""
    return f"stxTESTCHARGE{_next(_charge_ids):08d}"


def successful_payment_message(
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    invoice_payload: str,
    total_amount: int,
    *,
    charge_id: str | None = None,
    currency: str = "XTR",
) -> JSON:
    """The service message that says a payment went through (Stars: no provider charge)."""
    message = _message(chat, user, reply_to=None, thread_id=None)
    message["successful_payment"] = {
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": invoice_payload,
        "telegram_payment_charge_id": charge_id or new_charge_id(),
        "provider_payment_charge_id": "",
    }
    return message


def successful_payment_update(
    chat: Mapping[str, Any],
    user: Mapping[str, Any],
    invoice: Mapping[str, Any],
    *,
    charge_id: str | None = None,
    update_id: int | None = None,
) -> JSON:
    """`user` paid `invoice` (a sendInvoice call's params) in `chat`."""
    message = successful_payment_message(
        chat,
        user,
        str(invoice["payload"]),
        invoice_total(invoice),
        charge_id=charge_id,
        currency=str(invoice["currency"]),
    )
    return update(message=message, update_id=update_id)
