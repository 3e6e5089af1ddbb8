"""The shared provider plumbing against httpx.MockTransport: retries, errors, downloads.

Each test is something a provider's server does to us: asks us to slow down, refuses for
good, swallows a create, echoes our key back, serves a clip far bigger than any clip.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.providers.http import (
    SERVER_ERRORS,
    Answer,
    ErrorRule,
    ErrorTable,
    JsonApi,
    RetryPolicy,
    StaticKey,
    When,
    retry_after_of,
)

KEY = "sk-test-SECRET-never-shown-0042"
K = ErrorKind
TABLE = ErrorTable(
    codes={1004: ErrorRule(K.AUTH, "token expired", resign=True)},
    answers=(
        When(ErrorRule(K.RATE_LIMITED, "slow down"), statuses=frozenset({429})),
        When(ErrorRule(K.BALANCE, "out of credit"), statuses=frozenset({402})),
        When(
            ErrorRule(K.TRANSIENT, "server error", may_have_created=True), statuses=SERVER_ERRORS
        ),
    ),
    fallback=ErrorRule(K.UNKNOWN, "unknown"),
)


def read_answer(resp: httpx.Response, op: str) -> Answer:
    body = resp.json() if resp.content else {}
    if resp.is_success:
        return Answer(ok=True, data=body)
    return Answer(ok=False, code=body.get("code"), message=body.get("message", ""))


class Server:
    """Answers requests from a script, one response (or exception) per request."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


class Renewing(StaticKey):
    """Credentials that count how often they were asked to renew."""

    renewed = 0

    def renew(self) -> None:
        self.renewed += 1


def api_for(
    server: Callable[[httpx.Request], httpx.Response],
    sleeps: list[float],
    *,
    can_look_up: bool = True,
    credentials: StaticKey | None = None,
    max_attempts: int = 4,
) -> JsonApi:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return JsonApi(
        "Test",
        "http://provider.test",
        credentials=credentials or StaticKey("Token", KEY),
        errors=TABLE,
        read_answer=read_answer,
        can_look_up=can_look_up,
        retry=RetryPolicy(max_attempts=max_attempts, base_s=1.0, max_s=30.0),
        transport=httpx.MockTransport(server),
        sleep=sleep,
    )


def ok(data: Any = None) -> httpx.Response:
    return httpx.Response(200, json=data if data is not None else {"id": "task-1"})


@pytest.fixture
def sleeps() -> Iterator[list[float]]:
    yield []


# --- retries ----------------------------------------------------------------------------


async def test_throttling_waits_as_long_as_retry_after_asks_then_succeeds(
    sleeps: list[float],
) -> None:
    slow_down = httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow"})
    server = Server(slow_down, slow_down, ok())
    api = api_for(server, sleeps)
    try:
        data = await api.retrying("status", lambda: api.call("GET", "/tasks/1", "status"))
    finally:
        await api.aclose()
    assert data == {"id": "task-1"}
    assert len(server.requests) == 3
    assert sleeps == [7.0, 7.0]  # longer than the backoff (≤ 1.5 s, ≤ 3 s) would have been
    assert all(r.headers["Authorization"] == f"Token {KEY}" for r in server.requests)


async def test_retry_after_is_capped_and_backoff_grows_without_it(sleeps: list[float]) -> None:
    forever = httpx.Response(429, headers={"Retry-After": "3600"}, json={})
    api = api_for(Server(forever, ok()), sleeps)
    try:
        await api.retrying("status", lambda: api.call("GET", "/t", "status"))
    finally:
        await api.aclose()
    assert sleeps == [30.0]  # one bad header cannot park a worker for an hour

    sleeps.clear()
    api = api_for(Server(*[httpx.Response(503, json={})] * 3, ok()), sleeps)
    try:
        await api.retrying("status", lambda: api.call("GET", "/t", "status"))
    finally:
        await api.aclose()
    low, high = zip((1.0, 1.5), (2.0, 3.0), (4.0, 6.0), strict=True)
    assert all(lo <= slept <= hi for lo, slept, hi in zip(low, sleeps, high, strict=True))


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = time.time()
    later = email.utils.formatdate(now + 120, usegmt=True)
    assert retry_after_of(httpx.Headers({"Retry-After": "12"})) == 12.0
    assert retry_after_of(httpx.Headers({"Retry-After": later}), now=now) == pytest.approx(
        120, abs=1
    )
    assert retry_after_of(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_of(httpx.Headers({})) is None


async def test_a_refusal_that_is_not_retryable_is_raised_at_once(sleeps: list[float]) -> None:
    server = Server(httpx.Response(402, json={"message": "no credit left"}))
    api = api_for(server, sleeps)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.retrying("create", lambda: api.call("POST", "/tasks", "create", {}))
    finally:
        await api.aclose()
    error = caught.value
    assert (error.kind, error.retryable, error.may_have_created) == (K.BALANCE, False, False)
    assert "out of credit" in error.detail and "HTTP 402" in error.detail
    assert len(server.requests) == 1 and sleeps == []


async def test_attempts_are_bounded(sleeps: list[float]) -> None:
    server = Server(httpx.Response(429, json={}))
    api = api_for(server, sleeps, max_attempts=3)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.retrying("status", lambda: api.call("GET", "/t", "status"))
    finally:
        await api.aclose()
    assert caught.value.kind is K.RATE_LIMITED
    assert len(server.requests) == 3 and len(sleeps) == 2


async def test_look_up_finds_what_a_lost_create_made_instead_of_creating_again(
    sleeps: list[float],
) -> None:
    server = Server(httpx.ReadTimeout("no answer"), ok())
    api = api_for(server, sleeps)
    looked: list[int] = []

    async def look_up() -> str | None:
        looked.append(1)
        return "task-made-anyway"

    async def create() -> str:
        await api.call("POST", "/tasks", "create", {}, creates=True)
        return "task-new"

    try:
        found = await api.retrying("create", create, look_up=look_up)
    finally:
        await api.aclose()
    assert found == "task-made-anyway"
    assert len(server.requests) == 1 and looked == [1]


# --- what a failure means ---------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("no answer"), httpx.Response(500, json={})], ids=str
)
async def test_a_lost_create_is_final_where_the_provider_cannot_look_it_up(
    sleeps: list[float], failure: httpx.Response | Exception
) -> None:
    server = Server(failure)
    api = api_for(server, sleeps, can_look_up=False)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.retrying(
                "create", lambda: api.call("POST", "/tasks", "create", {}, creates=True)
            )
    finally:
        await api.aclose()
    error = caught.value
    assert (error.kind, error.may_have_created) == (K.UNKNOWN, True)
    assert "not retried" in error.detail
    assert len(server.requests) == 1 and sleeps == []


