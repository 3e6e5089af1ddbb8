"""Credits bought with Stars on real databases (SQLite and PostgreSQL): a payment credits
once however often or concurrently it is delivered, credits pay only what the free quota
does not (or first, as configured), go back with a failed take, and a refund takes back
what is left, never more, once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.errors import StudioError
from bot.domain.packs import StarPack, parse_star_packs
from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.services import Services
from bot.services.payments import Payments
from storage.db import Database
from storage.models import StarPurchase, UsageEntry
from storage.uow import UnitOfWork
from tests.integration.test_budget_quotas import USER, finish, revisions, services_for

PACKS = "10:50,30:120"
TEN = StarPack(10, 50)


def paying(db: Database, tmp_path: Path, **settings: object) -> Services:
    values: dict[str, object] = {"star_packs": PACKS, "quota_user_day": 1}
    values.update(settings)
    return services_for(db, tmp_path, **values)


async def buy(payments: Payments, charge: str, pack: StarPack = TEN) -> bool:
    paid = await payments.record_payment(
        USER, payments.payload_for(pack), "XTR", pack.stars, charge
    )
    return paid.new


async def purchases(db: Database) -> list[StarPurchase]:
    async with db.session() as session:
        return list(await session.scalars(select(StarPurchase).order_by(StarPurchase.id)))


async def credit_units(db: Database) -> list[tuple[float, float, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(UsageEntry.units, UsageEntry.credit_units, UsageEntry.state).order_by(
                UsageEntry.id
            )
        )
        return [(float(u), float(c), str(s)) for u, c, s in rows.all()]


async def test_a_redelivered_payment_credits_once(database: Database, tmp_path: Path) -> None:
    payments = paying(database, tmp_path).payments
    assert await buy(payments, "stx-1") is True
    assert await buy(payments, "stx-1") is False  # the same charge again: nothing added
    assert await payments.credits(USER) == 10
    [row] = await purchases(database)
    assert (row.user_id, row.pack, row.stars, row.credits, row.state) == (
        USER,
        "10:50",
        50,
        10,
        "paid",
    )


async def test_two_instances_delivering_one_payment_at_once_credit_it_once(
    database_url: str, tmp_path: Path
) -> None:
    # Two engines, as two bot instances would have, racing on the same charge id.
    first, second = Database.from_url(database_url), Database.from_url(database_url)
    try:
        a, b = paying(first, tmp_path).payments, paying(second, tmp_path).payments
        for round_ in range(3):
            charge = f"stx-race-{round_}"
            results = await asyncio.gather(buy(a, charge), buy(b, charge), buy(a, charge))
            assert sorted(results) == [False, False, True]
        assert await a.credits(USER) == 30
        assert len(await purchases(first)) == 3
    finally:
        await first.dispose()
        await second.dispose()


async def test_credits_pay_after_the_free_quota_and_come_back_with_a_failed_take(
    database: Database, tmp_path: Path
) -> None:
    services = paying(database, tmp_path)  # a take costs 1; the free quota is 1 a day
    ids = await revisions(database, USER, 4)
    actor = Actor(USER, USER)
    await services.generation.request_take(actor, ids[0])  # free
    with pytest.raises(StudioError) as refused:
        await services.generation.request_take(actor, ids[1])
    assert refused.value.key == "budget.exceeded"
    await buy(services.payments, "stx-2", StarPack(1, 5))
    # A pack of 1 credit for 5 Stars is not on sale: the payload still names what was paid.
    assert await services.payments.credits(USER) == 1
    second = (await services.generation.request_take(actor, ids[1])).take
    assert await services.payments.credits(USER) == 0
    with pytest.raises(StudioError):
        await services.generation.request_take(actor, ids[2])
    assert (await credit_units(database))[1] == (1.0, 1.0, "reserved")
    async with database.session() as session:
        take = await UnitOfWork(session).takes.get_take(second.id)
        assert take is not None
        await finish(UnitOfWork(session), take, TakeState.FAILED)
    assert await services.payments.credits(USER) == 1  # refunded with the take
    usage = await services.accounts.usage(USER)
    assert usage.day.reserved == 1.0 and usage.credits == 1  # credits never count as quota


async def test_a_take_can_be_paid_partly_by_the_quota_and_partly_by_credits(
    database: Database, tmp_path: Path
) -> None:
    services = paying(database, tmp_path, costs="kling:std:5=1.5")
    ids = await revisions(database, USER, 1)
    await buy(services.payments, "stx-3")
    await services.generation.request_take(Actor(USER, USER), ids[0])
    assert await credit_units(database) == [(1.5, 0.5, "reserved")]
    assert await services.payments.credits(USER) == 9.5


async def test_credits_first_spends_credits_before_the_free_quota(
    database: Database, tmp_path: Path
) -> None:
    services = paying(database, tmp_path, credits_first=True)
    ids = await revisions(database, USER, 3)
    await buy(services.payments, "stx-4", StarPack(1, 5))
    actor = Actor(USER, USER)
    await services.generation.request_take(actor, ids[0])  # paid by the credit
    await services.generation.request_take(actor, ids[1])  # then the free quota
    with pytest.raises(StudioError):
        await services.generation.request_take(actor, ids[2])
    assert [c for _u, c, _s in await credit_units(database)] == [1.0, 0.0]


async def test_without_any_quota_no_credit_is_spent(database: Database, tmp_path: Path) -> None:
    services = services_for(database, tmp_path, star_packs=PACKS, credits_first=True)
    ids = await revisions(database, USER, 1)
    await buy(services.payments, "stx-5")
    await services.generation.request_take(Actor(USER, USER), ids[0])
    assert await services.payments.credits(USER) == 10


async def test_a_refund_takes_back_what_is_left_once_and_never_below_zero(
    database: Database, tmp_path: Path
) -> None:
    services = paying(database, tmp_path, quota_user_day=0)
    payments = services.payments
    ids = await revisions(database, USER, 3)
    await buy(payments, "stx-6", StarPack(2, 10))
    await buy(payments, "stx-7", StarPack(2, 10))
    actor = Actor(USER, USER)
    for revision_id in ids:  # 3 of the 4 credits spent
        await services.generation.request_take(actor, revision_id)
    first = await payments.record_refund("stx-6")
    assert first is not None and (first.changed, first.taken_back) == (True, 1.0)
    assert await payments.credits(USER) == 0
    again = await payments.record_refund("stx-6")
    assert again is not None and again.changed is False
    second = await payments.record_refund("stx-7")
    assert second is not None and (second.changed, second.taken_back) == (True, 0.0)
    assert await payments.credits(USER) == 0
    assert await payments.record_refund("stx-unknown") is None
    async with database.session() as session:
        states = await session.scalars(select(StarPurchase.state))
        assert set(states) == {"refunded"}


async def test_concurrent_refunds_of_one_charge_take_back_once(
    database: Database, tmp_path: Path
) -> None:
    payments = paying(database, tmp_path).payments
    await buy(payments, "stx-8")
    results = await asyncio.gather(*(payments.record_refund("stx-8") for _ in range(4)))
    changed = [r for r in results if r is not None and r.changed]
    assert len(changed) == 1 and changed[0].taken_back == 10
    async with database.session() as session:
        total = await session.scalar(select(func.sum(StarPurchase.credits_taken_back)))
    assert total == 10


async def test_pre_checkout_checks_the_signed_pack_its_price_and_the_buyer(
    database: Database, tmp_path: Path
) -> None:
    services = paying(database, tmp_path)
    payments = services.payments
    payload = payments.payload_for(StarPack(10, 50))
    assert await payments.check_pre_checkout(USER, payload, "XTR", 50) is None
    assert await payments.check_pre_checkout(USER, payload, "XTR", 49) == "pay.refused_invalid"
    assert await payments.check_pre_checkout(USER, payload, "USD", 50) == "pay.refused_invalid"
    forged = payload.replace("10:50", "30:50", 1)
    assert await payments.check_pre_checkout(USER, forged, "XTR", 50) == "pay.refused_invalid"
    withdrawn = payments.payload_for(StarPack(10, 40))  # signed, but no longer on sale
    assert await payments.check_pre_checkout(USER, withdrawn, "XTR", 40) == (
        "pay.refused_pack_gone"
    )
    await services.accounts.allow(USER, False, by=None)
    assert await payments.check_pre_checkout(USER, payload, "XTR", 50) == "pay.refused_access"


async def test_a_payment_no_signed_pack_matches_is_recorded_without_credits(
    database: Database, tmp_path: Path
) -> None:
    payments = paying(database, tmp_path).payments
    paid = await payments.record_payment(USER, "10:50:forged:00", "XTR", 50, "stx-9")
    assert (paid.new, paid.credits, paid.problem) == (True, 0, "pay.unmatched")
    [row] = await purchases(database)
    assert (row.credits, row.stars, row.pack) == (0, 50, "unknown")


def test_packs_are_parsed_and_bad_ones_named_without_echoing_them() -> None:
    assert parse_star_packs(" 10:50 ; 30:120 ") == (StarPack(10, 50), StarPack(30, 120))
    assert parse_star_packs("") == ()
    for bad, said in (
        ("7", "CREDITS:STARS"),
        ("7:-5", "CREDITS:STARS"),
        ("0:5", "credits"),
        ("5:20000", "Stars"),
        ("10:50,10:50", "twice"),
        (",".join(f"{n}:{n}" for n in range(1, 8)), "at most"),
    ):
        with pytest.raises(ValueError, match=said) as error:
            parse_star_packs(bad)
        assert bad not in str(error.value)
