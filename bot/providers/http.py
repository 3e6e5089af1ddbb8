"""Fetching a finished clip from a provider's result URL, shared by every HTTP provider.

Result URLs expire (Kling keeps files 30 days, Vidu's links live 24 h), so a clip is
fetched the moment it is ready, streamed to a temporary file beside its destination,
proved playable with PyAV, and only then renamed into place: a cut-off transfer never
leaves a half file where a clip should be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.types import ClipInfo, ProgressCallback
from bot.media.probe import ClipError, probe_mp4

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024


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
    403/404/410 on the URL is EXPIRED.
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
    out: Any,
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
