"""Mini App init data: only what Telegram signed for this bot, and only while it is fresh."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

from bot.webapp.auth import validate_init_data
from tests.fakes.webapp import init_data

TOKEN = "123456:TEST-token-for-init-data"
LIN = {"id": 4242, "first_name": "Lin", "language_code": "zh-hans"}


def check(data: str, *, now: float | None = None, token: str = TOKEN) -> object:
    return validate_init_data(data, token, now=time.time() if now is None else now, max_age_s=3600)


def test_genuine_fresh_init_data_names_its_user() -> None:
    user = check(init_data(TOKEN, LIN))
    assert user is not None
    assert (user.id, user.first_name, user.language_code) == (4242, "Lin", "zh-hans")  # type: ignore[attr-defined]


def test_init_data_signed_for_another_bot_is_refused() -> None:
    assert check(init_data("999:another-bot", LIN)) is None


def test_a_changed_user_is_refused() -> None:
    fields = dict(parse_qsl(init_data(TOKEN, LIN)))
    fields["user"] = fields["user"].replace("4242", "4243")
    assert check(urlencode(fields)) is None


def test_stale_and_future_init_data_is_refused() -> None:
    now = time.time()
    assert check(init_data(TOKEN, LIN, auth_date=int(now) - 3601), now=now) is None
    assert check(init_data(TOKEN, LIN, auth_date=int(now) - 3500), now=now) is not None
    assert check(init_data(TOKEN, LIN, auth_date=int(now) + 3600), now=now) is None


def test_malformed_init_data_is_refused() -> None:
    good = init_data(TOKEN, LIN)
    for bad in (
        "",
        "garbage",
        "hash=abc",
        good + "&hash=0",
        good.replace("hash=", "hush="),
        "a" * 5000,
        good + "&auth_date=1",
    ):
        assert check(bad) is None, bad


def test_a_signed_user_without_a_numeric_id_is_refused() -> None:
    assert check(init_data(TOKEN, {"first_name": "Nobody"})) is None
    assert check(init_data(TOKEN, {"id": "42"})) is None


def test_fields_beyond_the_known_ones_are_part_of_the_signature() -> None:
    data = init_data(TOKEN, LIN, extra={"start_param": "p17", "chat_type": "sender"})
    assert check(data) is not None
    assert check(data.replace("p17", "p18")) is None
