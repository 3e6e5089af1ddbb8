"""Telegram Mini App init data, checked as Telegram documents it; nothing else is trusted.

The page sends `Authorization: tma <initData>`, the query string Telegram gave it. Its
`hash` is HMAC-SHA256 over the other fields (sorted `key=value` lines), keyed by
HMAC-SHA256(key="WebAppData", msg=bot token): only Telegram and the bot can make one. An
`auth_date` older than `max_age_s` (or from the future) is refused, so a leaked string stops
working; the user is read only from data whose hash matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_INIT_DATA_CHARS = 4096  # Telegram's init data is well under 1 KB
FUTURE_SLACK_S = 60  # clocks differ a little; more than this is not a real auth_date


@dataclass(frozen=True, slots=True)
class WebAppUser:
    """The user a valid init data names."""

    id: int
    first_name: str
    language_code: str | None
    auth_date: int


def secret_key(bot_token: str) -> bytes:
    """HMAC-SHA256 of the bot token with the key "WebAppData"."""
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    """Every field but `hash`, sorted by key, as `key=value` lines."""
    return "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The hex hash Telegram puts in init data with these fields."""
    message = data_check_string(fields).encode()
    return hmac.new(secret_key(bot_token), message, hashlib.sha256).hexdigest()


def validate_init_data(
    init_data: str, bot_token: str, *, now: float, max_age_s: float
) -> WebAppUser | None:
    """The user of genuine, fresh init data, or None for anything else (no reason given)."""
    if not init_data or len(init_data) > MAX_INIT_DATA_CHARS:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a repeated key: which one would be checked?
        return None
    sent = fields.get("hash", "")
    if len(sent) != 64 or not hmac.compare_digest(sent.lower(), sign(fields, bot_token)):
        return None
    auth_date = fields.get("auth_date", "")
    if not auth_date.isdigit():
        return None
    age = now - int(auth_date)
    if age > max_age_s or age < -FUTURE_SLACK_S:
        return None
    return _user(fields.get("user", ""), int(auth_date))


def _user(raw: str, auth_date: int) -> WebAppUser | None:
    try:
        user = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(user, dict):
        return None
    user_id = user.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        return None
    language = user.get("language_code")
    return WebAppUser(
        id=user_id,
        first_name=str(user.get("first_name") or ""),
        language_code=language if isinstance(language, str) else None,
        auth_date=auth_date,
    )
