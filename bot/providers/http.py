"""The HTTP plumbing every provider shares: signed JSON calls, bounded retries, downloads.

A provider brings what is its own and nothing else about HTTP: how a request is signed
(`Credentials`), how an answer is read (a `read_answer` function giving an `Answer`), and
its `ErrorTable` saying which codes and statuses mean which `ErrorKind`; the kind decides
whether a call is retried. The rest lives here once:

* Retries are bounded, with exponential backoff and jitter, and never sooner than the
  server's Retry-After (capped, so one bad header cannot park a worker for an hour).
* A create whose answer was lost may have made a task upstream anyway. The error says so
  (`may_have_created`), and a provider that cannot look tasks up by our id gets UNKNOWN
  instead of a retryable kind, because repeating the create could pay twice.
* Secrets never leave: error details are scrubbed of every secret the credentials know.
* Result URLs expire (Kling keeps files 30 days, Vidu's links live 24 h), so a clip is
  fetched the moment it is ready, streamed to a temporary file beside its destination
  under a size cap, proved playable with PyAV, and only then renamed into place: a
  cut-off transfer never leaves a half file where a clip should be.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import io
import logging
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.domain.errors import RETRYABLE_KINDS, ErrorKind, ProviderError
from bot.domain.types import ClipInfo, ProgressCallback, TaskStatus
from bot.media.probe import ClipError, probe_mp4

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def task_from(model: type[M], data: Any, op: str) -> M:
    """A provider's task from an answer's data; an unexpected shape is UNKNOWN, not a crash."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProviderError(
            ErrorKind.UNKNOWN, f"{op}: unexpected task shape ({exc.error_count()} errors)"
        ) from None


CHUNK_BYTES = 256 * 1024
SERVER_ERRORS = frozenset(range(500, 600))
DETAIL_LIMIT = 300  # characters of a provider's message kept in an error's detail


# --- Error tables -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """What one provider error means, and so whether it is retried."""

    kind: ErrorKind
    meaning: str
    resign: bool = False  # renew the credentials and repeat the call once (a stale token)
    may_have_created: bool = False  # on a create: the task may exist anyway

    @property
    def retry(self) -> bool:
        """Retried with backoff inside the provider: decided by the kind, for every provider."""
        return self.kind in RETRYABLE_KINDS


@dataclass(frozen=True, slots=True)
class When:
    """One line of an error table read off the answer: any of these statuses or words."""

    rule: ErrorRule
    statuses: frozenset[int] = frozenset()
    words: tuple[str, ...] = ()  # lower case, looked for in the provider's message

    def matches(self, status: int, message: str) -> bool:
        """True when the HTTP status is listed or the (lower-cased) message has a word."""
        return status in self.statuses or any(word in message for word in self.words)


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """One provider's errors: its own codes first, then the lines in order, then fallback."""

    answers: tuple[When, ...]
    fallback: ErrorRule
    codes: Mapping[int, ErrorRule] = field(default_factory=dict)

    def rule_for(self, code: int | None, status: int, message: str = "") -> ErrorRule:
        """The rule for an error answer; a known code wins over the HTTP status."""
        if code is not None and code in self.codes:
            return self.codes[code]
        lowered = message.lower()
        for line in self.answers:
            if line.matches(status, lowered):
                return line.rule
        return self.fallback


# --- Answers and credentials ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's reply as its `read_answer` understood it."""

    ok: bool
    data: Any = None
    code: int | None = None  # the provider's own error code, reported as ProviderError.code
    message: str = ""  # the provider's words about an error (scrubbed before use)
    request_id: str | None = None


ReadAnswer = Callable[[httpx.Response, str], Answer]


class Credentials(Protocol):
    """How a provider signs its calls; never shown in a log, an error or a repr."""

    def headers(self) -> dict[str, str]:
        """The headers that authenticate one call."""
        ...

    def renew(self) -> None:
        """Forget a cached token so the next call signs a new one."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every string that must be scrubbed from error details."""
        ...


class StaticKey:
    """An API key sent the same way on every call, such as Vidu's `Token <key>`."""

    def __init__(self, scheme: str, key: str) -> None:
        self._scheme = scheme
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return f"StaticKey(scheme={self._scheme!r})"

    def headers(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"{self._scheme} {self._key}"}

    def renew(self) -> None:
        """A static key has nothing to renew."""

    def secrets(self) -> tuple[str, ...]:
        """The key itself."""
        return (self._key,)


# --- Retries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is tried again."""

    max_attempts: int = 4
    base_s: float = 1.0
    max_s: float = 30.0

    def delay(self, attempt: int, error: ProviderError) -> float:
        """Backoff after `attempt` failed: exponential with jitter, at least Retry-After."""
        delay = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        delay += random.uniform(0, delay / 2)  # jitter: spread out retries from many workers
        if error.retry_after:
            delay = max(delay, min(error.retry_after, self.max_s))
        return delay


