"""Credits bought with Telegram Stars: invoices, the pre-checkout check, crediting, refunds.

The flow (providers.md 6.2): /buy or a "quota used up" button sends an invoice in Stars
(currency XTR, no provider token, one price); Telegram asks `pre_checkout_query`, answered
within 10 s after checking the pack is still sold at that price and the buyer may use the
bot; then `successful_payment` credits the pack, once per telegram_payment_charge_id. The
invoice payload is a token this bot signed, naming the pack and its price: never trusted
until its signature checks, and re-checked on every step.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.packs import StarPack
from bot.domain.states import PurchaseState
from bot.domain.types import Verdict
from bot.services.access import Access
from storage.db import Database
from storage.repos.purchases import Paid

log = logging.getLogger(__name__)

CURRENCY = "XTR"  # Telegram Stars
_MAC_HEX = 32  # 128 bits of HMAC-SHA256: the payload stays far under Telegram's 128 bytes


@dataclass(frozen=True, slots=True)
class Credited:
    """What a successful_payment did: `new` False for a charge seen before (nothing added).

    `problem` names an i18n key when the payment matched no pack this bot signed: recorded
    with no credits, for an operator to refund."""

    new: bool
    credits: int
    balance: float
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class PurchaseView:
    """One purchase, as /refund needs it."""

    user_id: int
    stars: int
    credits: int
    state: str


@dataclass(frozen=True, slots=True)
class Refunded:
    """What /refund took back: at most what the buyer had left, never below zero."""

    changed: bool  # False: it was refunded already (nothing taken twice)
    credits: int
    taken_back: float


class Payments:
    """Stars packs and the purchases ledger, for the chat front end."""

    def __init__(
        self,
        db: Database,
        access: Access,
        packs: Sequence[StarPack],
        secret: bytes,
        support_contact: str | None = None,
    ) -> None:
        self.db = db
        self.access = access
        self.packs = tuple(packs)
        self._secret = secret
        self.support_contact = support_contact

    @property
    def enabled(self) -> bool:
        return bool(self.packs)

    def pack(self, credits: int, stars: int) -> StarPack | None:
        """The pack on sale with exactly this size and price, if there still is one."""
        wanted = StarPack(credits, stars)
        return wanted if wanted in self.packs else None

    # --- the invoice payload ----------------------------------------------------------------

    def payload_for(self, pack: StarPack) -> str:
        """A fresh signed token naming the pack and its price (never shown to the buyer)."""
        body = f"{pack.credits}:{pack.stars}:{secrets.token_hex(6)}"
        return f"{body}:{self._mac(body)}"

    def pack_in(self, payload: str) -> StarPack | None:
        """The pack a payload names, if this bot signed it; None for anything else."""
        body, _, mac = payload.rpartition(":")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        credits, _, rest = body.partition(":")
        stars = rest.partition(":")[0]
        if not credits.isdigit() or not stars.isdigit():
            return None
        return StarPack(int(credits), int(stars))

    def _mac(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:_MAC_HEX]

    # --- Telegram's questions -------------------------------------------------------------

    async def check_pre_checkout(
        self, user_id: int, payload: str, currency: str, total_amount: int
    ) -> str | None:
        """None if this order may be paid, else the i18n key of why not. Quick: one read."""
        signed = self.pack_in(payload)
        if signed is None or currency != CURRENCY or total_amount != signed.stars:
            return "pay.refused_invalid"
        if self.pack(signed.credits, signed.stars) is None:  # withdrawn or repriced since
            return "pay.refused_pack_gone"
        if await self.access.admit(user_id, None) is not Verdict.ADMIT:
            return "pay.refused_access"
        return None

    async def record_payment(
        self,
        user_id: int,
        payload: str,
        currency: str,
        total_amount: int,
        charge_id: str,
        provider_charge_id: str | None = None,
    ) -> Credited:
        """Credit a successful payment once per charge id (a redelivery adds nothing).

        The pack the signed payload names is credited even if it was withdrawn since the
        pre-checkout: the buyer paid for what they were offered. A payment this bot did not
        sign, or of another amount, is still recorded (with no credits) for a refund.
        """
        signed = self.pack_in(payload)
        valid = signed is not None and currency == CURRENCY and total_amount == signed.stars
        if signed is None or not valid:
            log.error(
                "payment %s: matches no pack this bot signed; recorded with 0 credits",
                charge_id[:12],
            )
        credits = signed.credits if signed is not None and valid else 0
        paid = Paid(
            user_id=user_id,
            pack=signed.key if signed is not None and valid else "unknown",
            stars=total_amount if currency == CURRENCY else 0,
            credits=credits,
            telegram_charge_id=charge_id,
            provider_charge_id=provider_charge_id or None,
        )
        async with self.db.unit_of_work() as uow:
            new = await uow.purchases.record_paid(paid)
            balance = max(0.0, await uow.accounts.credit_balance(user_id))
        if new:
            log.info("payment %s: %s credits for user %s", charge_id[:12], credits, user_id)
        return Credited(new, credits, balance, None if credits else "pay.unmatched")

    # --- refunds ----------------------------------------------------------------------------

    async def purchase(self, charge_id: str) -> PurchaseView | None:
        async with self.db.unit_of_work() as uow:
            found = await uow.purchases.by_charge(charge_id)
            if found is None:
                return None
            return PurchaseView(found.user_id, found.stars, found.credits, found.state)

    async def record_refund(self, charge_id: str) -> Refunded | None:
        """After Telegram refunded the Stars: take back what is left of the pack's credits
        (never more: the balance does not go negative) and mark the purchase refunded.
        Serialised with spending on the buyer's budget lock, so nothing is spent twice."""
        async with self.db.unit_of_work() as uow:
            found = await uow.purchases.by_charge(charge_id)
            if found is None:
                return None
            if found.state != PurchaseState.PAID:
                return Refunded(False, found.credits, found.credits_taken_back)
            await uow.accounts.lock_subjects(found.user_id)
            balance = max(0.0, await uow.accounts.credit_balance(found.user_id))
            taken_back = min(float(found.credits), balance)
            changed = await uow.purchases.mark_refunded(charge_id, taken_back)
            return Refunded(changed, found.credits, taken_back if changed else 0.0)

    async def credits(self, user_id: int) -> float:
        """The credits a user has left."""
        async with self.db.unit_of_work() as uow:
            return max(0.0, await uow.accounts.credit_balance(user_id))
