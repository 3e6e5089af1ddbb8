"""What `claymate doctor` finds: one result per check, and what the adapters report to it.

A result carries message keys, not sentences, so the same findings print in English or
Chinese on the command line and in /doctor. Values put into the messages are secret-free by
construction: names, counts, URLs without credentials, a provider's short reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Note:
    """A sentence by its i18n key and the values filled into it."""

    key: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report: ✓ or ✗, what was found, and for ✗ the one-line fix."""

    name: str  # the check's i18n label key, e.g. "doctor.name.database"
    ok: bool
    detail: Note
    fix: Note | None = None

    @classmethod
    def passed(cls, name: str, key: str, **values: object) -> CheckResult:
        return cls(name, True, Note(key, values))

    @classmethod
    def failed(cls, name: str, key: str, fix: Note, **values: object) -> CheckResult:
        return cls(name, False, Note(key, values), fix)


@dataclass(frozen=True, slots=True)
class ModelAccess:
    """A provider's answer to a cheap authenticated call: the key worked; is the model known?

    `known` lists the models the provider (or our allow-list) accepts, so a ✗ can name them.
    """

    model: str
    known: tuple[str, ...]

    @property
    def model_ok(self) -> bool:
        return self.model in self.known


@dataclass(frozen=True, slots=True)
class BotStatus:
    """getMe and getWebhookInfo, as the doctor needs them."""

    username: str
    webhook_url: str
    pending_updates: int
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where the database's migrations stand against this version's."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    known: bool = True  # False: the database is at a revision this version does not have

    @property
    def at_head(self) -> bool:
        return bool(self.heads) and set(self.current) == set(self.heads)
