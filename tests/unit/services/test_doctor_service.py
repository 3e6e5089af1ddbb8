"""The doctor's service with fake probes: each check failing in turn gives its ✗ line and
fix, a hanging check times out, a crashing one is a ✗ line, and the rest still report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.health import BotStatus, CheckResult, ModelAccess, Note, SchemaState
from bot.services import doctor as dr

HEADS = ("0005",)


def healthy_status() -> BotStatus:
    return BotStatus(username="claymate_test_bot", webhook_url="", pending_updates=0)


class FakeProvider:
    def __init__(self, access: ModelAccess | None = None, error: ProviderError | None = None):
        self.access = access or ModelAccess("m-1", ("m-1", "m-2"))
        self.error = error

    async def check_access(self) -> ModelAccess:
        if self.error is not None:
            raise self.error
        return self.access


NAMES = dr.ProviderSettings("doctor.name.vidu", "VIDU_API_KEY", "VIDU_API_URL", "VIDU_MODEL")


def checks(tmp_path: Path, **broken: object) -> list[dr.Check]:
    """A full set of checks, all healthy unless `broken` replaces one's probe."""

    async def status() -> BotStatus:
        return healthy_status()

    async def schema() -> SchemaState:
        return SchemaState(HEADS, HEADS)

    return [
        broken.get("telegram")  # type: ignore[list-item]
        or dr.telegram_check(status, webhook_url=None, api_url="http://127.0.0.1:1"),
        broken.get("database") or dr.database_check(schema, where="db"),  # type: ignore[list-item]
        broken.get("provider") or dr.provider_check(FakeProvider(), NAMES),  # type: ignore[list-item]
        dr.offline_check("doctor.name.kling"),
        broken.get("font") or dr.font_check(lambda: Path("/fonts/cjk.ttc")),  # type: ignore[list-item]
        broken.get("media") or dr.media_check(lambda: "PyAV 1"),  # type: ignore[list-item]
        broken.get("disk") or dr.disk_check(tmp_path, 0),  # type: ignore[list-item]
    ]


async def report(tmp_path: Path, lang: str = "en", **broken: object) -> list[str]:
    results = await dr.Doctor(checks(tmp_path, **broken), timeout_s=1).examine()
    return dr.render(results, lang)


async def test_all_healthy_is_all_ticks_in_order(tmp_path: Path) -> None:
    lines = await report(tmp_path)
    assert [line[0] for line in lines] == ["✓"] * 8
    assert lines[0] == "✓ Telegram token: valid, the bot is @claymate_test_bot"
    assert lines[1].startswith("✓ Telegram updates: polling")
    assert lines[4] == "✓ Kling: offline (no key): the built-in offline default is used"


def failed_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


async def raise_(error: BaseException) -> BotStatus:
    raise error


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            lambda: {"telegram": dr.telegram_check(None, webhook_url=None, api_url="x")},
            "✗ Telegram token: no bot token is set → set TELEGRAM_BOT_TOKEN",
        ),
        (
            lambda: {
                "telegram": dr.telegram_check(
                    lambda: raise_(ProviderError(ErrorKind.AUTH)), webhook_url=None, api_url="x"
                )
            },
            "✗ Telegram token: Telegram rejected the token → set TELEGRAM_BOT_TOKEN to the "
            "token @BotFather gave you",
        ),
        (
            lambda: {
                "telegram": dr.telegram_check(
                    lambda: raise_(ProviderError(ErrorKind.TRANSIENT)),
                    webhook_url=None,
                    api_url="https://api.example:8081/path",
                )
            },
            "✗ Telegram token: cannot reach https://api.example:8081 → check the network and "
            "TELEGRAM_API_URL",
        ),
        (
            lambda: {"database": dr.database_check(lambda: raise_(OSError()), where="pg/db")},
            "✗ Database: cannot reach pg/db → check DATABASE_URL and that the database server "
            "is running",
        ),
        (
            lambda: {
                "database": dr.database_check(
                    lambda: asyncio.sleep(0, SchemaState((), HEADS)), where="f.db"
                )
            },
            "✗ Database: f.db reachable but not migrated → run `claymate db upgrade`",
        ),
        (
            lambda: {
                "database": dr.database_check(
                    lambda: asyncio.sleep(0, SchemaState(("0003",), HEADS)), where="f.db"
                )
            },
            "✗ Database: f.db is at revision 0003, this version needs 0005 → run "
            "`claymate db upgrade`",
        ),
        (
            lambda: {
                "database": dr.database_check(
                    lambda: asyncio.sleep(0, SchemaState(("9999",), HEADS, known=False)),
                    where="f.db",
                )
            },
            "✗ Database: f.db is at revision 9999, newer than this claymate → upgrade "
            "claymate, or point DATABASE_URL at another database",
        ),
        (
            lambda: {
                "provider": dr.provider_check(
                    FakeProvider(error=ProviderError(ErrorKind.AUTH, code=401)), NAMES
                )
            },
            "✗ Vidu: the key was refused 401 → check VIDU_API_KEY (and that VIDU_API_URL is "
            "the host the key was made for)",
        ),
        (
            lambda: {
                "provider": dr.provider_check(
                    FakeProvider(ModelAccess("m-9", ("m-1", "m-2"))), NAMES
                )
            },
            "✗ Vidu: key accepted, but model m-9 is not available → set VIDU_MODEL to one of: "
            "m-1, m-2",
        ),
        (
            lambda: {
                "provider": dr.provider_check(
                    FakeProvider(error=ProviderError(ErrorKind.BALANCE, code=1102)), NAMES
                )
            },
            "✗ Vidu: the account is out of credit 1102 → top up the provider account",
        ),
        (
            lambda: {
                "provider": dr.provider_check(
                    FakeProvider(error=ProviderError(ErrorKind.TRANSIENT)), NAMES
                )
            },
            "✗ Vidu: the check call failed (transient) → check the network and VIDU_API_URL",
        ),
        (
            lambda: {"font": dr.font_check(lambda: None)},
            "✗ Chinese font: no font that draws Chinese was found → install a Chinese font "
            "(fonts-noto-cjk or fonts-wqy-microhei), or set CLAYMATE_CJK_FONT to a font file",
        ),
        (
            lambda: {"media": dr.media_check(lambda: __import__("no_such_av_module"))},
            "✗ Video tools: PyAV or its H.264 encoder is missing (No module named "
            "'no_such_av_module') → reinstall claymate's dependencies (pip install av)",
        ),
    ],
)
async def test_each_check_failing_in_turn_gives_its_line_and_fix(
    tmp_path: Path, broken: object, expected: str
) -> None:
    lines = await report(tmp_path, **broken())  # type: ignore[operator]
    assert failed_lines(lines) == [expected]
    assert len(lines) >= 7  # the others still report


