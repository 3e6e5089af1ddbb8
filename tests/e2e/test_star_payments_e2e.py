"""Buying credits with Telegram Stars through the real bot and the Bot API stub: a used-up
quota offers the packs, the invoice is in Stars, Telegram's pre-checkout is answered, a
payment credits once however often it is delivered, the credits pay for a take, and an
operator's /refund gives the Stars back and takes back what is left, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.domain.packs import StarPack
from bot.services.payments import Payments
from bot.wiring import payload_key
from storage.db import Database
from storage.models import StarPurchase, UsageEntry
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.e2e.test_private_chat import button, draft_for_photo
from tests.fakes.telegram_stub import Call, TelegramStub
from tests.fakes.updates import (
    button_press,
    command_update,
    new_charge_id,
    pre_checkout_query,
    pre_checkout_update,
    private_chat,
    private_user,
    successful_payment_update,
    update,
)

PACKS = "10:50,30:120"


def said(text: str):  # type: ignore[no-untyped-def]
    return lambda call: text in str(call.params.get("text"))


def offers_packs(call: Call) -> bool:
    return '"by:' in str(call.params.get("reply_markup")).replace("'", '"')


async def rows(bot: RunningBot, model: type) -> list:  # type: ignore[type-arg]
    db = Database.from_url(bot.settings.resolved_database_url)
    try:
        async with db.session() as session:
            return list(await session.scalars(select(model)))
    finally:
        await db.dispose()


async def test_a_user_buys_credits_spends_them_and_an_operator_refunds_once(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes, database_url: str
) -> None:
    operator = private_user(first_name="Op")
    settings = bot_settings(
        tmp_path,
        stub,
        database_url=database_url,
        star_packs=PACKS,
        costs="offline=1",
        quota_user_day=0,  # no free quota: every take needs a credit
        offline_max_concurrent=0,  # takes stay queued: the test reads the ledger
        admin_ids=(operator["id"],),
        paysupport_contact="@clay_help",
    )
    bot = await start_bot(stub, settings)
    try:
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")

        # The quota is used up: 🎬 Generate is refused, and the packs are offered.
        bot.push(button_press(bot.user, draft, button(draft, "g")))
        refusal = await bot.wait_for("answerCallbackQuery", said("costs 1, 0 left"))
        assert refusal.params["show_alert"] is True
        offer = bot.sent_message(await bot.wait_for("sendMessage", offers_packs))
        assert "quota is used up" in offer["text"]

        # A pack's button sends an invoice in Stars: XTR, no provider token, one price.
        bot.push(button_press(bot.user, offer, "by:10:50"))
        invoice = await bot.wait_for("sendInvoice")
        assert invoice.params["currency"] == "XTR"
        assert not invoice.params.get("provider_token")
        assert [p["amount"] for p in invoice.params["prices"]] == [50]
        assert invoice.params["chat_id"] == bot.user["id"]
        assert "10:50" in invoice.params["payload"]  # signed, so re-checked later

        # Telegram asks before taking the Stars: yes.
        bot.push(pre_checkout_update(bot.user, invoice.params))
        answer = await bot.wait_for("answerPreCheckoutQuery")
        assert answer.params["ok"] is True and answer.ok

        # The payment, then the same payment delivered again: credited once.
        charge = new_charge_id()
        bot.push(successful_payment_update(bot.chat, bot.user, invoice.params, charge_id=charge))
        await bot.wait_for("sendMessage", said("10 credits added"))
        bot.push(successful_payment_update(bot.chat, bot.user, invoice.params, charge_id=charge))
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        usage = await bot.wait_for("sendMessage", said("Credits bought with Stars"))
        assert "10 left" in usage.params["text"]
        thanks = [c for c in stub.calls("sendMessage") if "credits added" in c.params["text"]]
        assert len(thanks) == 1
        [purchase] = await rows(bot, StarPurchase)
        assert (purchase.telegram_charge_id, purchase.credits, purchase.stars) == (charge, 10, 50)

        # The credits pay for a take.
        bot.push(button_press(bot.user, draft, button(draft, "g")))
        await bot.wait_for("sendMessage", lambda c: "c:" in str(c.params.get("reply_markup")))
        [entry] = await rows(bot, UsageEntry)
        assert (entry.units, entry.credit_units, entry.state) == (1.0, 1.0, "reserved")
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        await bot.wait_for("sendMessage", said("9 left"))

        # Only an operator refunds.
        bot.push(command_update(bot.chat, bot.user, "/refund", charge))
        await bot.wait_for("sendMessage", said("Only the bot's operators"))
        assert stub.calls("refundStarPayment") == []
        desk = private_chat(operator)
        bot.push(command_update(desk, operator, "/refund", charge))
        done = await bot.wait_for("sendMessage", said("Refunded 50 Stars"))
        assert "took back 9 of 10 credits (already spent: 1)" in done.params["text"]
        [refund] = stub.calls("refundStarPayment")
        assert refund.params == {"user_id": bot.user["id"], "telegram_payment_charge_id": charge}
        assert stub.refunded_charges() == [charge]
        # A second /refund changes nothing and asks Telegram nothing.
        bot.push(command_update(desk, operator, "/refund", charge))
        await bot.wait_for("sendMessage", said("refunded already"))
        assert len(stub.calls("refundStarPayment")) == 1
        [purchase] = await rows(bot, StarPurchase)
        assert (purchase.state, purchase.credits_taken_back) == ("refunded", 9.0)
        bot.push(command_update(bot.chat, bot.user, "/usage"))
        await bot.wait_for("sendMessage", said("Credits bought with Stars: 0 left"))

        bot.push(command_update(bot.chat, bot.user, "/paysupport"))
        support = await bot.wait_for("sendMessage", said("Help with a payment"))
        assert "@clay_help" in support.params["text"]
        assert stub.unanswered_pre_checkouts() == []
        # Long after the redelivery was handled: still one thank-you, one purchase.
        thanks = [c for c in stub.calls("sendMessage") if "credits added" in c.params["text"]]
        assert len(thanks) == 1 and len(await rows(bot, StarPurchase)) == 1
    finally:
        await stop_bot(bot)


async def test_pre_checkout_refuses_a_withdrawn_pack_a_forged_one_and_a_stranger(
    stub: TelegramStub, tmp_path: Path
) -> None:
    friend, stranger = private_user(first_name="Lin"), private_user(first_name="Zed")
    settings = bot_settings(tmp_path, stub, star_packs=PACKS, allowed_ids=(friend["id"],))
    bot = await start_bot(stub, settings)
    signer = Payments(None, None, (), payload_key(settings))  # type: ignore[arg-type]
    try:
        # An invoice sent while 10 credits cost 40 Stars: the price has changed since.
        old = signer.payload_for(StarPack(10, 40))
        bot.push(update(pre_checkout_query=pre_checkout_query(friend, old, 40)))
        gone = await bot.wait_for("answerPreCheckoutQuery")
        assert gone.params["ok"] is False
        assert "no longer on sale" in gone.params["error_message"]

        forged = old.replace("10:40", "30:40", 1)
        bot.push(update(pre_checkout_query=pre_checkout_query(friend, forged, 40)))
        await bot.wait_for(
            "answerPreCheckoutQuery", lambda c: "no longer valid" in str(c.params), count=1
        )

        current = signer.payload_for(StarPack(10, 50))
        bot.push(update(pre_checkout_query=pre_checkout_query(stranger, current, 50)))
        await bot.wait_for("answerPreCheckoutQuery", lambda c: "private" in str(c.params))
        bot.push(update(pre_checkout_query=pre_checkout_query(friend, current, 50)))
        await bot.wait_for("answerPreCheckoutQuery", lambda c: c.params["ok"] is True)
        assert stub.unanswered_pre_checkouts() == []
        # A button for a pack no longer on sale sends no invoice.
        menu = command_update(private_chat(friend), friend, "/buy")
        bot.push(menu)
        listed = bot.sent_message(await bot.wait_for("sendMessage", offers_packs))
        bot.push(button_press(friend, listed, "by:10:40"))
        await bot.wait_for("answerCallbackQuery", said("no longer on sale"))
        assert stub.calls("sendInvoice") == []
    finally:
        await stop_bot(bot)


async def test_without_packs_buy_says_so_and_a_used_up_quota_offers_nothing(
    stub: TelegramStub, tmp_path: Path, city_photo: bytes
) -> None:
    settings = bot_settings(tmp_path, stub, costs="offline=1", quota_user_day=0)
    bot = await start_bot(stub, settings)
    try:
        bot.push(command_update(bot.chat, bot.user, "/buy"))
        await bot.wait_for("sendMessage", said("does not sell credits"))
        _, draft = await draft_for_photo(bot, city_photo, "boats glide")
        bot.push(button_press(bot.user, draft, button(draft, "g")))
        await bot.wait_for("answerCallbackQuery", lambda c: c.params.get("show_alert") is True)
        bot.push(command_update(bot.chat, bot.user, "/paysupport"))
        await bot.wait_for("sendMessage", said("Help with a payment"))
        assert not [c for c in stub.calls("sendMessage") if offers_packs(c)]
    finally:
        await stop_bot(bot)
