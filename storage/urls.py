"""What the rest of the bot may know about a database URL or a driver's error, without
importing SQLAlchemy itself."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError


def database_location(url: str) -> str:
    """Where the database is, without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host or 'localhost'}{port}/{parsed.database or ''}"


def database_password(url: str) -> str | None:
    """The URL's password, so logs can redact it (None when it has none)."""
    password = make_url(url).password
    return str(password) if password else None


def driver_error(error: BaseException) -> BaseException | None:
    """The database driver's own error behind SQLAlchemy's wrapper, if `error` is one."""
    if isinstance(error, DBAPIError) and isinstance(error.orig, BaseException):
        return error.orig
    return None
