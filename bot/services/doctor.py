"""`claymate doctor` and /doctor: the checks an operator would make before going live.

Every check runs at once with its own timeout, and the doctor never raises: a check that
hangs or crashes is a ✗ line with that check's fix, so one broken part cannot hide the
report on the others. The adapters (Telegram, storage, providers) are handed in as probes
by bot.wiring; this module only decides what their answers mean and which setting to name.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.health import BotStatus, CheckResult, ModelAccess, Note, SchemaState
from bot.domain.ports import AccessCheckable
from bot.i18n import t

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
MODELS_SHOWN = 5  # a fix line names a few known models, not a catalogue

Outcome = CheckResult | Sequence[CheckResult]


@dataclass(frozen=True, slots=True)
class Check:
    """A named probe; `fix` is the line shown when it hangs or crashes."""

    name: str
    run: Callable[[], Awaitable[Outcome]]
    fix: Note


class Doctor:
    """Runs the checks concurrently, each under a timeout, and reports them in order."""

    def __init__(self, checks: Sequence[Check], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.checks = tuple(checks)
        self.timeout_s = timeout_s

    async def examine(self) -> list[CheckResult]:
        """Every check's lines, in the order the checks were given; never raises."""
        outcomes = await asyncio.gather(*(self._one(check) for check in self.checks))
        return [result for lines in outcomes for result in lines]

    async def _one(self, check: Check) -> list[CheckResult]:
        try:
            outcome = await asyncio.wait_for(check.run(), self.timeout_s)
        except TimeoutError:
            return [
                CheckResult.failed(
                    check.name, "doctor.timed_out", check.fix, seconds=f"{self.timeout_s:g}"
                )
            ]
        except Exception as error:  # a crashing check is a ✗ line, not a crashed doctor
            # The type only: an exception's text may carry a URL with credentials in it.
            log.warning("doctor: check %s crashed with %s", check.name, type(error).__name__)
            return [
                CheckResult.failed(
                    check.name, "doctor.crashed", check.fix, error=type(error).__name__
                )
            ]
        return [outcome] if isinstance(outcome, CheckResult) else list(outcome)


def all_ok(results: Sequence[CheckResult]) -> bool:
    return all(result.ok for result in results)


def render(results: Sequence[CheckResult], lang: str) -> list[str]:
    """One line per result: ✓ or ✗, the check, what was found and, for ✗, the fix."""
    lines = []
    for result in results:
        line = f"{'✓' if result.ok else '✗'} {t(result.name, lang)}: "
        line += t(result.detail.key, lang, **result.detail.values)
        if not result.ok and result.fix is not None:
            line += " → " + t(result.fix.key, lang, **result.fix.values)
        lines.append(line)
    return lines


def _fix(key: str, **values: object) -> Note:
    return Note(key, values)


