"""The openai clients' one error table: retried, the user's doing, or the operator's to fix.

The SDK retries by itself; the table must call retryable exactly what the SDK retries, or
a still would be tried again by one and given up by the other.
"""

from __future__ import annotations

import inspect

import httpx2
import openai
import pytest
from openai.types import image_model
from openai.types.shared import chat_model

from bot.config import Settings
from bot.domain.errors import ErrorKind
from bot.providers.openai.client import (
    MODEL_MISSING,
    OPENAI_ERRORS,
    host_of,
    openai_client,
    provider_error,
    rule_for,
)

K = ErrorKind
REQUEST = httpx2.Request("POST", "https://api.openai.com/v1/images/edits")


def status_error(status: int, message: str, code: str | None = None) -> openai.APIStatusError:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    response = httpx2.Response(status, json=body, request=REQUEST)
    client = openai.OpenAI(api_key="sk-unit", max_retries=0)
    return client._make_status_error_from_response(response)


@pytest.mark.parametrize(
    ("status", "message", "code", "kind"),
    [
        # OpenAI
        (404, "The model `gpt-image-1` does not exist or you do not have access to it.",
         "model_not_found", K.PERMISSION),
        (401, "Incorrect API key provided: sk-abc.", "invalid_api_key", K.AUTH),
        (403, "Project does not have access to this API.", None, K.PERMISSION),
        (400, "Your request was rejected by the safety system.", "moderation_blocked", K.CONTENT),
        (429, "You exceeded your current quota.", "insufficient_quota", K.BALANCE),
        (429, "Rate limit reached for requests.", "rate_limit_exceeded", K.RATE_LIMITED),
        (500, "The server had an error.", None, K.TRANSIENT),
        (400, "Invalid value: 'xhigh'.", "invalid_value", K.INVALID),
        # OpenAI-compatible servers name a missing model in their own words
        (404, "The model `llama-9` does not exist.", None, K.PERMISSION),  # vLLM
        (404, 'model "clay" not found, try pulling it first', None, K.PERMISSION),  # Ollama
        (400, "Model Not Exist", None, K.PERMISSION),  # DeepSeek
        (404, "Invalid URL (POST /v1/imgs/edits)", None, K.PERMISSION),  # a wrong base URL
    ],
)  # fmt: skip
def test_each_answer_has_one_meaning(status: int, message: str, code: str | None, kind: K) -> None:
    assert rule_for(status_error(status, message, code)).kind is kind


def test_the_table_retries_exactly_what_the_sdk_retries() -> None:
    client = openai.AsyncOpenAI(api_key="sk-unit")
    for status in range(400, 600):
        response = httpx2.Response(status, request=REQUEST)
        table = OPENAI_ERRORS.rule_for(None, status, "")
        assert table.retry == client._should_retry(response), status


def test_a_lost_connection_is_transient() -> None:
    assert rule_for(openai.APITimeoutError(REQUEST)).kind is K.TRANSIENT
    assert rule_for(openai.APIConnectionError(request=REQUEST)).kind is K.TRANSIENT


def test_the_operator_line_names_the_setting_and_never_the_key() -> None:
    key = "sk-secret-0123456789"
    error = provider_error(
        status_error(
            404, f"The model `gpt-image-1` does not exist (key {key})", "model_not_found"
        ),
        "openai images",
        setting="CLAYMATE_IMAGE_MODEL",
        model="gpt-image-1",
        base_url="https://user:pw@llm.example.com:8443/v1?token=x",
        secret=key,
    )
    assert rule_for(status_error(404, "x", "model_not_found")) is MODEL_MISSING
    assert error.kind is K.PERMISSION and not error.retryable
    assert error.detail == (
        "CLAYMATE_IMAGE_MODEL=gpt-image-1 is not available at llm.example.com:8443: "
        "set CLAYMATE_IMAGE_MODEL to a model your provider lists"
    )
    refused = provider_error(
        status_error(400, f"bad thing with {key}"),
        "openai images",
        setting="CLAYMATE_IMAGE_MODEL",
        model="gpt-image-2",
        base_url=None,
        secret=key,
    )
    assert key not in str(refused) and "***" in str(refused) and refused.kind is K.INVALID


def test_hosts_are_shown_without_paths_or_credentials() -> None:
    assert host_of(None) == "api.openai.com"
    assert host_of("https://api.deepseek.com/v1") == "api.deepseek.com"
    assert host_of("http://u:p@127.0.0.1:11434/v1") == "127.0.0.1:11434"


def test_the_client_has_explicit_timeouts_and_retries() -> None:
    client = openai_client("sk-unit", None, timeout=42, max_retries=1)
    assert client.max_retries == 1
    assert isinstance(client.timeout, openai.Timeout)
    assert client.timeout.read == 42 and client.timeout.connect == 10


def _deprecated(module: object) -> str:
    """The pinned SDK's "Deprecated values" notes for a model literal."""
    source = inspect.getsource(module)  # type: ignore[arg-type]
    return source.split("Deprecated values:", 1)[1]


def test_the_default_models_are_ones_the_pinned_sdk_does_not_retire() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.llm_model in chat_model.ChatModel.__args__  # type: ignore[attr-defined]
    assert f'"{defaults.llm_model}"' not in _deprecated(chat_model)
    assert defaults.image_model in image_model.ImageModel.__args__  # type: ignore[attr-defined]
    assert f'"{defaults.image_model}"' not in _deprecated(image_model)
    assert '"gpt-image-1"' in _deprecated(image_model)  # the check can see a retired one
