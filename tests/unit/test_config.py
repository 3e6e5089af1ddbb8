"""Settings: one line naming the bad variable (exit 2), plain database URLs, hidden secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, normalise_database_url, require
from tests.conftest import REPO_ROOT, make_settings


def run_claymate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    environment["CLAYMATE_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (("make", "photo.jpg", "boats glide"), {"KLING_DURATION": "7"}, "KLING_DURATION"),
        (("history",), {"KLING_MODE": "turbo-secret-ish"}, "KLING_MODE"),
        (("history",), {"DATABASE_URL": "mysql://u:hunter2@db/x"}, "DATABASE_URL"),
        (("run",), {}, "TELEGRAM_BOT_TOKEN"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], variable: str
) -> None:
    result = run_claymate(tmp_path, *args, **env)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("claymate: configuration error: ")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    # The offending value is never echoed: it may be a secret in the wrong variable.
    for value in env.values():
        assert len(value) < 3 or value not in result.stderr


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite+aiosqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite+claymate:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(raw: str, expected: str) -> None:
    assert normalise_database_url(raw) == expected


def test_database_url_from_the_environment_is_normalised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", " postgres://claymate@db.internal/claymate ")
    assert load_settings().resolved_database_url == (
        "postgresql+asyncpg://claymate@db.internal/claymate"
    )
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("CLAYMATE_DATA_DIR", str(tmp_path / "d"))
    default = load_settings().resolved_database_url
    assert default.startswith("sqlite+aiosqlite:///") and default.endswith("/d/claymate.db")


def test_secrets_are_secretstr_and_never_printed(tmp_path: Path) -> None:
    secrets = {
        "telegram_bot_token": "123456:AAH-very-secret-token",
        "openai_api_key": "sk-very-secret-openai",
        "kling_access_key": "kling-access-very-secret",
        "kling_secret_key": "kling-secret-very-secret",
        "webhook_secret": "webhook-very-secret",
    }
    settings = make_settings(tmp_path, **secrets)
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for name, value in secrets.items():
        assert value not in shown, name
        assert getattr(settings, name).get_secret_value() == value
    assert settings.kling_enabled and settings.llm_enabled


def test_blank_values_mean_unset_and_require_names_the_variable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, kling_access_key="  ", openai_api_key="")
    assert settings.kling_access_key is None and not settings.llm_enabled
    with pytest.raises(ConfigError, match="^TELEGRAM_BOT_TOKEN: "):
        require(settings, "telegram_bot_token")


def test_invalid_values_raise_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KLING_API_URL", "api.klingai.com")
    with pytest.raises(ConfigError, match="^KLING_API_URL: "):
        load_settings()
    monkeypatch.delenv("KLING_API_URL")
    monkeypatch.setenv("CLAYMATE_WEBHOOK_PORT", "70000")
    with pytest.raises(ConfigError, match="^CLAYMATE_WEBHOOK_PORT: "):
        load_settings()
