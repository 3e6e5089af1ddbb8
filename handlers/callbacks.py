"""Callback data: `action:row_id[:arg]`, naming a database row, never carrying the prompt.

Telegram caps callback_data at 64 bytes, and a button may be pressed days later, by
someone else, or after a restart: the row id lets any instance find what it meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64
MAX_ROW_ID = 2**63 - 1  # the largest key SQLite and PostgreSQL BIGINT hold
# ASCII digits only (str.isdigit() also takes "²" and "١"), at most as many as MAX_ROW_ID has.
_ROW_ID = re.compile(r"0|[1-9][0-9]{0,18}")  # one spelling per id: no leading zeros
_ACTION = re.compile(r"[a-z]{1,3}")

# One short code per user intention; handlers register a pattern per code.
GENERATE = "g"  # revision id
REFINE = "r"  # revision id
REDRAFT = "n"  # shot id
SETTINGS = "s"  # revision id
SET = "set"  # revision id, arg "duration=10" / "mode=pro" / "camera_move=orbit"
BACK = "b"  # revision id
UNDO = "u"  # shot id
CANCEL_SHOT = "x"  # shot id
DRAFT_FROM_PHOTO = "d"  # shot id
OPEN_SHOT = "o"  # shot id
CANCEL_TAKE = "c"  # take id
AGAIN = "a"  # take id
KEEP = "k"  # take id
CONTINUE = "ct"  # take id (➡️ Continue: the next shot from its last frame)
OPEN_PROJECT = "p"  # project id
RESEND = "v"  # take id
SHARE_LINK = "sl"  # project id (🔗 Share link)
GENERATE_ALL = "ga"  # an album's first shot id (🎬 Generate all)
CHAT_SET = "cf"  # current project id, arg "mode=pro" / "lang=zh" / "sound=1" (/settings)
LANG = "l"  # 0, arg "en" / "zh"
FORGET = "f"  # the user's own id (only they may confirm), arg "yes" / "no"
MOVE_UP = "mu"  # shot id (storyboard ⬆️)
MOVE_DOWN = "md"  # shot id (storyboard ⬇️)
STILL = "cs"  # revision id: make a clay still before animating
STILL_ANIMATE = "sa"  # revision id, arg: still number (🎬 Animate this)
STILL_AGAIN = "sn"  # revision id (🔄 Another still)
STILL_ORIGINAL = "so"  # revision id (📷 Use the original photo)
BUY = "by"  # a pack's credits, arg: its price in Stars (checked against the packs on sale)
ASPECT = "ar"  # project id, arg "16:9" / "9:16" / "1:1" (the project's card, /aspect)
ASPECT_DRAFT = "ad"  # revision id, arg as ASPECT (a draft's ⚙️: the settings come back)


@dataclass(frozen=True, slots=True)
class Button:
    """A pressed button's meaning: which action, on which row, with what choice."""

    action: str
    row_id: int
    arg: str | None = None


def encode(action: str, row_id: int, arg: str | None = None) -> str:
    """A button's callback data; over Telegram's 64 bytes is our bug, so it raises."""
    data = f"{action}:{row_id}" if arg is None else f"{action}:{row_id}:{arg}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def parse(data: str | None) -> Button | None:
    """The button's meaning, or None for data we never made (old versions, forgeries)."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(":", 2)
    if len(parts) < 2 or not _ROW_ID.fullmatch(parts[1]) or not _ACTION.fullmatch(parts[0]):
        return None
    row_id = int(parts[1])
    # Ids are database keys: a forged number past a 64-bit key would overflow the query.
    lowest = 0 if parts[0] == LANG else 1
    if not lowest <= row_id <= MAX_ROW_ID:
        return None
    return Button(parts[0], row_id, parts[2] if len(parts) == 3 else None)


def pattern(action: str) -> str:
    """The CallbackQueryHandler pattern for one action."""
    return rf"^{action}:[0-9]{{1,19}}(:.*)?$"
