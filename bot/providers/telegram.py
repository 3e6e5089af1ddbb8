"""getMe and getWebhookInfo for `claymate doctor`, through python-telegram-bot's own Bot.

Separate from the Application so the doctor can look without starting anything: no
polling, no webhook change, no handler. Errors come back as ProviderError, with the
token never in them (PTB's InvalidToken text can carry it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.health import BotStatus


async def bot_status(token: str, api_url: str, *, timeout_s: float = 10.0) -> BotStatus:
    """Who the token belongs to and how Telegram delivers its updates."""
    bot = Bot(token, base_url=f"{api_url}/bot", base_file_url=f"{api_url}/file/bot")
    try:
        async with bot:  # initialize() is the getMe that proves the token
            info = await bot.get_webhook_info(read_timeout=timeout_s)
            username = bot.username
    except InvalidToken:
        raise ProviderError(ErrorKind.AUTH, "Telegram rejected the bot token") from None
    except NetworkError as error:
        raise ProviderError(ErrorKind.TRANSIENT, type(error).__name__) from None
    except TelegramError as error:
        raise ProviderError(ErrorKind.UNKNOWN, type(error).__name__) from None
    last_error = None
    if info.last_error_message:
        when = info.last_error_date
        stamp = (
            when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            if isinstance(when, datetime)
            else ""
        )
        last_error = f"{info.last_error_message} ({stamp})" if stamp else info.last_error_message
    return BotStatus(
        username=username,
        webhook_url=info.url or "",
        pending_updates=info.pending_update_count,
        last_error=last_error,
    )