async def test_the_same_failures_are_retried_on_polls_and_where_a_lookup_exists(
    sleeps: list[float],
) -> None:
    api = api_for(Server(httpx.ReadTimeout("slow"), ok()), sleeps, can_look_up=False)
    try:  # a poll changes nothing upstream: a lost answer is just a blip
        assert await api.retrying("status", lambda: api.call("GET", "/t", "status"))
    finally:
        await api.aclose()
    api = api_for(Server(httpx.Response(502, json={})), sleeps, max_attempts=1)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.call("POST", "/tasks", "create", {}, creates=True)
    finally:
        await api.aclose()
    assert (caught.value.kind, caught.value.may_have_created) == (K.TRANSIENT, True)


async def test_an_unreachable_server_never_counts_as_a_maybe_created_task(
    sleeps: list[float],
) -> None:
    api = api_for(Server(httpx.ConnectError("refused")), sleeps, can_look_up=False)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.call("POST", "/tasks", "create", {}, creates=True)
    finally:
        await api.aclose()
    assert (caught.value.kind, caught.value.may_have_created) == (K.TRANSIENT, False)
    assert "cannot reach Test" in caught.value.detail


async def test_a_stale_token_is_renewed_once_never_in_a_loop(sleeps: list[float]) -> None:
    expired = httpx.Response(401, json={"code": 1004, "message": "token expired"})
    credentials = Renewing("Bearer", KEY)
    server = Server(expired, ok())
    api = api_for(server, sleeps, credentials=credentials)
    try:
        assert await api.call("GET", "/t", "status") == {"id": "task-1"}
        assert credentials.renewed == 1
        server.script = [expired]
        with pytest.raises(ProviderError) as caught:
            await api.call("GET", "/t", "status")
    finally:
        await api.aclose()
    assert (caught.value.kind, caught.value.code) == (K.AUTH, 1004)
    assert credentials.renewed == 2 and len(server.requests) == 4


async def test_secrets_echoed_by_the_server_are_scrubbed(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    echo = httpx.Response(402, json={"message": f"key {KEY} has no credit"})
    api = api_for(Server(echo), sleeps)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.retrying("create", lambda: api.call("POST", "/tasks", "create", {}))
        shown = repr(api)
    finally:
        await api.aclose()
    texts = [str(caught.value), caught.value.detail, repr(caught.value.extra), caplog.text, shown]
    assert all(KEY not in text for text in texts)
    assert "key *** has no credit" in caught.value.detail


# --- downloads --------------------------------------------------------------------------


async def test_a_download_over_the_size_cap_is_refused_and_leaves_nothing(
    sleeps: list[float], tmp_path: Path
) -> None:
    huge = httpx.Response(200, content=b"\0" * (3 * 1024 * 1024))
    api = JsonApi(
        "Test",
        "http://provider.test",
        credentials=StaticKey("Token", KEY),
        errors=TABLE,
        read_answer=read_answer,
        can_look_up=True,
        max_download_bytes=1024 * 1024,
        transport=httpx.MockTransport(Server(huge)),
    )
    dest = tmp_path / "clips" / "take.mp4"
    try:
        with pytest.raises(ProviderError) as caught:
            await api.download_clip("http://cdn.test/result.mp4", dest)
        with pytest.raises(ProviderError) as caught_bytes:
            await api.download_bytes("http://cdn.test/result.png", max_bytes=1024)
    finally:
        await api.aclose()
    assert caught.value.kind is K.INVALID and "larger than" in caught.value.detail
    assert caught_bytes.value.kind is K.INVALID
    assert list(dest.parent.iterdir()) == []  # no clip, no .part file


async def test_an_expired_result_url_is_expired_and_not_fetched_again(
    sleeps: list[float], tmp_path: Path
) -> None:
    server = Server(httpx.Response(410))
    api = api_for(server, sleeps)
    try:
        with pytest.raises(ProviderError) as caught:
            await api.download_clip("http://cdn.test/gone.mp4", tmp_path / "clip.mp4")
    finally:
        await api.aclose()
    assert caught.value.kind is K.EXPIRED
    assert len(server.requests) == 1 and sleeps == []
    assert "Authorization" not in server.requests[0].headers  # a CDN link, not the API
