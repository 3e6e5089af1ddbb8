"""The one place an `openai` client is built and its errors are read (providers.md 5).

The SDK does its own HTTP, so it does not go through `JsonApi`; what it shares with the other
providers is the idea: explicit timeouts and retries, and one `ErrorTable` (bot/providers/
http.py) saying what is retried, what is the user's doing and what the operator must fix.
The SDK retries 408, 409, 429, 5xx and dropped connections itself, honouring Retry-After;
the table marks the same statuses retryable, so both agree on what a second try can fix
(only an exhausted quota, a 429 too, is given up on at once: waiting will not refill it).

A model the endpoint does not serve (OpenAI's 404 `model_not_found`, vLLM's "does not
exist", Ollama's "not found, try pulling it", DeepSeek's "Model Not Exist") becomes one
line naming the setting to change: the operator can fix it, the user cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    AuthenticationError,
    OpenAIError,
    PermissionDeniedError,
    Timeout,
)

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.health import ModelAccess
from bot.providers.http import DETAIL_LIMIT, ErrorRule, ErrorTable, When

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_HOST = "api.openai.com"
# As JsonApi: an unreachable host fails fast, while a slow answer may take longer.
CONNECT_TIMEOUT_S = 10.0
# One retry: a user is waiting on the answer, so the worst case stays at two timeouts.
MAX_RETRIES = 1

MODEL_MISSING = ErrorRule(ErrorKind.PERMISSION, "model not available")
KEY_REFUSED = ErrorRule(ErrorKind.AUTH, "key refused")
WRONG_URL = ErrorRule(ErrorKind.PERMISSION, "no such endpoint")

OPENAI_ERRORS = ErrorTable(
    answers=(
        # The words come first: servers differ in the status they give each of these.
        When(
            MODEL_MISSING,
            words=(
                "model_not_found",
                "model not found",
                "model_not_exist",
                "model not exist",
                "no such model",
                "unknown model",
                "try pulling it",
                "does not exist",
            ),
        ),
        When(
            ErrorRule(ErrorKind.CONTENT, "refused by moderation"),
            words=("moderation", "safety system", "content_policy", "content policy"),
        ),
        When(
            ErrorRule(ErrorKind.BALANCE, "out of quota"),
            words=("insufficient_quota", "billing_hard_limit", "billing limit"),
        ),
        When(KEY_REFUSED, statuses=frozenset({401})),
        When(
            ErrorRule(ErrorKind.PERMISSION, "not allowed for this key"), statuses=frozenset({403})
        ),
        When(WRONG_URL, statuses=frozenset({404})),
        When(ErrorRule(ErrorKind.RATE_LIMITED, "rate limited"), statuses=frozenset({429})),
        When(
            ErrorRule(ErrorKind.TRANSIENT, "server busy or failing"),
            statuses=frozenset({408, 409, *range(500, 600)}),
        ),
        When(ErrorRule(ErrorKind.INVALID, "request refused"), statuses=frozenset({400, 413, 422})),
    ),
    fallback=ErrorRule(ErrorKind.UNKNOWN, "unexpected answer"),
)


def openai_client(
    api_key: str, base_url: str | None, *, timeout: float, max_retries: int = MAX_RETRIES
) -> AsyncOpenAI:
    """An AsyncOpenAI client with explicit timeouts and retries (the SDK's: 600 s, 2)."""
    return AsyncOpenAI(
        api_key=api_key,
        base_url=base_url or None,
        timeout=Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)),
        max_retries=max_retries,
    )


def host_of(base_url: str | None) -> str:
    """The endpoint's host for an operator's line: never a path, query or credentials."""
    if not base_url:
        return DEFAULT_HOST
    parts = urlsplit(base_url)
    if not parts.hostname:
        return DEFAULT_HOST
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def rule_for(exc: OpenAIError) -> ErrorRule:
    """What a failed SDK call means, read through the one table."""
    if isinstance(exc, APITimeoutError | APIConnectionError):
        return ErrorRule(ErrorKind.TRANSIENT, "no answer")
    if isinstance(exc, APIStatusError):
        code = exc.code if isinstance(exc.code, str) else ""
        return OPENAI_ERRORS.rule_for(None, exc.status_code, f"{code} {exc.message}")
    return OPENAI_ERRORS.fallback


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` (servers echo a wrong key back in their message)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def operator_line(
    rule: ErrorRule, *, setting: str, model: str, base_url: str | None
) -> str | None:
    """The one line telling an operator what to change, for the errors only they can fix."""
    host = host_of(base_url)
    if rule is MODEL_MISSING:
        return (
            f"{setting}={model} is not available at {host}: "
            f"set {setting} to a model your provider lists"
        )
    if rule is KEY_REFUSED:
        return f"OPENAI_API_KEY was refused at {host}: check the key (and OPENAI_BASE_URL)"
    if rule is WRONG_URL:
        return f"OPENAI_BASE_URL has no such endpoint at {host}: check OPENAI_BASE_URL"
    return None


def provider_error(
    exc: OpenAIError,
    op: str,
    *,
    setting: str,
    model: str,
    base_url: str | None,
    secret: str,
) -> ProviderError:
    """A ProviderError for operators' logs: the table's kind, one scrubbed line of detail."""
    rule = rule_for(exc)
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    line = operator_line(rule, setting=setting, model=model, base_url=base_url)
    if line is None:
        message = exc.message if isinstance(exc, APIStatusError) else type(exc).__name__
        where = f" (HTTP {status})" if status else ""
        line = f"{op}: {rule.meaning}{where}: {scrub(message, [secret])[:DETAIL_LIMIT]!r}"
    return ProviderError(rule.kind, scrub(line, [secret]), extra={"http_status": status})


async def model_problem(
    client: AsyncOpenAI, *, setting: str, model: str, base_url: str | None, secret: str
) -> str | None:
    """None when the endpoint serves `model`, else the line saying what to change.

    A cheap authenticated call (GET /models/{model}): it checks the key and the model
    without paying for a generation, for a check before going live.
    """
    try:
        await client.models.retrieve(model)
    except OpenAIError as exc:
        return provider_error(
            exc, "openai models", setting=setting, model=model, base_url=base_url, secret=secret
        ).detail
    return None


async def model_access(client: AsyncOpenAI, model: str) -> ModelAccess:
    """models.list: free, authenticated, and it says whether `model` is served.

    The server's own words are dropped: an "Incorrect API key" answer echoes the key.
    """
    try:
        page = await client.models.list()
        known = tuple(sorted([entry.id async for entry in page]))
    except AuthenticationError:
        raise ProviderError(ErrorKind.AUTH, "key refused", code=401) from None
    except PermissionDeniedError:
        raise ProviderError(ErrorKind.PERMISSION, "not allowed", code=403) from None
    except APIConnectionError as error:
        raise ProviderError(ErrorKind.TRANSIENT, type(error).__name__) from None
    except APIStatusError as error:
        raise ProviderError(ErrorKind.UNKNOWN, "models.list", code=error.status_code) from None
    return ModelAccess(model, known)
