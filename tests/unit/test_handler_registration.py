"""Every update reaches the same handler however the registration code is arranged.

PTB tries a group's handlers in the order they were added and the first match wins, so
both lists below were recorded once from the working registration and are kept as data:
REGISTERED, every handler with what it matches; ANSWERED_BY, for one update of each kind
the bot meets, which handler takes it in each group.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from telegram import Update, User
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
)

from bot.app import register_handlers
from handlers import callbacks as cb
from handlers.common import CONTEXT_TYPES
from tests.fakes.telegram_stub import BOT_USERNAME, DEFAULT_TOKEN
from tests.fakes.updates import (
    bot_user,
    button_press,
    command_update,
    document_message,
    group_chat,
    inline_query_update,
    photo_message,
    photo_sizes,
    pre_checkout_query,
    private_chat,
    private_user,
    successful_payment_message,
    text_message,
    update,
)

Entry = tuple[str, int, str, str, bool]

# (handler type, group, what it matches, callback, block). Compared as a set: modules add
# their own in reading order, and who answers each update is ANSWERED_BY's check.
REGISTERED: list[Entry] = [
    ("TypeHandler", -1, "Update", "on_any_update", True),
    ("CommandHandler", 0, "/help,start UpdateType.MESSAGES", "on_start", True),
    ("CommandHandler", 0, "/new UpdateType.MESSAGES", "on_new", True),
    ("CommandHandler", 0, "/projects UpdateType.MESSAGES", "on_projects", True),
    ("CommandHandler", 0, "/aspect UpdateType.MESSAGES", "on_aspect", True),
    ("CommandHandler", 0, "/board UpdateType.MESSAGES", "on_board", True),
    ("CommandHandler", 0, "/move UpdateType.MESSAGES", "on_move", True),
    ("CommandHandler", 0, "/drop UpdateType.MESSAGES", "on_drop", True),
    ("CommandHandler", 0, "/film UpdateType.MESSAGES", "on_film", True),
    ("CommandHandler", 0, "/music UpdateType.MESSAGES", "on_music", True),
    ("CommandHandler", 0, "/subtitles UpdateType.MESSAGES", "on_subtitles", True),
    ("CommandHandler", 0, "/narration UpdateType.MESSAGES", "on_narration", True),
    ("MessageHandler", 0, "<REPLY and <VOICE or AUDIO>>", "on_voice_reply", True),
    ("MessageHandler", 0, "<AUDIO or Document.Category('audio/')>", "on_song", True),
    ("CommandHandler", 0, "/lang UpdateType.MESSAGES", "on_lang", True),
    ("CommandHandler", 0, "/usage UpdateType.MESSAGES", "on_usage", True),
    ("CommandHandler", 0, "/allow UpdateType.MESSAGES", "on_allow", True),
    ("CommandHandler", 0, "/deny UpdateType.MESSAGES", "on_deny", True),
    ("CommandHandler", 0, "/access UpdateType.MESSAGES", "on_access", True),
    ("CommandHandler", 0, "/grant UpdateType.MESSAGES", "on_grant", True),
    ("CommandHandler", 0, "/limit UpdateType.MESSAGES", "on_limit", True),
    ("CommandHandler", 0, "/stats UpdateType.MESSAGES", "on_stats", True),
    ("CommandHandler", 0, "/buy UpdateType.MESSAGES", "on_buy", True),
    ("CommandHandler", 0, "/paysupport UpdateType.MESSAGES", "on_paysupport", True),
    ("CommandHandler", 0, "/refund UpdateType.MESSAGES", "on_refund", True),
    ("CallbackQueryHandler", 0, "^by:[0-9]{1,19}(:.*)?$", "on_pack_pressed", True),
    ("PreCheckoutQueryHandler", 0, "any", "on_pre_checkout", True),
    ("MessageHandler", 0, "SUCCESSFUL_PAYMENT", "on_successful_payment", True),
    ("MessageHandler", 0, "StatusUpdate.REFUNDED_PAYMENT", "on_refunded_payment", True),
    ("ChatMemberHandler", 0, "my_chat_member", "on_my_membership", True),
    ("CommandHandler", 0, "/clay UpdateType.MESSAGES", "on_clay", True),
    ("CommandHandler", 0, "/generate UpdateType.MESSAGES", "on_policy", True),
    ("CommandHandler", 0, "/settings UpdateType.MESSAGES", "on_settings", True),
    ("CallbackQueryHandler", 0, "^cf:[0-9]{1,19}(:.*)?$", "on_chat_setting_chosen", True),
    ("CommandHandler", 0, "/cancel UpdateType.MESSAGES", "on_cancel", True),
    ("CommandHandler", 0, "/doctor UpdateType.MESSAGES", "on_doctor", True),
    ("CommandHandler", 0, "/export UpdateType.MESSAGES", "on_export", True),
    ("CommandHandler", 0, "/forget UpdateType.MESSAGES", "on_forget", True),
    ("CallbackQueryHandler", 0, "^l:[0-9]{1,19}(:.*)?$", "on_lang_chosen", True),
    ("CallbackQueryHandler", 0, "^f:[0-9]{1,19}(:.*)?$", "on_forget_chosen", True),
    ("MessageHandler", 0, "<PHOTO or Document.Category('image/')>", "on_photo", True),
    (
        "MessageHandler",
        0,
        "<<<<<Sticker.ALL or ANIMATION> or VIDEO_NOTE> or VIDEO> or VOICE> or AUDIO>",
        "on_other_media",
        True,
    ),
    ("MessageHandler", 0, "Document.ALL", "on_other_document", True),
    ("MessageHandler", 0, "<<REPLY and TEXT> and <inverted COMMAND>>", "on_reply", True),
    ("MessageHandler", 0, "<TEXT and <inverted COMMAND>>", "on_text_outside_flow", True),
    ("CallbackQueryHandler", 0, "^g:[0-9]{1,19}(:.*)?$", "on_generate_pressed", True),
    ("CallbackQueryHandler", 0, "^r:[0-9]{1,19}(:.*)?$", "on_refine_pressed", True),
    ("CallbackQueryHandler", 0, "^n:[0-9]{1,19}(:.*)?$", "on_redraft_pressed", True),
    ("CallbackQueryHandler", 0, "^s:[0-9]{1,19}(:.*)?$", "on_settings_pressed", True),
    ("CallbackQueryHandler", 0, "^set:[0-9]{1,19}(:.*)?$", "on_setting_chosen", True),
    ("CallbackQueryHandler", 0, "^b:[0-9]{1,19}(:.*)?$", "on_back_pressed", True),
    ("CallbackQueryHandler", 0, "^ad:[0-9]{1,19}(:.*)?$", "on_aspect_in_settings", True),
    ("CallbackQueryHandler", 0, "^u:[0-9]{1,19}(:.*)?$", "on_undo_pressed", True),
    ("CallbackQueryHandler", 0, "^x:[0-9]{1,19}(:.*)?$", "on_cancel_shot_pressed", True),
    ("CallbackQueryHandler", 0, "^d:[0-9]{1,19}(:.*)?$", "on_draft_from_photo_pressed", True),
    ("CallbackQueryHandler", 0, "^o:[0-9]{1,19}(:.*)?$", "on_open_shot_pressed", True),
    ("CallbackQueryHandler", 0, "^c:[0-9]{1,19}(:.*)?$", "on_cancel_take_pressed", True),
    ("CallbackQueryHandler", 0, "^a:[0-9]{1,19}(:.*)?$", "on_again_pressed", True),
    ("CallbackQueryHandler", 0, "^k:[0-9]{1,19}(:.*)?$", "on_keep_pressed", True),
    ("CallbackQueryHandler", 0, "^ga:[0-9]{1,19}(:.*)?$", "on_generate_all_pressed", True),
    ("CallbackQueryHandler", 0, "^ct:[0-9]{1,19}(:.*)?$", "on_continue_pressed", True),
    ("CallbackQueryHandler", 0, "^p:[0-9]{1,19}(:.*)?$", "on_open_project_pressed", True),
    ("CallbackQueryHandler", 0, "^v:[0-9]{1,19}(:.*)?$", "on_resend_pressed", True),
    ("CallbackQueryHandler", 0, "^sl:[0-9]{1,19}(:.*)?$", "on_share_link_pressed", True),
    ("InlineQueryHandler", 0, "any", "on_inline_query", True),
    ("CallbackQueryHandler", 0, "^ar:[0-9]{1,19}(:.*)?$", "on_aspect_pressed", True),
    ("CallbackQueryHandler", 0, "^mu:[0-9]{1,19}(:.*)?$", "on_nudge_pressed", True),
    ("CallbackQueryHandler", 0, "^md:[0-9]{1,19}(:.*)?$", "on_nudge_pressed", True),
    ("CallbackQueryHandler", 0, "^cs:[0-9]{1,19}(:.*)?$", "on_still_pressed", True),
    ("CallbackQueryHandler", 0, "^sn:[0-9]{1,19}(:.*)?$", "on_still_pressed", True),
    ("CallbackQueryHandler", 0, "^sa:[0-9]{1,19}(:.*)?$", "on_animate_still_pressed", True),
    ("CallbackQueryHandler", 0, "^so:[0-9]{1,19}(:.*)?$", "on_use_original_pressed", True),
    ("CallbackQueryHandler", 0, "any", "on_unknown_button", True),
]

# Update kind -> [group, the callback that takes it] for each group with a match.
ANSWERED_BY: dict[str, list[tuple[int, str]]] = {
    "/start": [(-1, "on_any_update"), (0, "on_start")],
    "/help": [(-1, "on_any_update"), (0, "on_start")],
    "/new": [(-1, "on_any_update"), (0, "on_new")],
    "/projects": [(-1, "on_any_update"), (0, "on_projects")],
    "/aspect": [(-1, "on_any_update"), (0, "on_aspect")],
    "/board": [(-1, "on_any_update"), (0, "on_board")],
    "/move": [(-1, "on_any_update"), (0, "on_move")],
    "/drop": [(-1, "on_any_update"), (0, "on_drop")],
    "/film": [(-1, "on_any_update"), (0, "on_film")],
    "/lang": [(-1, "on_any_update"), (0, "on_lang")],
    "/usage": [(-1, "on_any_update"), (0, "on_usage")],
    "/allow": [(-1, "on_any_update"), (0, "on_allow")],
    "/deny": [(-1, "on_any_update"), (0, "on_deny")],
    "/access": [(-1, "on_any_update"), (0, "on_access")],
    "/grant": [(-1, "on_any_update"), (0, "on_grant")],
    "/limit": [(-1, "on_any_update"), (0, "on_limit")],
    "/stats": [(-1, "on_any_update"), (0, "on_stats")],
    "/buy": [(-1, "on_any_update"), (0, "on_buy")],
    "/paysupport": [(-1, "on_any_update"), (0, "on_paysupport")],
    "/refund": [(-1, "on_any_update"), (0, "on_refund")],
    "pre-checkout query": [(-1, "on_any_update"), (0, "on_pre_checkout")],
    "successful payment": [(-1, "on_any_update"), (0, "on_successful_payment")],
    "refunded payment": [(-1, "on_any_update"), (0, "on_refunded_payment")],
    "button BUY": [(-1, "on_any_update"), (0, "on_pack_pressed")],
    "/generate": [(-1, "on_any_update"), (0, "on_policy")],
    "/doctor": [(-1, "on_any_update"), (0, "on_doctor")],
    "/settings": [(-1, "on_any_update"), (0, "on_settings")],
    "/cancel": [(-1, "on_any_update"), (0, "on_cancel")],
    "/export": [(-1, "on_any_update"), (0, "on_export")],
    "/forget": [(-1, "on_any_update"), (0, "on_forget")],
    "/clay": [(-1, "on_any_update"), (0, "on_clay")],
    "/nope": [(-1, "on_any_update")],
    "/start@us": [(-1, "on_any_update"), (0, "on_start")],
    "/start@other": [(-1, "on_any_update")],
    "/generate in a group": [(-1, "on_any_update"), (0, "on_policy")],
    "/new as a reply": [(-1, "on_any_update"), (0, "on_new")],
    "photo": [(-1, "on_any_update"), (0, "on_photo")],
    "photo without caption": [(-1, "on_any_update"), (0, "on_photo")],
    "photo captioned /start": [(-1, "on_any_update"), (0, "on_photo")],
    "photo in a group": [(-1, "on_any_update"), (0, "on_photo")],
    "photo replying to a draft": [(-1, "on_any_update"), (0, "on_photo")],
    "photo in an album": [(-1, "on_any_update"), (0, "on_photo")],
    "edited photo caption": [(-1, "on_any_update"), (0, "on_photo")],
    "image as a file": [(-1, "on_any_update"), (0, "on_photo")],
    "gif as a file": [(-1, "on_any_update"), (0, "on_photo")],
    "pdf": [(-1, "on_any_update"), (0, "on_other_document")],
    "text": [(-1, "on_any_update"), (0, "on_text_outside_flow")],
    "text replying to a draft": [(-1, "on_any_update"), (0, "on_reply")],
    "text in a group": [(-1, "on_any_update"), (0, "on_text_outside_flow")],
    "text replying in a group": [(-1, "on_any_update"), (0, "on_reply")],
    "edited text": [(-1, "on_any_update"), (0, "on_text_outside_flow")],
    "bot added to a group": [(-1, "on_any_update"), (0, "on_my_membership")],
    "inline query": [(-1, "on_any_update"), (0, "on_inline_query")],
    "sticker": [(-1, "on_any_update"), (0, "on_other_media")],
    "animation": [(-1, "on_any_update"), (0, "on_other_media")],
    "video": [(-1, "on_any_update"), (0, "on_other_media")],
    "video_note": [(-1, "on_any_update"), (0, "on_other_media")],
    "voice": [(-1, "on_any_update"), (0, "on_other_media")],
    "audio": [(-1, "on_any_update"), (0, "on_song")],  # a song for the film
    # Replies are looked up first: words for a draft, else as above (voice.py hands on).
    "voice replying to a draft": [(-1, "on_any_update"), (0, "on_voice_reply")],
    "audio replying to a draft": [(-1, "on_any_update"), (0, "on_voice_reply")],
    "/narration": [(-1, "on_any_update"), (0, "on_narration")],
    "animation kept as a gif": [(-1, "on_any_update"), (0, "on_photo")],
    "video as a file": [(-1, "on_any_update"), (0, "on_other_document")],
    "button AGAIN": [(-1, "on_any_update"), (0, "on_again_pressed")],
    "button ASPECT": [(-1, "on_any_update"), (0, "on_aspect_pressed")],
    "button ASPECT_DRAFT": [(-1, "on_any_update"), (0, "on_aspect_in_settings")],
    "button BACK": [(-1, "on_any_update"), (0, "on_back_pressed")],
    "button GENERATE_ALL": [(-1, "on_any_update"), (0, "on_generate_all_pressed")],
    "button CHAT_SET": [(-1, "on_any_update"), (0, "on_chat_setting_chosen")],
    "button CANCEL_SHOT": [(-1, "on_any_update"), (0, "on_cancel_shot_pressed")],
    "button CANCEL_TAKE": [(-1, "on_any_update"), (0, "on_cancel_take_pressed")],
    "button DRAFT_FROM_PHOTO": [(-1, "on_any_update"), (0, "on_draft_from_photo_pressed")],
    "button FORGET": [(-1, "on_any_update"), (0, "on_forget_chosen")],
    "button GENERATE": [(-1, "on_any_update"), (0, "on_generate_pressed")],
    "button KEEP": [(-1, "on_any_update"), (0, "on_keep_pressed")],
    "button CONTINUE": [(-1, "on_any_update"), (0, "on_continue_pressed")],
    "button LANG": [(-1, "on_any_update"), (0, "on_lang_chosen")],
    "button MOVE_DOWN": [(-1, "on_any_update"), (0, "on_nudge_pressed")],
    "button MOVE_UP": [(-1, "on_any_update"), (0, "on_nudge_pressed")],
    "button OPEN_PROJECT": [(-1, "on_any_update"), (0, "on_open_project_pressed")],
    "button OPEN_SHOT": [(-1, "on_any_update"), (0, "on_open_shot_pressed")],
    "button REDRAFT": [(-1, "on_any_update"), (0, "on_redraft_pressed")],
    "button REFINE": [(-1, "on_any_update"), (0, "on_refine_pressed")],
    "button RESEND": [(-1, "on_any_update"), (0, "on_resend_pressed")],
    "button SET": [(-1, "on_any_update"), (0, "on_setting_chosen")],
    "button SHARE_LINK": [(-1, "on_any_update"), (0, "on_share_link_pressed")],
    "button SETTINGS": [(-1, "on_any_update"), (0, "on_settings_pressed")],
    "button STILL": [(-1, "on_any_update"), (0, "on_still_pressed")],
    "button STILL_AGAIN": [(-1, "on_any_update"), (0, "on_still_pressed")],
    "button STILL_ANIMATE": [(-1, "on_any_update"), (0, "on_animate_still_pressed")],
    "button STILL_ORIGINAL": [(-1, "on_any_update"), (0, "on_use_original_pressed")],
    "button UNDO": [(-1, "on_any_update"), (0, "on_undo_pressed")],
    "button SET with its choice": [(-1, "on_any_update"), (0, "on_setting_chosen")],
    "button LANG en": [(-1, "on_any_update"), (0, "on_lang_chosen")],
    "button FORGET yes": [(-1, "on_any_update"), (0, "on_forget_chosen")],
    "button of an unknown action": [(-1, "on_any_update"), (0, "on_unknown_button")],
    "button with a forged id": [(-1, "on_any_update"), (0, "on_unknown_button")],
}


def registered(application: Application) -> list[Entry]:
    """What each handler matches, readable and comparable."""
    return [
        (
            type(handler).__name__,
            group,
            _matches(handler),
            _name(handler.callback),
            _block(handler.block),
        )
        for group, handlers in sorted(application.handlers.items())
        for handler in handlers
    ]


def _matches(handler: BaseHandler[Any, Any, Any]) -> str:
    if isinstance(handler, CommandHandler):
        return f"/{','.join(sorted(handler.commands))} {_filters(handler.filters)}"
    if isinstance(handler, CallbackQueryHandler):
        pattern = handler.pattern
        return "any" if pattern is None else str(getattr(pattern, "pattern", pattern))
    if isinstance(handler, MessageHandler):
        return _filters(handler.filters)
    if isinstance(handler, TypeHandler):
        return handler.type.__name__
    if isinstance(handler, ChatMemberHandler):
        return {ChatMemberHandler.MY_CHAT_MEMBER: "my_chat_member"}.get(
            handler.chat_member_types, str(handler.chat_member_types)
        )
    if isinstance(handler, InlineQueryHandler):
        pattern = handler.pattern
        return "any" if pattern is None else str(getattr(pattern, "pattern", pattern))
    if isinstance(handler, PreCheckoutQueryHandler):
        pattern = handler.pattern
        return "any" if pattern is None else str(getattr(pattern, "pattern", pattern))
    raise AssertionError(f"a handler type the bot never used: {handler!r}")


def _filters(combined: object) -> str:
    return repr(combined).replace("filters.", "")


def _block(block: object) -> bool:
    """Whether the update waits for the handler; PTB wraps the default in DefaultValue."""
    return bool(getattr(block, "value", block))


def _name(callback: Any) -> str:
    return str(callback.__name__)


def answered_by(application: Application, data: dict[str, Any]) -> list[tuple[int, str]]:
    """Which handler PTB would run for `data` in each group: the first whose check matches."""
    upd = Update.de_json(data, application.bot)
    taken = []
    for group, handlers in sorted(application.handlers.items()):
        for handler in handlers:
            check = handler.check_update(upd)
            if check is not None and check is not False:
                taken.append((group, _name(handler.callback)))
                break
    return taken


@pytest.fixture(scope="module")
def application() -> Application:
    app = ApplicationBuilder().token(DEFAULT_TOKEN).context_types(CONTEXT_TYPES).build()
    register_handlers(app)
    # CommandHandler reads the bot's username (/start@bot); getMe would have set it.
    me = bot_user()
    me = User(me["id"], me["first_name"], is_bot=True, username=me["username"])
    with app.bot._unfrozen():
        app.bot._bot_user = me
    return app


# --- one update of each kind ---------------------------------------------------------------

_user = private_user(id=510_900_001, first_name="Ada")
_chat = private_chat(_user)
_group = group_chat(id=-1_001_900_000_001)
_draft = text_message(_chat, bot_user(), "a draft", message_id=900_001)
_group_draft = text_message(_group, bot_user(), "a draft", message_id=900_002)
_photo = photo_sizes()

_MEDIA: dict[str, dict[str, Any]] = {
    "sticker": {
        "sticker": {
            "file_id": "s",
            "file_unique_id": "us",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },
    "animation": {
        "animation": {
            "file_id": "a",
            "file_unique_id": "ua",
            "width": 9,
            "height": 9,
            "duration": 3,
        },
        "document": {"file_id": "a", "file_unique_id": "ua", "mime_type": "video/mp4"},
    },
    "video": {
        "video": {"file_id": "v", "file_unique_id": "uv", "width": 9, "height": 9, "duration": 3}
    },
    "video_note": {
        "video_note": {"file_id": "n", "file_unique_id": "un", "length": 9, "duration": 3}
    },
    "voice": {"voice": {"file_id": "o", "file_unique_id": "uo", "duration": 3}},
    "audio": {"audio": {"file_id": "u", "file_unique_id": "uu", "duration": 3}},
}


def _media(kind: str) -> dict[str, Any]:
    message = text_message(_chat, _user, "", message_id=900_100)
    del message["text"]
    return {**message, **_MEDIA[kind]}


def _commands() -> dict[str, dict[str, Any]]:
    names = "start help new projects aspect board move drop film narration lang usage".split()
    names += "allow deny access grant limit stats generate doctor export forget clay nope".split()
    names += "buy paysupport refund".split()
    names += ["settings", "cancel"]
    kinds = {f"/{name}": command_update(_chat, _user, name) for name in names}
    kinds["/start@us"] = command_update(_chat, _user, "start", bot_username=BOT_USERNAME)
    kinds["/start@other"] = command_update(_chat, _user, "start", bot_username="other_bot")
    kinds["/generate in a group"] = command_update(
        _group, _user, "generate", "admins", bot_username=BOT_USERNAME
    )
    kinds["/new as a reply"] = command_update(_chat, _user, "new", reply_to=_draft)
    return kinds


def _messages() -> dict[str, dict[str, Any]]:
    photo = photo_message(_chat, _user, _photo, "boats")
    kinds = {
        "photo": update(message=photo),
        "photo without caption": update(message=photo_message(_chat, _user, _photo)),
        "photo captioned /start": update(message=photo_message(_chat, _user, _photo, "/start")),
        "photo in a group": update(message=photo_message(_group, _user, _photo, "/clay boats")),
        "photo replying to a draft": update(
            message=photo_message(_chat, _user, _photo, reply_to=_draft)
        ),
        "photo in an album": update(
            message=photo_message(_chat, _user, _photo, "x", media_group_id="13")
        ),
        "edited photo caption": update(edited_message=photo),
        "image as a file": update(message=document_message(_chat, _user)),
        "gif as a file": update(
            message=document_message(_chat, _user, mime_type="image/gif", file_name="a.gif")
        ),
        "pdf": update(
            message=document_message(_chat, _user, mime_type="application/pdf", file_name="a.pdf")
        ),
        "text": update(message=text_message(_chat, _user, "hello")),
        "text replying to a draft": update(
            message=text_message(_chat, _user, "slower", reply_to=_draft)
        ),
        "text in a group": update(message=text_message(_group, _user, "hi all")),
        "text replying in a group": update(
            message=text_message(_group, _user, "slower", reply_to=_group_draft)
        ),
        "edited text": update(edited_message=text_message(_chat, _user, "hello")),
        "inline query": inline_query_update(_user, "harbour"),
        "bot added to a group": update(
            my_chat_member={
                "chat": _group,
                "from": _user,
                "date": 0,
                "old_chat_member": {"status": "left", "user": bot_user()},
                "new_chat_member": {"status": "member", "user": bot_user()},
            }
        ),
    }
    kinds |= {kind: update(message=_media(kind)) for kind in _MEDIA}
    for kind in ("voice", "audio"):
        kinds[f"{kind} replying to a draft"] = update(
            message={**_media(kind), "reply_to_message": _draft}
        )
    gif = _media("animation")
    gif["document"] = {**gif["document"], "mime_type": "image/gif"}  # both an image and media
    kinds["animation kept as a gif"] = update(message=gif)
    kinds["video as a file"] = update(
        message=document_message(_chat, _user, mime_type="video/mp4", file_name="a.mp4")
    )
    kinds["pre-checkout query"] = update(pre_checkout_query=pre_checkout_query(_user, "p", 50))
    kinds["successful payment"] = update(message=successful_payment_message(_chat, _user, "p", 50))
    refunded = text_message(_chat, _user, "", message_id=900_101)
    del refunded["text"]
    refunded["refunded_payment"] = {
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "p",
        "telegram_payment_charge_id": "stx1",
    }
    kinds["refunded payment"] = update(message=refunded)
    return kinds


def _buttons() -> dict[str, dict[str, Any]]:
    codes = {name: getattr(cb, name) for name in dir(cb) if name.isupper() and name[0] != "_"}
    actions = {name: code for name, code in codes.items() if isinstance(code, str)}
    kinds = {
        f"button {n}": button_press(_user, _draft, cb.encode(a, 5)) for n, a in actions.items()
    }
    kinds["button SET with its choice"] = button_press(
        _user, _draft, cb.encode(cb.SET, 5, "mode=pro")
    )
    kinds["button LANG en"] = button_press(_user, _draft, cb.encode(cb.LANG, 0, "en"))
    kinds["button FORGET yes"] = button_press(_user, _draft, cb.encode(cb.FORGET, 5, "yes"))
    kinds["button of an unknown action"] = button_press(_user, _draft, "zz:5")
    kinds["button with a forged id"] = button_press(_user, _draft, "g:abc")
    # Not here: a query with neither data nor a game, which our buttons never send (their
    # data is 1-64 bytes). PTB gives it to whichever patterned handler comes first; every
    # one of them is wrapped by handlers.common.button, which answers it as stale.
    return kinds


def kinds_of_update() -> dict[str, dict[str, Any]]:
    """One update of every kind the bot meets, by a readable name."""
    kinds = _commands() | _messages() | _buttons()
    for number, data in enumerate(kinds.values(), 1):
        data["update_id"] = number
    return kinds


# --- the checks ----------------------------------------------------------------------------


def test_the_same_handlers_match_the_same_things(application: Application) -> None:
    assert Counter(registered(application)) == Counter(REGISTERED)


def test_each_kind_of_update_reaches_the_same_handler(application: Application) -> None:
    kinds = kinds_of_update()
    assert sorted(kinds) == sorted(ANSWERED_BY)
    answers = {name: answered_by(application, data) for name, data in kinds.items()}
    assert answers == ANSWERED_BY


def test_errors_go_to_one_error_handler(application: Application) -> None:
    assert [(_name(f), _block(b)) for f, b in application.error_handlers.items()] == [
        ("on_error", True)
    ]


def test_an_unknown_button_is_the_last_one_tried(application: Application) -> None:
    buttons = [h for h in application.handlers[0] if isinstance(h, CallbackQueryHandler)]
    assert buttons[-1].pattern is None
    assert all(h.pattern is not None for h in buttons[:-1])
