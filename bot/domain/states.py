"""The states a take, a shot and a usage entry can be in, and the moves a take may make.

Members are `StrEnum`s, so they compare equal to the strings stored in the database: the
columns stay plain strings and a row read back needs no conversion to be compared.
"""

from __future__ import annotations

from enum import StrEnum


class TakeState(StrEnum):
    """Where one generation attempt is; every step is committed before the next begins."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    RENDERING = "rendering"
    DOWNLOADING = "downloading"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


_S = TakeState

TERMINAL_TAKE_STATES: frozenset[TakeState] = frozenset({_S.DELIVERED, _S.FAILED, _S.CANCELLED})

# The clip is on disk and its message is on its way to the chat or there: it may be kept,
# voted for or continued from. The message (and its buttons) reaches the user's phone before
# the bot hears back from sendVideo and records the delivery, so a quick press lands in the
# delivering state and must not be told the take is gone.
CLIP_READY_STATES: frozenset[TakeState] = frozenset({_S.DELIVERING, _S.DELIVERED})

# Holding a provider concurrency slot: the create call is out, or the task exists upstream.
ACTIVE_UPSTREAM_STATES: frozenset[TakeState] = frozenset(
    {_S.SUBMITTING, _S.SUBMITTED, _S.RENDERING}
)

# Every take may fail from wherever it is (a provider error, a deadline, a missing provider),
# and may be cancelled from wherever it is because Ctrl-C in the CLI abandons its take at any
# step; a user's ✖ in Telegram is narrower (queued only), a rule the use case checks.
_ENDS = frozenset({_S.FAILED, _S.CANCELLED})

TAKE_TRANSITIONS: dict[TakeState, frozenset[TakeState]] = {
    _S.QUEUED: frozenset({_S.SUBMITTING}) | _ENDS,
    # Back to QUEUED: the create call failed and nothing was made upstream, so the slot frees.
    _S.SUBMITTING: frozenset({_S.SUBMITTED, _S.QUEUED}) | _ENDS,
    # Straight to DOWNLOADING when the first poll already finds the clip ready.
    _S.SUBMITTED: frozenset({_S.RENDERING, _S.DOWNLOADING}) | _ENDS,
    _S.RENDERING: frozenset({_S.DOWNLOADING}) | _ENDS,
    _S.DOWNLOADING: frozenset({_S.DELIVERING}) | _ENDS,
    _S.DELIVERING: frozenset({_S.DELIVERED}) | _ENDS,
    _S.DELIVERED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    """A take was asked to move where its state machine has no edge: a bug, never user input."""

    def __init__(self, take_id: int | None, current: str, to: str) -> None:
        super().__init__(f"take {take_id}: no move from {current!r} to {to!r}")
        self.take_id, self.current, self.to = take_id, current, to


def may_move(current: str, to: str) -> bool:
    """Whether a take in `current` may move to `to` (unknown states may not move at all)."""
    try:
        return TakeState(to) in TAKE_TRANSITIONS.get(TakeState(current), frozenset())
    except ValueError:
        return False


class ShotState(StrEnum):
    """A photo's shot: waiting for words, drafted (ready to refine and generate), or dropped."""

    AWAITING_DESCRIPTION = "awaiting_description"
    DRAFTED = "drafted"
    CANCELLED = "cancelled"


class ChargeState(StrEnum):
    """A usage-ledger entry: units held for work, then charged or refunded; or a grant."""

    RESERVED = "reserved"
    CHARGED = "charged"
    REFUNDED = "refunded"
    GRANTED = "granted"


class PurchaseState(StrEnum):
    """A credit pack bought with Stars: paid (credits added), or refunded by an operator."""

    PAID = "paid"
    REFUNDED = "refunded"


# What counts against a budget: held, spent, and (negative units) what an admin gave back.
SPENDING_CHARGE_STATES: frozenset[ChargeState] = frozenset(
    {ChargeState.RESERVED, ChargeState.CHARGED, ChargeState.GRANTED}
)