def site_of(url: str) -> str:
    """scheme://host[:port] of a URL: its path or query may hold a secret (a token path)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "?"


# --- Telegram ----------------------------------------------------------------------------

TOKEN = "doctor.name.telegram"
WEBHOOK = "doctor.name.webhook"


def telegram_check(
    probe: Callable[[], Awaitable[BotStatus]] | None, *, webhook_url: str | None, api_url: str
) -> Check:
    """The token (getMe), then the delivery state (getWebhookInfo) against the configured mode."""
    unreachable = _fix("doctor.fix.telegram_unreachable", setting="TELEGRAM_API_URL")

    async def run() -> list[CheckResult]:
        if probe is None:
            fix = _fix("doctor.fix.set", setting="TELEGRAM_BOT_TOKEN")
            return [CheckResult.failed(TOKEN, "doctor.telegram.no_token", fix)]
        try:
            status = await probe()
        except ProviderError as error:
            if error.kind is ErrorKind.AUTH:
                fix = _fix("doctor.fix.token", setting="TELEGRAM_BOT_TOKEN")
                return [CheckResult.failed(TOKEN, "doctor.telegram.refused", fix)]
            return [
                CheckResult.failed(
                    TOKEN, "doctor.unreachable", unreachable, where=site_of(api_url)
                )
            ]
        token = CheckResult.passed(TOKEN, "doctor.telegram.ok", username=status.username)
        return [token, webhook_result(status, webhook_url)]

    return Check(TOKEN, run, unreachable)


def webhook_result(status: BotStatus, webhook_url: str | None) -> CheckResult:
    """Webhook or polling, as configured, and whether Telegram can deliver."""
    pending = status.pending_updates
    if webhook_url is None:
        if status.webhook_url:
            # start_polling deletes the webhook first, so this is not a failure.
            return CheckResult.passed(
                WEBHOOK, "doctor.webhook.polling_over", site=site_of(status.webhook_url),
                pending=pending,
            )  # fmt: skip
        return CheckResult.passed(WEBHOOK, "doctor.webhook.polling", pending=pending)
    if status.last_error:
        fix = _fix("doctor.fix.webhook_error", setting="CLAYMATE_WEBHOOK_URL")
        return CheckResult.failed(
            WEBHOOK, "doctor.webhook.error", fix, error=status.last_error[:160], pending=pending
        )
    if not status.webhook_url:
        return CheckResult.passed(WEBHOOK, "doctor.webhook.not_yet", pending=pending)
    if status.webhook_url != webhook_url:
        return CheckResult.passed(
            WEBHOOK, "doctor.webhook.other", site=site_of(status.webhook_url), pending=pending
        )
    return CheckResult.passed(
        WEBHOOK, "doctor.webhook.set", site=site_of(webhook_url), pending=pending
    )


# --- the database --------------------------------------------------------------------------

DATABASE = "doctor.name.database"


def database_check(probe: Callable[[], Awaitable[SchemaState]], *, where: str) -> Check:
    """Reachable, and at this version's Alembic head."""
    unreachable = _fix("doctor.fix.database_unreachable", setting="DATABASE_URL")

    async def run() -> CheckResult:
        try:
            state = await probe()
        except Exception as error:
            log.info("doctor: database at %s: %s", where, type(error).__name__)
            return CheckResult.failed(DATABASE, "doctor.unreachable", unreachable, where=where)
        if state.at_head:
            return CheckResult.passed(
                DATABASE, "doctor.database.ok", where=where, revision=", ".join(state.heads)
            )
        if not state.current:
            fix = _fix("doctor.fix.migrate")
            return CheckResult.failed(DATABASE, "doctor.database.empty", fix, where=where)
        if not state.known:
            fix = _fix("doctor.fix.newer_schema", setting="DATABASE_URL")
            return CheckResult.failed(
                DATABASE,
                "doctor.database.newer",
                fix,
                where=where,
                current=", ".join(state.current),
            )
        fix = _fix("doctor.fix.migrate")
        return CheckResult.failed(
            DATABASE,
            "doctor.database.behind",
            fix,
            where=where,
            current=", ".join(state.current),
            head=", ".join(state.heads),
        )

    return Check(DATABASE, run, unreachable)


# --- providers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The settings a provider's fix lines name."""

    label: str  # i18n key of the check's name
    key: str  # e.g. "VIDU_API_KEY"
    url: str  # e.g. "VIDU_API_URL"
    model: str  # e.g. "VIDU_MODEL"


def offline_check(label: str, key: str = "doctor.provider.offline") -> Check:
    """A provider with no key configured: fine, the offline default takes its place (or,
    for voice and narration, which have none, the feature is off and says so)."""

    async def run() -> CheckResult:
        return CheckResult.passed(label, key)

    return Check(label, run, _fix("doctor.fix.retry"))


def config_check(label: str, problem: str) -> Check:
    """A provider whose settings keep it from being built: the line names the setting."""

    async def run() -> CheckResult:
        return CheckResult.failed(
            label, "doctor.provider.config", _fix("doctor.fix.config"), problem=problem
        )

    return Check(label, run, _fix("doctor.fix.config"))


