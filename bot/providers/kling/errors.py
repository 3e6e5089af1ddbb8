"""Kling's error table: which business codes mean which ErrorKind, and so what is retried.

Kling answers HTTP 429 for both "out of money" and "slow down", so errors are classified
by the business `code` (KDOC error table, providers.md 1.7); the HTTP status only decides
for a code we do not know. Whether a code is retried follows from its kind.
"""

from __future__ import annotations

from bot.domain.errors import ErrorKind
from bot.providers.http import SERVER_ERRORS, ErrorRule, ErrorTable, When

K = ErrorKind

KLING_ERRORS: dict[int, ErrorRule] = {
    1000: ErrorRule(K.AUTH, "authentication failed"),
    1001: ErrorRule(K.AUTH, "authorization header empty"),
    1002: ErrorRule(K.AUTH, "authorization invalid"),
    1003: ErrorRule(K.AUTH, "token not yet valid (clock skew?)", resign=True),
    1004: ErrorRule(K.AUTH, "token expired", resign=True),
    1100: ErrorRule(K.BALANCE, "account exception"),
    1101: ErrorRule(K.BALANCE, "account in arrears"),
    1102: ErrorRule(K.BALANCE, "resource pack used up or expired"),
    1103: ErrorRule(K.PERMISSION, "no permission for this API or model"),
    1200: ErrorRule(K.INVALID, "invalid request parameters"),
    1201: ErrorRule(K.INVALID, "invalid parameter value"),
    1202: ErrorRule(K.INVALID, "invalid request method"),
    1203: ErrorRule(K.INVALID, "resource not found"),
    1300: ErrorRule(K.CONTENT, "platform policy triggered"),
    1301: ErrorRule(K.CONTENT, "content security policy triggered"),
    1302: ErrorRule(K.RATE_LIMITED, "request rate too high"),
    1303: ErrorRule(K.BUSY, "concurrency over resource pack limit"),
    1304: ErrorRule(K.PERMISSION, "IP whitelist policy (operator must fix)"),
    5000: ErrorRule(K.TRANSIENT, "server internal error", may_have_created=True),
    5001: ErrorRule(K.TRANSIENT, "server temporarily unavailable"),
    5002: ErrorRule(K.TRANSIENT, "server timeout", may_have_created=True),
}

KLING_TABLE = ErrorTable(
    codes=KLING_ERRORS,
    answers=(
        # A code we do not know: a 5xx makes it transient (and the task maybe created).
        When(
            ErrorRule(K.TRANSIENT, "unknown server error", may_have_created=True),
            statuses=SERVER_ERRORS,
        ),
        When(KLING_ERRORS[1302], statuses=frozenset({429})),
        When(KLING_ERRORS[1000], statuses=frozenset({401})),
    ),
    fallback=ErrorRule(K.UNKNOWN, "unknown error code"),
)

# Answers to a query by external id that mean "no such task here" (or "this form is not
# served"): lookup.py moves on to the next form. What Kling sends is undocumented.
NOT_FOUND_CODES = frozenset({1201, 1202, 1203})


def rule_for(code: int | None, status: int, message: str = "") -> ErrorRule:
    """The rule for any Kling answer, from every endpoint (video, image, account).

    One table for all of them (providers.md 1.7): the image endpoint must not read 1301
    as bad input or 1100/1304 as throttling just because they come with HTTP 400/429.
    """
    return KLING_TABLE.rule_for(code, status, message)
