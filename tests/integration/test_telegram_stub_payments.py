"""The stub's Stars payments, proven with the real python-telegram-bot: invoices refused
where Telegram refuses them, a pre-checkout answered once, a charge refunded once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from telegram import Bot, LabeledPrice
from telegram.error import BadRequest

from tests.fakes import updates as tg
from tests.fakes.telegram_stub import DEFAULT_TOKEN, TelegramStub


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    with TelegramStub() as running:
        yield running
    assert running.spec_violations == [], running.spec_violations


@pytest.fixture
async def bot(stub: TelegramStub) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=stub.base_url, base_file_url=stub.base_file_url) as b:
        yield b


async def test_a_stars_invoice_takes_no_provider_token_and_one_price(
    stub: TelegramStub, bot: Bot
) -> None:
    price = [LabeledPrice("10 credits", 50)]
    sent = await bot.send_invoice(3, "10 credits", "for clips", "p-1", "XTR", price)
    assert sent.invoice is not None
    assert (sent.invoice.currency, sent.invoice.total_amount) == ("XTR", 50)
    with pytest.raises(BadRequest, match="(?i)provider_token"):
        await bot.send_invoice(3, "10 credits", "x", "p-2", "XTR", price, provider_token="tok")
    with pytest.raises(BadRequest, match="(?i)exactly one price"):
        await bot.send_invoice(3, "10 credits", "x", "p-3", "XTR", price * 2)
    with pytest.raises(BadRequest, match="(?i)PAYMENT_PROVIDER_INVALID"):
        await bot.send_invoice(3, "10 credits", "x", "p-4", "USD", price)
    with pytest.raises(BadRequest, match="(?i)INVOICE_PAYLOAD_INVALID"):
        await bot.send_invoice(3, "10 credits", "x", "p" * 129, "XTR", price)
    with pytest.raises(BadRequest, match="(?i)title"):
        await bot.send_invoice(3, "t" * 33, "x", "p-5", "XTR", price)
    # The spec's limits caught the two over-long fields as well: both were meant here.
    assert [v.split(":")[0] for v in stub.spec_violations] == [
        "sendInvoice.payload",
        "sendInvoice.title",
    ]
    stub.spec_violations.clear()


async def test_a_pre_checkout_is_answered_once_and_a_no_needs_a_reason(
    stub: TelegramStub, bot: Bot
) -> None:
    user = tg.private_user()
    query = tg.pre_checkout_query(user, "p-1", 50)
    stub.push_update(tg.update(pre_checkout_query=query))
    assert stub.unanswered_pre_checkouts() == [query["id"]]
    with pytest.raises(BadRequest, match="(?i)error_message"):
        await bot.answer_pre_checkout_query(query["id"], ok=False)
    assert await bot.answer_pre_checkout_query(query["id"], ok=True)
    with pytest.raises(BadRequest, match="(?i)QUERY_ID_INVALID"):
        await bot.answer_pre_checkout_query(query["id"], ok=True)
    with pytest.raises(BadRequest, match="(?i)QUERY_ID_INVALID"):
        await bot.answer_pre_checkout_query("never-asked", ok=True)
    assert stub.unanswered_pre_checkouts() == []


async def test_a_charge_is_refunded_once_and_only_to_its_payer(
    stub: TelegramStub, bot: Bot
) -> None:
    user, other = tg.private_user(), tg.private_user()
    invoice = {"payload": "p-1", "currency": "XTR", "prices": [{"label": "x", "amount": 50}]}
    paid = stub.push_update(tg.successful_payment_update(tg.private_chat(user), user, invoice))
    charge = paid["message"]["successful_payment"]["telegram_payment_charge_id"]
    with pytest.raises(BadRequest, match="(?i)CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(other["id"], charge)
    with pytest.raises(BadRequest, match="(?i)CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(user["id"], "stx-unknown")
    assert await bot.refund_star_payment(user["id"], charge)
    with pytest.raises(BadRequest, match="(?i)CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(user["id"], charge)
    assert stub.refunded_charges() == [charge]
