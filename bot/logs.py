"""Logging and error output that can never print a secret.

Telegram's file URLs and API URLs contain the bot token, and a provider's error may echo
a key. Every log record passes through `RedactingFilter`, and the hooks that print what
nobody caught (uncaught exceptions, dying threads, unraisable exceptions, the event loop's
lost task errors, warnings) redact the same way, whatever produced the text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
import threading
import traceback
from collections.abc import Coroutine
from typing import Any, TypeVar

from bot.config import Settings
from storage.urls import database_password

REDACTED = "[redacted]"
NOISY_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "aiosqlite",
    "asyncpg",
    "alembic",
)
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words

T = TypeVar("T")

# The secrets the hooks below redact; install_redaction replaces them.
_secrets: tuple[str, ...] = ()


def secrets_of(settings: Settings) -> list[str]:
    """The token (and its secret half), every API key and the database password."""
    values = [
        settings.telegram_bot_token,
        settings.openai_api_key,
        settings.kling_access_key,
        settings.kling_secret_key,
        settings.kling_webhook_secret,
        settings.webhook_secret,
        settings.vidu_api_key,
        settings.seedance_api_key,
    ]
    secrets = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
    if settings.telegram_bot_token is not None:
        # The part after the colon is the secret; a text quoting only it still leaks it.
        _, _, secret_part = settings.telegram_bot_token.get_secret_value().partition(":")
        if secret_part:
            secrets.append(secret_part)
    if settings.database_url:
        password = database_password(settings.database_url)
        if password:
            secrets.append(password)
    return secrets


def _char_pattern(char: str) -> str:
    """`char` as written, or percent-encoded (either hex case), or as `+` for a space."""
    encoded = "".join(f"%{byte:02X}" for byte in char.encode())
    forms = [re.escape(char)]
    if encoded != char:
        forms.append(f"(?i:{re.escape(encoded)})")
    if char == " ":
        forms.append(r"\+")
    return forms[0] if len(forms) == 1 else f"(?:{'|'.join(forms)})"


@functools.lru_cache(maxsize=16)
def _secrets_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    # Any character of a secret may be percent-encoded independently: URLs quote the
    # token's ":" as %3A or %3a, and libraries differ on which other characters they quote.
    usable = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join("".join(map(_char_pattern, s)) for s in usable))


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """`text` with every form of every secret replaced by a placeholder."""
    pattern = _secrets_pattern(tuple(secrets))
    return text if pattern is None else pattern.sub(REDACTED, text)


def redact_active(text: str) -> str:
    """`text` redacted with the secrets the process installed."""
    return redact(text, _secrets)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        clean = redact(record.getMessage(), self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        # Freeze the message now: a handler that formats later (or a test reading records)
        # would otherwise see arguments mutated after logging, e.g. a File whose path PTB
        # later expands into a URL with the token.
        record.msg, record.args = clean, None
        return True


def configure_logging(settings: Settings, *, level: int | None = None) -> None:
    """Root logging with secrets redacted and chatty HTTP libraries quietened.

    `level`: the command line's choice (-v, -vv); by default CLAYMATE_LOG_LEVEL's, which
    is what the bot, a service whose log is its output, runs at.
    """
    if level is None:
        level = getattr(logging, settings.log_level.upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    install_redaction(secrets_of(settings))
    # Warnings go through logging, and so through the filter, instead of straight to stderr.
    logging.captureWarnings(True)
    # httpx logs every request URL at INFO, and Telegram's URLs contain the bot token.
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def install_redaction(secrets: list[str]) -> RedactingFilter:
    """Attach the filter to every root handler and redact what the hooks print."""
    global _secrets
    _secrets = tuple(secrets)
    redactor = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    sys.excepthook = _excepthook
    sys.unraisablehook = _unraisablehook
    threading.excepthook = _thread_excepthook
    return redactor


def _write_redacted(text: str) -> None:
    stream = sys.stderr
    if stream is None:  # pythonw, or stderr closed
        return
    stream.write(redact_active(text))
    stream.flush()


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    _write_redacted("".join(traceback.format_exception(exc_type, exc, tb)))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as the default hook: a thread that exits is not an error
    name = args.thread.name if args.thread is not None else threading.get_ident()
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    _write_redacted(f"Exception in thread {name}:\n{text}")


def _unraisablehook(unraisable: Any) -> None:
    try:
        where = repr(unraisable.object)
    except Exception:
        where = "<object repr() failed>"
    message = unraisable.err_msg or "Exception ignored in"
    text = "".join(
        traceback.format_exception(
            unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback
        )
    )
    _write_redacted(f"{message}: {where}\n{text}")


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's report of an error nobody awaited, redacted like any log record."""
    message = context.get("message") or "Unhandled exception in event loop"
    details = ", ".join(
        f"{key}={value!r}" for key, value in context.items() if key not in ("message", "exception")
    )
    exception = context.get("exception")
    exc_info = (type(exception), exception, exception.__traceback__) if exception else None
    text = redact_active(f"{message} ({details})" if details else message)
    if exc_info is not None:
        text += "\n" + redact_active("".join(traceback.format_exception(*exc_info))).rstrip()
    logging.getLogger("asyncio").error("%s", text)


def run_redacted(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with the loop's own error reports redacted."""

    async def redacted() -> T:
        asyncio.get_running_loop().set_exception_handler(asyncio_exception_handler)
        return await main

    return asyncio.run(redacted())