def retry_after_of(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: Retry-After as seconds or as an HTTP date."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return None


# --- The client -------------------------------------------------------------------------


class JsonApi:
    """One provider's HTTP client: signed JSON calls, bounded retries and result downloads."""

    def __init__(
        self,
        label: str,
        base_url: str,
        *,
        credentials: Credentials,
        errors: ErrorTable,
        read_answer: ReadAnswer,
        can_look_up: bool,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        download_timeout: float = 120.0,
        max_download_bytes: int = 1024 * 1024 * 1024,
        logger: logging.Logger | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.label = label  # "Kling", "Vidu": named in error details
        self._name = label.lower()
        self._credentials = credentials
        self._errors = errors
        self._read_answer = read_answer
        # Without a lookup by our own id, a create that may have gone through is final.
        self._can_look_up = can_look_up
        self._retry = retry or RetryPolicy()
        self._max_attempts = max(1, self._retry.max_attempts)
        self._max_download_bytes = max_download_bytes
        self._download_timeout = httpx.Timeout(download_timeout, connect=min(10.0, timeout))
        self._log = logger or log
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"Content-Type": "application/json", "User-Agent": f"claymate-{self._name}/1"},
            follow_redirects=True,
            transport=transport,
        )

    def __repr__(self) -> str:  # never show the credentials
        return f"JsonApi({self.label!r}, base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The API's root, as configured."""
        return str(self._http.base_url)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- One call ---------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        op: str,
        body: dict[str, Any] | None = None,
        *,
        creates: bool = False,
    ) -> Any:
        """One API call (plus one re-signed repeat where the table says so); its data or raise.

        `creates`: a failure after the request may have reached the provider is marked
        may_have_created, so nothing creates again before looking the task up.
        """
        renewed = False
        while True:
            try:
                resp = await self._http.request(
                    method, path, json=body, headers=self._credentials.headers()
                )
            except httpx.TransportError as exc:
                raise self._unanswered(op, exc, creates) from None
            answer = self._read_answer(resp, op)
            if answer.ok:
                return answer.data
            rule = self._errors.rule_for(answer.code, resp.status_code, self.scrub(answer.message))
            if rule.resign and not renewed:
                self._log.warning(
                    "%s %s: code %s (%s) request_id=%s; signing a new token, retrying once",
                    self._name,
                    op,
                    answer.code,
                    rule.meaning,
                    answer.request_id,
                )
                self._credentials.renew()
                renewed = True
                continue
            raise self._error(op, rule, answer, resp, creates)

    def _unanswered(self, op: str, exc: httpx.TransportError, creates: bool) -> ProviderError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            # Nothing was sent: safe to try again whatever the call was.
            return ProviderError(
                ErrorKind.TRANSIENT, f"{op}: cannot reach {self.label} ({type(exc).__name__})"
            )
        # A timeout after sending, a dropped connection: a create may have gone through.
        return self._maybe_created(
            ErrorKind.TRANSIENT,
            f"{op}: no answer from {self.label} ({type(exc).__name__})",
            may_have_created=creates,
        )

    def _error(
        self, op: str, rule: ErrorRule, answer: Answer, resp: httpx.Response, creates: bool
    ) -> ProviderError:
        message = self.scrub(answer.message)[:DETAIL_LIMIT]
        code = f" code {answer.code}" if answer.code is not None else ""
        where = f"HTTP {resp.status_code}"
        if answer.request_id:
            where += f", request_id={answer.request_id}"
        return self._maybe_created(
            rule.kind,
            f"{op}: {self.label}{code} ({rule.meaning}): {message!r} [{where}]",
            may_have_created=creates and rule.may_have_created,
            code=answer.code,
            retry_after=retry_after_of(resp.headers),
            extra={
                "request_id": answer.request_id,
                "http_status": resp.status_code,
                "message": message,
            },
        )

    def _maybe_created(
        self, kind: ErrorKind, detail: str, *, may_have_created: bool, **fields: Any
    ) -> ProviderError:
        if may_have_created and not self._can_look_up:
            kind, detail = ErrorKind.UNKNOWN, f"{detail}; not retried"
        return ProviderError(kind, detail, may_have_created=may_have_created, **fields)

    def scrub(self, text: str) -> str:
        """`text` with every secret of the credentials replaced by ***."""
        for secret in self._credentials.secrets():
            text = text.replace(secret, "***")
        return text

    # --- Retries ----------------------------------------------------------------------

    async def retrying(
        self,
        op: str,
        call: Callable[[], Awaitable[T]],
        *,
        look_up: Callable[[], Awaitable[T | None]] | None = None,
    ) -> T:
        """Run `call`, retrying retryable ProviderErrors with backoff, within the attempts.

        `look_up` runs before each retry and may find what an earlier attempt already made
        (a create whose answer was lost); what it finds is returned, and its own failure
        ends the retries at once.
        """
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1 and look_up is not None:
                found = await look_up()
                if found is not None:
                    return found
            try:
                return await call()
            except ProviderError as err:
                self.log_failure(op, err, attempt)
                if not err.retryable or attempt == self._max_attempts:
                    raise
                await self._sleep(self._retry.delay(attempt, err))
        raise AssertionError("unreachable")  # pragma: no cover

    def log_failure(self, op: str, err: ProviderError, attempt: int) -> None:
        """One warning per failed attempt, for operators; details are already scrubbed."""
        self._log.warning(
            "%s %s failed (attempt %d/%d): kind=%s code=%s request_id=%s%s",
            self._name,
            op,
            attempt,
            self._max_attempts,
            err.kind.value,
            err.code,
            err.extra.get("request_id"),
            " (may have created)" if err.may_have_created else "",
        )

    # --- Downloads --------------------------------------------------------------------

    async def download_clip(
        self, url: str, dest: Path, on_progress: ProgressCallback | None = None
    ) -> ClipInfo:
        """Fetch a result clip to `dest` (see `download_clip`), retrying within the attempts."""
        return await self.retrying(
            "download",
            lambda: download_clip(
                self._http,
                url,
                dest,
                timeout=self._download_timeout,
                max_bytes=self._max_download_bytes,
                on_progress=on_progress,
            ),
        )

    async def download_result(
        self,
        status: TaskStatus,
        refresh: Callable[[], Awaitable[TaskStatus]],
        dest: Path,
        on_progress: ProgressCallback | None = None,
        *,
        task: str = "task",
    ) -> ClipInfo:
        """A finished task's clip: from the status's URL, or a fresh status's (the one the
        runner kept may predate the URL). No URL at all: TRANSIENT while the task still
        runs, CONTENT when moderation refused it, else UNKNOWN."""
        if not status.result_url:
            status = await refresh()
        if not status.result_url:
            kind = ErrorKind.CONTENT if status.content_rejected else ErrorKind.UNKNOWN
            if status.state in ("submitted", "processing"):
                kind = ErrorKind.TRANSIENT
            raise ProviderError(kind, f"download: {task} is {status.state}, no result")
        return await self.download_clip(status.result_url, dest, on_progress)

    async def download_bytes(self, url: str, max_bytes: int) -> bytes:
        """Fetch a small result (a picture) into memory, size-capped, retrying like clips."""

        async def once() -> bytes:
            out = io.BytesIO()
            await _stream_to(self._http, url, out, self._download_timeout, max_bytes, None)
            return out.getvalue()

        return await self.retrying("download", once)


