"""Each provider's error table: which answers are retried, and which may have made a task.

A wrong line here either pays twice (a create repeated after it went through) or gives
up on a blip, so the tables are pinned answer by answer.
"""

from __future__ import annotations

import pytest

from bot.domain.errors import RETRYABLE_KINDS, ErrorKind
from bot.providers.http import ErrorRule, ErrorTable, When
from bot.providers.kling.errors import KLING_ERRORS, KLING_TABLE, NOT_FOUND_CODES
from bot.providers.vidu import VIDU_ERRORS

K = ErrorKind


def test_kling_retries_only_throttling_and_server_trouble() -> None:
    for code, rule in KLING_ERRORS.items():
        assert rule.retry == (rule.kind in RETRYABLE_KINDS), code
    assert {c for c, r in KLING_ERRORS.items() if r.retry} == {1302, 1303, 5000, 5001, 5002}
    assert {c for c, r in KLING_ERRORS.items() if r.may_have_created} == {5000, 5002}
    assert {c for c, r in KLING_ERRORS.items() if r.resign} == {1003, 1004}
    assert NOT_FOUND_CODES <= set(KLING_ERRORS)


@pytest.mark.parametrize(
    ("code", "status", "kind", "may_have_created"),
    [
        (1102, 429, K.BALANCE, False),  # 429 is also "out of money": the code decides
        (1302, 429, K.RATE_LIMITED, False),
        (None, 429, K.RATE_LIMITED, False),  # no code: the status is all there is
        (None, 401, K.AUTH, False),
        (None, 502, K.TRANSIENT, True),  # a bare 5xx on create may have made the task
        (9999, 503, K.TRANSIENT, True),  # a code we do not know, on a 5xx
        (9999, 400, K.UNKNOWN, False),
        (None, 404, K.UNKNOWN, False),
    ],
)
def test_kling_reads_the_code_first_and_the_status_only_for_unknown_codes(
    code: int | None, status: int, kind: ErrorKind, may_have_created: bool
) -> None:
    rule = KLING_TABLE.rule_for(code, status, "whatever the message says")
    assert (rule.kind, rule.may_have_created) == (kind, may_have_created)


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (401, "Unauthorized", K.AUTH),
        (403, "CreditInsufficient", K.AUTH),  # the key is checked before the account
        (402, "PaymentRequired", K.BALANCE),
        (400, "CreditInsufficient", K.BALANCE),
        (429, "QuotaExceeded", K.BALANCE),  # a quota is money, not a pace
        (429, "TooManyRequests", K.RATE_LIMITED),
        (400, "AuditSubmitIllegal", K.CONTENT),
        (500, "InternalError", K.TRANSIENT),
        (400, "BadRequest", K.INVALID),
        (413, "PayloadTooLarge", K.INVALID),
        (409, "Conflict", K.UNKNOWN),
    ],
)
def test_vidu_reads_the_status_and_the_words_of_its_reason(
    status: int, reason: str, kind: ErrorKind
) -> None:
    assert VIDU_ERRORS.rule_for(status, status, reason).kind is kind


def test_vidu_server_errors_may_have_made_the_task() -> None:
    assert VIDU_ERRORS.rule_for(503, 503, "ServiceUnavailable").may_have_created
    assert not VIDU_ERRORS.rule_for(429, 429, "TooManyRequests").may_have_created


def test_a_table_tries_codes_then_its_lines_in_order_then_the_fallback() -> None:
    first, second, fallback, coded = (
        ErrorRule(K.AUTH, "first"),
        ErrorRule(K.BUSY, "second"),
        ErrorRule(K.UNKNOWN, "fallback"),
        ErrorRule(K.CONTENT, "coded"),
    )
    table = ErrorTable(
        codes={7: coded},
        answers=(When(first, statuses=frozenset({401})), When(second, words=("busy",))),
        fallback=fallback,
    )
    assert table.rule_for(7, 401, "busy") is coded
    assert table.rule_for(None, 401, "Server BUSY") is first
    assert table.rule_for(None, 400, "Server BUSY") is second  # words match any case
    assert table.rule_for(None, 400, "no") is fallback
    assert second.retry and not first.retry
