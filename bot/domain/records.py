"""What the chat front end and the views read of stored rows, without knowing the storage.

Storage's models satisfy these Protocols structurally (mypy checks it wherever a model is
passed as a record). Members are read-only properties, so a frozen dataclass in a test fits
as well as a row; each Protocol names only what something outside storage reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class ProjectRecord(Protocol):
    """A chat's project: its name on lists, boards and films."""

    @property
    def id(self) -> int: ...

    @property
    def chat_id(self) -> int: ...

    @property
    def title(self) -> str: ...

    @property
    def soundtrack(self) -> str | None: ...

    @property
    def subtitles(self) -> bool: ...

    @property
    def narration(self) -> bool: ...  # each shot's line spoken over the film

    @property
    def sound(self) -> bool: ...  # native sound on its takes, where the model makes it


class ShotRecord(Protocol):
    """One photo in its place in a project, and where it came from in the chat."""

    @property
    def id(self) -> int: ...

    @property
    def project_id(self) -> int: ...

    @property
    def position(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def photo_path(self) -> str: ...

    @property
    def still_path(self) -> str | None: ...

    @property
    def chat_id(self) -> int | None: ...

    @property
    def message_id(self) -> int | None: ...

    @property
    def media_group_id(self) -> str | None: ...

    @property
    def current_revision_id(self) -> int | None: ...

    @property
    def kept_take_id(self) -> int | None: ...


class RevisionRecord(Protocol):
    """One draft or refinement of a shot's prompt, with what Generate will use."""

    @property
    def id(self) -> int: ...

    @property
    def shot_id(self) -> int: ...

    @property
    def parent_id(self) -> int | None: ...

    @property
    def number(self) -> int: ...

    @property
    def prompt(self) -> str: ...

    @property
    def negative_prompt(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def drafter(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...


class TakeRecord(Protocol):
    """One generation attempt as its status message, its clip and the CLI show it."""

    @property
    def id(self) -> int: ...

    @property
    def shot_id(self) -> int: ...

    @property
    def revision_id(self) -> int: ...

    @property
    def requested_by(self) -> int | None: ...

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def error_kind(self) -> str | None: ...

    @property
    def preview(self) -> bool: ...

    @property
    def clip_path(self) -> str | None: ...

    @property
    def clip_size(self) -> int | None: ...

    @property
    def clip_duration(self) -> float | None: ...

    @property
    def clip_width(self) -> int | None: ...

    @property
    def clip_height(self) -> int | None: ...

    @property
    def chat_id(self) -> int | None: ...

    @property
    def thread_id(self) -> int | None: ...

    @property
    def reply_to_message_id(self) -> int | None: ...

    # Settable: the observer notes the status message it just sent on the copy it holds,
    # so the next report in the same step edits that message instead of sending another.
    status_message_id: int | None

    @property
    def telegram_file_id(self) -> str | None: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def finished_at(self) -> datetime | None: ...

    @property
    def delivered_at(self) -> datetime | None: ...


class MessageRecord(Protocol):
    """What a message the bot sent stands for, so a reply or a button finds its row."""

    @property
    def kind(self) -> str: ...

    @property
    def shot_id(self) -> int | None: ...

    @property
    def revision_id(self) -> int | None: ...

    @property
    def take_id(self) -> int | None: ...