# --- The clip download ------------------------------------------------------------------


async def download_clip(
    http: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    timeout: httpx.Timeout,  # noqa: ASYNC109 - an httpx per-request timeout, passed through
    max_bytes: int,
    on_progress: ProgressCallback | None = None,
) -> ClipInfo:
    """Stream `url` to `dest` and return its facts; ProviderError says what went wrong.

    A file that does not decode raises TRANSIENT with extra["corrupt_clip"]: one more
    fetch may help (a cut transfer), but a provider should stop after its attempt budget.
    403/404/410 on the URL is EXPIRED; more than `max_bytes` is INVALID.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            await _stream_to(http, url, out, timeout, max_bytes, on_progress)
        try:
            facts = await asyncio.to_thread(probe_mp4, tmp)
        except ClipError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT,
                f"download: result is not a playable MP4 ({exc})",
                extra={"corrupt_clip": True},
            ) from None
        os.replace(tmp, dest)
    except BaseException:  # includes cancellation: never leave a .part file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if on_progress is not None:
        report_progress(on_progress, 1.0)
    return ClipInfo(
        path=dest,
        size_bytes=facts.size_bytes,
        duration_s=facts.duration_s,
        width=facts.width,
        height=facts.height,
        preview=False,
    )


async def _stream_to(
    http: httpx.AsyncClient,
    url: str,
    out: IO[bytes],
    timeout: httpx.Timeout,  # noqa: ASYNC109 - an httpx per-request timeout, passed through
    max_bytes: int,
    on_progress: ProgressCallback | None,
) -> None:
    try:
        # No Authorization header: the result URL is a CDN link, not the provider's API.
        async with http.stream("GET", url, timeout=timeout) as resp:
            status = resp.status_code
            if status in (403, 404, 410):
                kind = ErrorKind.EXPIRED
            elif status >= 500 or status == 429:
                kind = ErrorKind.TRANSIENT
            elif not resp.is_success:
                kind = ErrorKind.UNKNOWN
            else:
                kind = None
            if kind is not None:
                raise ProviderError(
                    kind,
                    f"download: result URL answered HTTP {status}",
                    extra={"http_status": status},
                )
            total = int(resp.headers.get("Content-Length") or 0)
            received = 0
            async for chunk in resp.aiter_bytes(CHUNK_BYTES):
                received += len(chunk)
                if received > max_bytes:
                    raise ProviderError(ErrorKind.INVALID, f"download: larger than {max_bytes}")
                out.write(chunk)
                if on_progress is not None and total:
                    report_progress(on_progress, min(1.0, received / total))
    except httpx.TransportError as exc:
        raise ProviderError(
            ErrorKind.TRANSIENT, f"download: transfer failed ({type(exc).__name__})"
        ) from None


def report_progress(on_progress: ProgressCallback, fraction: float) -> None:
    """Progress is cosmetic: a failing callback must not fail the download."""
    try:
        on_progress(fraction)
    except Exception:  # noqa: BLE001
        log.debug("progress callback failed", exc_info=True)