async def test_low_disk_names_the_setting(tmp_path: Path) -> None:
    lines = await report(tmp_path, disk=dr.disk_check(tmp_path / "not" / "yet", 10**12))
    (line,) = failed_lines(lines)
    assert line.startswith("✗ Disk space: ")
    assert f"in {tmp_path} (" not in line  # the nearest existing parent is measured
    assert "below the 1000000000000 MB minimum" in line
    assert line.endswith("or lower CLAYMATE_MIN_FREE_DISK_MB")


async def test_a_hanging_check_times_out_and_the_others_still_report(tmp_path: Path) -> None:
    async def hang() -> SchemaState:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    started = asyncio.get_running_loop().time()
    lines = await report(tmp_path, database=dr.database_check(hang, where="db"))
    assert asyncio.get_running_loop().time() - started < 5
    assert failed_lines(lines) == [
        "✗ Database: no answer within 1 s → check DATABASE_URL and that the database server "
        "is running"
    ]


async def test_a_crashing_check_is_a_failed_line_without_its_message(tmp_path: Path) -> None:
    async def crash() -> CheckResult:
        raise RuntimeError("postgresql://user:hunter2@db/x exploded")

    crashing = dr.Check("doctor.name.database", crash, Note("doctor.fix.retry"))
    lines = await report(tmp_path, database=crashing)
    assert failed_lines(lines) == [
        "✗ Database: the check failed (RuntimeError) → run the doctor again"
    ]
    assert "hunter2" not in "\n".join(lines)


async def test_webhook_states_against_the_configured_mode() -> None:
    configured = "https://bot.example/hook/SECRET-PATH"
    cases = {
        BotStatus("b", "", 3): "✓ Telegram updates: webhook configured, not registered yet",
        BotStatus("b", configured, 2): "✓ Telegram updates: webhook to https://bot.example "
        "registered, 2 updates waiting",
        BotStatus("b", configured, 7, "Connection refused (2026-12-07 10:00 UTC)"): (
            "✗ Telegram updates: webhook: Telegram's last delivery failed: Connection refused"
        ),
    }
    for status, start in cases.items():
        (line,) = dr.render([dr.webhook_result(status, configured)], "en")
        assert line.startswith(start)
        assert "SECRET-PATH" not in line
    (polling,) = dr.render([dr.webhook_result(BotStatus("b", configured, 1), None)], "en")
    assert polling.startswith("✓ Telegram updates: polling configured, but Telegram has a webhook")


async def test_the_report_speaks_chinese(tmp_path: Path) -> None:
    lines = await report(tmp_path, "zh", font=dr.font_check(lambda: None))
    assert "✗ 中文字体: 没有找到能显示中文的字体 → " in failed_lines(lines)[0]
    assert "CLAYMATE_CJK_FONT" in failed_lines(lines)[0]
