"""Which group photos are meant for the bot, and what is left of the caption."""

from __future__ import annotations

import pytest
from telegram import Message

from handlers.groups import addressed_caption
from tests.fakes.updates import bot_user, group_chat, photo_message, photo_sizes, private_user

BOT = "claymate_test_bot"


def message(caption: str | None, reply_to: dict | None = None) -> Message:  # type: ignore[type-arg]
    data = photo_message(group_chat(), private_user(), photo_sizes(), caption, reply_to=reply_to)
    return Message.de_json(data, None)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("/clay boats glide", (True, "boats glide")),
        (f"/clay@{BOT} boats glide", (True, "boats glide")),
        ("/CLAY@Claymate_Test_Bot boats", (True, "boats")),
        ("/clay", (True, None)),
        (f"boats glide @{BOT}", (True, "boats glide")),
        (f"@{BOT} a tram rolls", (True, "a tram rolls")),
        ("/clay@other_bot boats", (False, None)),
        ("/clayish boats", (False, None)),
        ("nice photo!", (False, None)),
        (None, (False, None)),
        (f"@{BOT}x boats", (False, None)),
    ],
)
def test_only_photos_addressed_to_the_bot_count(
    caption: str | None, expected: tuple[bool, str | None]
) -> None:
    assert addressed_caption(message(caption), BOT) == expected


def test_a_photo_replying_to_the_bot_counts_with_its_whole_caption() -> None:
    ours = {"message_id": 5, "from": bot_user(), "chat": group_chat(), "date": 0, "text": "x"}
    someone = {**ours, "from": private_user()}
    assert addressed_caption(message("the same, at night", ours), BOT) == (
        True,
        "the same, at night",
    )
    assert addressed_caption(message("the same, at night", someone), BOT) == (False, None)