def provider_check(provider: AccessCheckable, names: ProviderSettings) -> Check:
    """The key accepted by a free authenticated call, and the configured model known."""
    unreachable = _fix("doctor.fix.provider_unreachable", setting=names.url)

    async def run() -> CheckResult:
        try:
            access: ModelAccess = await provider.check_access()
        except ProviderError as error:
            return _refusal(names, error, unreachable)
        if not access.model_ok:
            known = ", ".join(access.known[:MODELS_SHOWN])
            fix = _fix("doctor.fix.model", setting=names.model, known=known)
            return CheckResult.failed(
                names.label, "doctor.provider.unknown_model", fix, model=access.model
            )
        return CheckResult.passed(names.label, "doctor.provider.ok", model=access.model)

    return Check(names.label, run, unreachable)


def _refusal(names: ProviderSettings, error: ProviderError, unreachable: Note) -> CheckResult:
    code = f" {error.code}" if error.code is not None else ""
    if error.kind is ErrorKind.AUTH:
        fix = _fix("doctor.fix.key", setting=names.key, url=names.url)
        return CheckResult.failed(names.label, "doctor.provider.refused", fix, code=code)
    if error.kind is ErrorKind.BALANCE:
        fix = _fix("doctor.fix.balance")
        return CheckResult.failed(names.label, "doctor.provider.balance", fix, code=code)
    if error.kind is ErrorKind.PERMISSION:
        fix = _fix("doctor.fix.permission", setting=names.key)
        return CheckResult.failed(names.label, "doctor.provider.permission", fix, code=code)
    return CheckResult.failed(
        names.label, "doctor.provider.failed", unreachable, kind=error.kind.value, code=code
    )


# --- this machine --------------------------------------------------------------------------

FONT = "doctor.name.font"
MEDIA = "doctor.name.media"
DISK = "doctor.name.disk"


def font_check(find: Callable[[], Path | None]) -> Check:
    """A font that draws Chinese, for titles, boards and labels."""
    fix = _fix("doctor.fix.font", setting="CLAYMATE_CJK_FONT")

    async def run() -> CheckResult:
        found = await asyncio.to_thread(find)
        if found is None:
            return CheckResult.failed(FONT, "doctor.font.missing", fix)
        return CheckResult.passed(FONT, "doctor.font.ok", path=str(found))

    return Check(FONT, run, fix)


def media_check(probe: Callable[[], str]) -> Check:
    """PyAV (FFmpeg's libraries) with an H.264 encoder: previews and films need both.

    `probe` returns the versions found, or raises ImportError/LookupError.
    """
    fix = _fix("doctor.fix.media")

    async def run() -> CheckResult:
        try:
            found = await asyncio.to_thread(probe)
        except (ImportError, LookupError, ValueError) as error:
            return CheckResult.failed(MEDIA, "doctor.media.missing", fix, error=str(error)[:120])
        return CheckResult.passed(MEDIA, "doctor.media.ok", versions=found)

    return Check(MEDIA, run, fix)


def pyav_versions() -> str:
    """The PyAV and FFmpeg versions, having checked that H.264 can be written."""
    import av

    av.codec.Codec("libx264", "w")  # raises (an UnknownCodecError) when it is missing
    return f"PyAV {av.__version__}"


def disk_check(data_dir: Path, min_free_mb: int) -> Check:
    """Free space where photos, clips and the SQLite file go."""
    fix = _fix(
        "doctor.fix.disk", setting="CLAYMATE_MIN_FREE_DISK_MB", dir_setting="CLAYMATE_DATA_DIR"
    )

    async def run() -> CheckResult:
        where = _existing(data_dir)
        free_mb = (await asyncio.to_thread(shutil.disk_usage, where)).free // (1024 * 1024)
        values = {"free": free_mb, "minimum": min_free_mb, "where": str(where)}
        if free_mb < min_free_mb:
            return CheckResult.failed(DISK, "doctor.disk.low", fix, **values)
        return CheckResult.passed(DISK, "doctor.disk.ok", **values)

    return Check(DISK, run, fix)


def _existing(path: Path) -> Path:
    """The data directory, or its nearest parent that exists (before the first start)."""
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
