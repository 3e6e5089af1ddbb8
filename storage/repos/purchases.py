"""Credit packs bought with Telegram Stars: recorded once per charge, refunded once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from bot.domain.states import PurchaseState
from storage.models import StarPurchase, utcnow
from storage.repos.base import Repository, rowcount


@dataclass(frozen=True, slots=True)
class Paid:
    """What one successful_payment carried, already checked by the payments service."""

    user_id: int
    pack: str
    stars: int
    credits: int
    telegram_charge_id: str
    provider_charge_id: str | None = None


class PurchasesRepo(Repository):
    """The star_purchases ledger: its unique charge id makes crediting idempotent."""

    async def record_paid(self, paid: Paid) -> bool:
        """Add the purchase unless its charge id is known already: True if it was new.

        INSERT … ON CONFLICT DO NOTHING on the unique charge id, so two deliveries of the
        same payment racing on two instances (or one redelivered later) credit it once.
        """
        now = utcnow()
        return await self._insert_if_missing(
            StarPurchase,
            user_id=paid.user_id,
            pack=paid.pack,
            stars=paid.stars,
            credits=paid.credits,
            credits_taken_back=0.0,
            telegram_charge_id=paid.telegram_charge_id,
            provider_charge_id=paid.provider_charge_id,
            state=PurchaseState.PAID,
            created_at=now,
            updated_at=now,
        )

    async def by_charge(self, charge_id: str) -> StarPurchase | None:
        return await self.session.scalar(
            select(StarPurchase).where(StarPurchase.telegram_charge_id == charge_id)
        )

    async def mark_refunded(self, charge_id: str, taken_back: float) -> bool:
        """Paid → refunded, taking back `taken_back` credits; False if it was not paid
        (already refunded by a concurrent /refund, or unknown)."""
        now = utcnow()
        result = await self.session.execute(
            update(StarPurchase)
            .where(
                StarPurchase.telegram_charge_id == charge_id,
                StarPurchase.state == PurchaseState.PAID,
            )
            .values(
                state=PurchaseState.REFUNDED,
                credits_taken_back=taken_back,
                refunded_at=now,
                updated_at=now,
            )
        )
        return rowcount(result) == 1
