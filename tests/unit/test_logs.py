"""Secrets never leave the process: log records, tracebacks, hooks and warnings are redacted."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot.logs import (
    REDACTED,
    asyncio_exception_handler,
    configure_logging,
    install_redaction,
    redact,
    secrets_of,
)
from tests.conftest import make_settings

TOKEN = "7777777777:AAFakeSecretPartXyz_claymate-logs-9q"
SECRET_PART = TOKEN.split(":", 1)[1]
API_KEY = "sk-test-claymate/key+with=odd chars"
SECRETS = [TOKEN, SECRET_PART, API_KEY]  # as secrets_of() lists them


def leaks(text: str) -> list[str]:
    """Every recognisable form of the token or the key still in `text`."""
    forms = {
        TOKEN,
        SECRET_PART,
        quote(TOKEN, safe=""),
        TOKEN.replace(":", "%3a"),
        API_KEY,
        quote(API_KEY, safe=""),
        quote_plus(API_KEY),
        quote(API_KEY),
    }
    return sorted(form for form in forms if form in text)


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """A root handler writing to a buffer, the redaction installed, hooks restored after."""
    for name in ("excepthook", "unraisablehook"):
        monkeypatch.setattr(sys, name, getattr(sys, name))
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    install_redaction(SECRETS)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        install_redaction([])
        logging.captureWarnings(False)


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        SECRET_PART,
        quote(TOKEN, safe=""),
        TOKEN.replace(":", "%3a"),
        TOKEN.replace("A", "%41", 1),  # partly percent-encoded
        f"https://api.telegram.org/bot{quote(TOKEN)}/getMe",
        quote_plus(API_KEY),
        quote(API_KEY),
        quote(API_KEY, safe=""),
        API_KEY.replace("/", "%2f"),
    ],
)
def test_every_encoded_form_is_redacted(form: str) -> None:
    text = redact(f"before {form} after", SECRETS)
    assert leaks(text) == [] and "%41AFake" not in text and REDACTED in text
    assert text.startswith("before ") and text.endswith(" after")


def test_the_token_secret_part_and_the_database_password_are_secrets(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        telegram_bot_token=TOKEN,
        database_url="postgresql://claymate:pg-Pass-w0rd@db.example:5432/claymate",
    )
    secrets = secrets_of(settings)
    assert TOKEN in secrets and SECRET_PART in secrets and "pg-Pass-w0rd" in secrets
    assert "7777777777" not in secrets  # the bot's id is public: redacting it hides nothing


def test_a_logged_traceback_and_stack_are_redacted(stream: io.StringIO) -> None:
    log = logging.getLogger("claymate.test")
    try:
        raise RuntimeError(f"POST https://api.telegram.org/bot{quote(TOKEN)}/getMe failed")
    except RuntimeError:
        log.exception("calling %s", f"/bot{TOKEN}/getMe")
    log.error("stack", stack_info=True, extra={"key": API_KEY})
    output = stream.getvalue()
    assert "RuntimeError" in output and "Traceback" in output
    assert leaks(output) == []


def test_the_excepthook_redacts_an_uncaught_exception(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    install_redaction(SECRETS)  # pytest swaps its own hooks in around each test phase
    try:
        raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
    except ValueError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    err = capsys.readouterr().err
    assert "ValueError" in err and "was rejected by the server" in err
    assert leaks(err) == []


def test_a_thread_dying_is_redacted(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    install_redaction(SECRETS)  # pytest swaps its own hooks in around each test phase

    def die() -> None:
        raise ConnectionError(f"https://api.telegram.org/bot{TOKEN}/getUpdates: reset")

    thread = threading.Thread(target=die, name="poller")
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert "ConnectionError" in err and "poller" in err
    assert leaks(err) == []


def test_an_unraisable_exception_is_redacted(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    install_redaction(SECRETS)  # pytest swaps its own hooks in around each test phase
    error = OSError(f"closing {API_KEY}")
    sys.unraisablehook(
        type("Unraisable", (), {  # the shape sys.unraisablehook receives
            "exc_type": OSError, "exc_value": error, "exc_traceback": None,
            "err_msg": "Exception ignored in", "object": f"<client {TOKEN}>",
        })()
    )  # fmt: skip
    err = capsys.readouterr().err
    assert "OSError" in err and leaks(err) == []


def test_a_warning_is_redacted(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        configure_logging(make_settings(tmp_path, telegram_bot_token=TOKEN))
        warnings.warn_explicit(
            f"unclosed client for https://api.telegram.org/bot{TOKEN}", ResourceWarning, "x.py", 1
        )
    output = stream.getvalue() + capsys.readouterr().err
    assert "unclosed client" in output and leaks(output) == []


async def test_the_event_loop_handler_redacts_a_lost_task(stream: io.StringIO) -> None:
    loop = asyncio.get_running_loop()
    error = RuntimeError(f"getMe via /bot{quote(TOKEN, safe='')}/ failed")
    asyncio_exception_handler(
        loop, {"message": f"Task exception was never retrieved: {API_KEY}", "exception": error}
    )
    output = stream.getvalue()
    assert "never retrieved" in output and "RuntimeError" in output
    assert leaks(output) == []


def test_configure_logging_redacts_the_settings_secrets(
    stream: io.StringIO, tmp_path: Path
) -> None:
    configure_logging(make_settings(tmp_path, telegram_bot_token=TOKEN, openai_api_key=API_KEY))
    logging.getLogger("claymate.test").warning("url %s key %s", quote(TOKEN), quote_plus(API_KEY))
    output = stream.getvalue()
    assert "url " in output and leaks(output) == []
