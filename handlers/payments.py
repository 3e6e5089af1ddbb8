"""Buying credits with Telegram Stars: /buy, the invoice, Telegram's questions, /refund and
/paysupport. The rules (which pack, who may pay, crediting once) are bot/services/payments.py.
"""

from __future__ import annotations

import html
import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.domain.packs import StarPack
from bot.domain.types import Actor
from bot.i18n import language_for, t
from bot.services.payments import CURRENCY
from handlers import callbacks as cb
from handlers.common import Context, actor_for, button, reply_html, services, thread_of

log = logging.getLogger(__name__)

# Telegram shows these to the buyer when the pre-checkout is refused: it caps them.
ERROR_MESSAGE_LIMIT = 200


def packs_keyboard(packs: tuple[StarPack, ...], lang: str) -> InlineKeyboardMarkup:
    """One button per pack: "⭐ 10 credits for 50 Stars"."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("pay.pack_button", lang, credits=pack.credits, stars=pack.stars),
                    callback_data=cb.encode(cb.BUY, pack.credits, str(pack.stars)),
                )
            ]
            for pack in packs
        ]
    )


async def offer_packs(context: Context, message: Message, actor: Actor) -> None:
    """Under a "quota used up" answer: the packs on sale, if payments are on."""
    payments = services(context).payments
    if not payments.enabled:
        return
    await reply_html(
        context,
        message,
        t("pay.quota_offer", actor.lang),
        packs_keyboard(payments.packs, actor.lang),
    )


async def on_buy(update: Update, context: Context) -> None:
    """/buy: the credit packs on sale, and the credits you have."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    payments = services(context).payments
    if not payments.enabled:
        await reply_html(context, message, t("pay.off", actor.lang))
        return
    credits = await payments.credits(actor.user_id)
    text = t("pay.choose", actor.lang, credits=f"{credits:g}")
    await reply_html(context, message, text, packs_keyboard(payments.packs, actor.lang))


@button
async def on_pack_pressed(
    update: Update, context: Context, actor: Actor, data: cb.Button
) -> str | None:
    """A pack's button: send its invoice, if the pack is still on sale at that price."""
    payments = services(context).payments
    price = data.arg or ""
    pack = payments.pack(data.row_id, int(price)) if price.isdigit() else None
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    if pack is None:
        return t("pay.pack_gone", actor.lang)
    await context.bot.send_invoice(
        query.message.chat_id,
        title=t("pay.invoice_title", actor.lang, credits=pack.credits),
        description=t("pay.invoice_description", actor.lang, credits=pack.credits),
        payload=payments.payload_for(pack),
        currency=CURRENCY,  # Stars: no provider token, exactly one price
        prices=[LabeledPrice(t("pay.price_label", actor.lang, credits=pack.credits), pack.stars)],
        message_thread_id=thread_of(query.message),
    )
    return None


async def on_pre_checkout(update: Update, context: Context) -> None:
    """Telegram asks before taking the Stars: yes only for a pack still on sale at that
    price, to someone the bot admits. Answered at once: Telegram waits 10 s at most."""
    query = update.pre_checkout_query
    assert query is not None
    lang = language_for(query.from_user.language_code)
    try:
        problem = await services(context).payments.check_pre_checkout(
            query.from_user.id, query.invoice_payload, query.currency, query.total_amount
        )
    except Exception:  # a refusal now beats no answer: Telegram would fail it anyway
        log.exception("pre-checkout %s: could not be checked", query.id)
        problem = "pay.refused_later"
    if problem is None:
        await query.answer(ok=True)
        return
    log.info("pre-checkout %s refused: %s", query.id, problem)
    await query.answer(ok=False, error_message=t(problem, lang)[:ERROR_MESSAGE_LIMIT])


async def on_successful_payment(update: Update, context: Context) -> None:
    """The Stars were paid: credit the pack once per charge, and say so."""
    message = update.effective_message
    assert message is not None and message.successful_payment is not None
    user = message.from_user
    assert user is not None
    payment = message.successful_payment
    actor = await actor_for(update, context)
    credited = await services(context).payments.record_payment(
        user.id,
        payment.invoice_payload,
        payment.currency,
        payment.total_amount,
        payment.telegram_payment_charge_id,
        payment.provider_payment_charge_id,
    )
    if not credited.new:
        log.info("payment %s: delivered again, nothing added", message.message_id)
        return
    key = credited.problem or "pay.thanks"
    text = t(key, actor.lang, credits=credited.credits, balance=f"{credited.balance:g}")
    await reply_html(context, message, text)


async def on_refund(update: Update, context: Context) -> None:
    """/refund CHARGE_ID (operators): give the Stars back and take back what is left of
    the pack's credits. A second /refund of the same charge changes nothing."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    if not services(context).permissions.is_operator(actor.user_id):
        await reply_html(context, message, t("admin.only_operators", actor.lang))
        return
    args = list(context.args or [])
    if len(args) != 1 or not 1 <= len(args[0]) <= 255:
        await reply_html(context, message, t("pay.refund_usage", actor.lang))
        return
    charge_id = args[0]
    payments = services(context).payments
    purchase = await payments.purchase(charge_id)
    if purchase is None:
        await reply_html(context, message, t("pay.refund_unknown", actor.lang))
        return
    if purchase.state == "paid":
        try:
            await context.bot.refund_star_payment(purchase.user_id, charge_id)
        except TelegramError as error:
            # Refunded already on Telegram's side (say, by another instance): record it.
            if "ALREADY_REFUNDED" not in str(error).upper():
                log.warning("refund of a %s-star payment refused: %s", purchase.stars, error)
                reason = html.escape(str(error)[:200])
                text = t("pay.refund_failed", actor.lang, reason=reason)
                await reply_html(context, message, text)
                return
    refunded = await payments.record_refund(charge_id)
    if refunded is None or not refunded.changed:
        await reply_html(context, message, t("pay.refund_already", actor.lang))
        return
    spent = refunded.credits - refunded.taken_back
    await reply_html(
        context,
        message,
        t(
            "pay.refunded",
            actor.lang,
            stars=purchase.stars,
            user=purchase.user_id,
            taken=f"{refunded.taken_back:g}",
            credits=refunded.credits,
            spent=f"{spent:g}",
        ),
    )


async def on_paysupport(update: Update, context: Context) -> None:
    """/paysupport: how to get help with a payment, as Telegram asks bots that sell."""
    actor = await actor_for(update, context)
    message = update.effective_message
    assert message is not None
    contact = services(context).payments.support_contact
    text = t("pay.support", actor.lang)
    if contact:
        text += "\n" + t("pay.support_contact", actor.lang, contact=html.escape(contact))
    await reply_html(context, message, text)


async def on_refunded_payment(update: Update, context: Context) -> None:
    """Telegram's note that Stars went back: the credits were taken by /refund already."""
    message = update.effective_message
    if message is not None:
        log.info("refunded_payment noted in chat %s", message.chat_id)


COMMANDS = {"buy": on_buy, "paysupport": on_paysupport, "refund": on_refund}


def register(app: Application) -> None:
    """/buy, /paysupport, /refund, the pack buttons and Telegram's payment updates."""
    for name, command in COMMANDS.items():
        app.add_handler(CommandHandler(name, command))
    app.add_handler(CallbackQueryHandler(on_pack_pressed, pattern=cb.pattern(cb.BUY)))
    app.add_handler(PreCheckoutQueryHandler(on_pre_checkout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, on_successful_payment))
    app.add_handler(MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, on_refunded_payment))
