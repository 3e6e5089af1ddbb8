"""Logging that can never print a secret.

Telegram's file URLs and API URLs contain the bot token, and a provider's error may echo
a key. Every record passes through `RedactingFilter`, which replaces each configured
secret with a placeholder, whatever logger or exception produced it.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from bot.config import Settings

REDACTED = "[redacted]"
NOISY_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "asyncpg",
    "alembic",
)


def secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.telegram_bot_token,
        settings.openai_api_key,
        settings.kling_access_key,
        settings.kling_secret_key,
        settings.webhook_secret,
        settings.vidu_api_key,
    ]
    return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        # URLs carry the token percent-encoded (the ":" in a bot token becomes %3A).
        for form in {secret, quote(secret, safe="")}:
            if form and form in text:
                text = text.replace(form, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        # Freeze the message now: a handler that formats later (or a test reading records)
        # would otherwise see arguments mutated after logging, e.g. a File whose path PTB
        # later expands into a URL with the token.
        record.msg, record.args = clean, None
        return True


def configure_logging(settings: Settings) -> None:
    """Root logging with secrets redacted and chatty HTTP libraries quietened."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    install_redaction(secrets_of(settings))
    # httpx logs every request URL at INFO, and Telegram's URLs contain the bot token.
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def install_redaction(secrets: list[str]) -> RedactingFilter:
    """Attach the filter to every root handler (and so to every logger that propagates)."""
    redactor = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor
