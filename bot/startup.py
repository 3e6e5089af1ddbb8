"""Start-up that fails in one line: what failed and how to fix it, never a traceback.

The database and the Bot API are tried a few times with growing waits while they are
unreachable (a server starting alongside the bot), a bad token or a broken schema at once.
Each failure exits with its own status, so a supervisor or a script can tell them apart:

    0    stopped cleanly
    1    any other error
    2    bad command line or setting (argparse, bot/config.py)
    3    Telegram rejected the bot token
    4    the Telegram Bot API could not be reached
    5    the database could not be reached, or refused the connection
    6    the database schema could not be brought to this version's
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, TypeVar

from alembic.util import CommandError

from bot.config import Settings
from bot.logs import redact_active
from storage.db import Database
from storage.locks import ping
from storage.urls import database_location, driver_error

if TYPE_CHECKING:
    from telegram.ext import Application

log = logging.getLogger(__name__)

T = TypeVar("T")


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    BAD_TOKEN = 3
    TELEGRAM_UNREACHABLE = 4
    DATABASE_UNREACHABLE = 5
    DATABASE_SCHEMA = 6
    INTERRUPTED = 130


class StartupError(Exception):
    """A start-up step failed: `str()` is the line to show, `code` the exit status."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Backoff:
    """`tries` attempts, waiting `first_delay_s`, then twice as long each time."""

    tries: int
    first_delay_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Backoff:
        return cls(settings.startup_retries, settings.startup_backoff_s)

    def delays(self) -> Iterator[float]:
        for attempt in range(self.tries - 1):
            yield self.first_delay_s * 2**attempt


async def retrying(
    step: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    transient: Callable[[BaseException], bool],
    what: str,
) -> T:
    """Run `step`, again after a wait while it fails with a transient error."""
    for attempt, delay in enumerate(backoff.delays(), start=1):
        try:
            return await step()
        except Exception as error:
            if not transient(error):
                raise
            log.warning(
                "%s (%s): try %d of %d failed, next in %.3g s",
                what, reason(error), attempt, backoff.tries, delay,
            )  # fmt: skip
        await asyncio.sleep(delay)
    return await step()


def reason(error: BaseException) -> str:
    """A short, secret-free account of `error` for a one-line message."""
    error = _root(error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "host not found"
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if len(text) > 160:
        text = text[:157] + "..."
    return redact_active(text)


def _root(error: BaseException) -> BaseException:
    """The underlying error: the driver's behind SQLAlchemy's, the cause behind a wrapper."""
    seen = 0
    while seen < 5:
        seen += 1
        if (driver := driver_error(error)) is not None:
            error = driver
        elif error.__cause__ is not None and not isinstance(error, OSError):
            error = error.__cause__
        else:
            break
    return error


# --- the database ---------------------------------------------------------------------


def _database_down(error: BaseException) -> bool:
    root = _root(error)
    if isinstance(root, OSError):  # refused, unreachable, DNS, timeouts
        return True
    # PostgreSQL starting up or shutting down answers, but not yet for us.
    return type(root).__name__ in ("CannotConnectNowError", "ConnectionDoesNotExistError")


async def prepare_database(db: Database, settings: Settings) -> None:
    """Reach the database (waiting while it is down) and migrate it to this version."""
    where = database_location(str(db.engine.url))
    try:
        await retrying(
            lambda: ping(db),
            Backoff.from_settings(settings),
            transient=_database_down,
            what=f"database at {where} unreachable",
        )
    except Exception as error:
        if _database_down(error):
            message = (
                f"cannot reach the database at {where} ({reason(error)}): check DATABASE_URL "
                "and that the database server is running"
            )
        else:
            message = (
                f"the database at {where} refused the connection ({reason(error)}): "
                "check DATABASE_URL"
            )
        raise StartupError(message, ExitCode.DATABASE_UNREACHABLE) from None
    try:
        await db.upgrade()
    except CommandError as error:
        # Alembic cannot find the revision the database is at: a newer claymate wrote it.
        raise StartupError(
            f"the database schema is at a revision this claymate does not know "
            f"({reason(error)}): upgrade claymate, or point DATABASE_URL at another database",
            ExitCode.DATABASE_SCHEMA,
        ) from None
    except Exception as error:
        raise StartupError(
            f"migrating the database at {where} failed ({reason(error)}): check that the "
            "DATABASE_URL user may create and alter tables, then run `claymate db upgrade`",
            ExitCode.DATABASE_SCHEMA,
        ) from None


# --- Telegram -------------------------------------------------------------------------


def _telegram_down(error: BaseException) -> bool:
    from telegram.error import BadRequest, NetworkError, RetryAfter

    # BadRequest is a NetworkError in PTB's hierarchy, but retrying it cannot help.
    if isinstance(error, BadRequest):
        return False
    return isinstance(error, NetworkError | RetryAfter)


def _rejection(error: BaseException) -> str:
    """'401 Unauthorized' or '404 Not Found' from PTB's InvalidToken (whose text has the token)."""
    cause = error.__cause__
    description = str(cause) if cause is not None else ""
    return {"Unauthorized": "401 Unauthorized", "Not Found": "404 Not Found"}.get(
        description, "401/404"
    )


async def connect_telegram(application: Application, settings: Settings) -> None:
    """Initialise the application (its getMe checks the token), waiting while offline."""
    from telegram.error import InvalidToken

    try:
        await retrying(
            application.initialize,
            Backoff.from_settings(settings),
            transient=_telegram_down,
            what=f"Telegram Bot API at {settings.telegram_api_url} unreachable",
        )
    except InvalidToken as error:
        raise StartupError(
            f"Telegram rejected the bot token ({_rejection(error)}): check TELEGRAM_BOT_TOKEN",
            ExitCode.BAD_TOKEN,
        ) from None
    except Exception as error:
        if not _telegram_down(error):
            raise
        raise StartupError(
            f"cannot reach the Telegram Bot API at {settings.telegram_api_url} "
            f"({reason(error)}): check the network and TELEGRAM_API_URL",
            ExitCode.TELEGRAM_UNREACHABLE,
        ) from None
