"""Errors that carry meaning across layers: what the user can fix, what a provider said."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StudioError(Exception):
    """A request the user can fix; `key` names the message in bot.i18n."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class ErrorKind(StrEnum):
    """What a failure means for the user and for the retry policy."""

    AUTH = "auth"  # our keys are wrong: operator problem
    BALANCE = "balance"  # account out of credit: operator problem, never retried
    PERMISSION = "permission"  # model or API not allowed for this account
    RATE_LIMITED = "rate_limited"  # retry with backoff
    BUSY = "busy"  # concurrency cap reached: retry with backoff
    INVALID = "invalid"  # request rejected: fix or report, not retried as-is
    CONTENT = "content"  # moderation: tell the user in plain words, never retried
    TRANSIENT = "transient"  # 5xx, timeouts, connection errors: bounded retries
    EXPIRED = "expired"  # the result URL is gone
    TIMEOUT = "timeout"  # the task did not finish within our deadline
    TOO_LARGE = "too_large"  # the finished clip is over the chat's upload limit
    REJECTED = "rejected"  # Telegram refused the finished clip (a Bad Request): not retried
    UNKNOWN = "unknown"


RETRYABLE_KINDS = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.BUSY, ErrorKind.TRANSIENT})


@dataclass(slots=True)
class ProviderError(Exception):
    """A provider call failed. `detail` is for operators' logs; users see `kind` rendered."""

    kind: ErrorKind
    detail: str = ""
    code: int | None = None
    retry_after: float | None = None
    may_have_created: bool = False  # a create that timed out: look up by external id first
    extra: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        code = f" code={self.code}" if self.code is not None else ""
        return f"{self.kind.value}{code}: {self.detail}"

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS
