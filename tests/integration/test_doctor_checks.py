"""`claymate doctor` against the local fakes: the real Bot, httpx and openai clients, real
SQLite and PostgreSQL. A wrong key, an unknown model, a database not migrated or not there:
each is one ✗ line naming the setting, and no secret ever appears in the report."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.services.doctor import all_ok, render
from bot.wiring import build_doctor
from storage.db import Database
from tests.conftest import make_settings
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeKling
from tests.fakes.fake_openai import DEFAULT_KEY, FakeOpenAI
from tests.fakes.fake_seedance import FAKE_SEEDANCE_KEY, FakeSeedance
from tests.fakes.fake_vidu import FAKE_VIDU_KEY, FakeVidu
from tests.fakes.telegram_stub import DEFAULT_TOKEN, TelegramStub

WRONG = "wrong-key-DO-NOT-PRINT-0123456789"


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    with TelegramStub() as running:
        yield running


async def lines_for(settings: Settings) -> tuple[list[str], bool]:
    async with build_doctor(settings) as doctor:
        results = await doctor.examine()
    return render(results, "en"), all_ok(results)


def line(lines: list[str], label: str) -> str:
    (found,) = [text for text in lines if text[2:].startswith(label + ":")]
    return found


async def migrated_settings(tmp_path: Path, **overrides: object) -> Settings:
    settings = make_settings(tmp_path, **overrides)
    db = Database.from_url(settings.resolved_database_url)
    await db.upgrade()
    await db.dispose()
    return settings


# --- Telegram -----------------------------------------------------------------------------


async def test_a_healthy_offline_setup_passes_every_check(
    tmp_path: Path, stub: TelegramStub
) -> None:
    settings = await migrated_settings(
        tmp_path, telegram_bot_token=DEFAULT_TOKEN, telegram_api_url=stub.api_root
    )
    lines, ok = await lines_for(settings)
    assert ok, lines
    assert (
        line(lines, "Telegram token") == "✓ Telegram token: valid, the bot is @claymate_test_bot"
    )
    assert line(lines, "Telegram updates").startswith("✓ Telegram updates: polling")
    assert line(lines, "Vidu") == "✓ Vidu: offline (no key): the built-in offline default is used"
    assert [call.method for call in stub.calls()] == ["getMe", "getWebhookInfo"]
    assert stub.spec_violations == []


async def test_a_wrong_token_is_one_line_without_the_token(
    tmp_path: Path, stub: TelegramStub
) -> None:
    bad = "123456789:AAE-wrong-token-DO-NOT-PRINT"
    settings = await migrated_settings(
        tmp_path, telegram_bot_token=bad, telegram_api_url=stub.api_root
    )
    lines, ok = await lines_for(settings)
    assert not ok
    assert line(lines, "Telegram token") == (
        "✗ Telegram token: Telegram rejected the token → set TELEGRAM_BOT_TOKEN to the token "
        "@BotFather gave you"
    )
    assert "DO-NOT-PRINT" not in "\n".join(lines)


async def test_a_webhook_telegram_cannot_deliver_to_is_a_failure(
    tmp_path: Path, stub: TelegramStub
) -> None:
    url = "https://bot.example/telegram"
    settings = await migrated_settings(
        tmp_path,
        telegram_bot_token=DEFAULT_TOKEN,
        telegram_api_url=stub.api_root,
        webhook_url=url,
    )
    async with stub.application_builder().build().bot as bot:
        await bot.set_webhook(url)
    stub.webhook_failing("Connection refused")
    lines, ok = await lines_for(settings)
    assert not ok
    assert line(lines, "Telegram updates").startswith(
        "✗ Telegram updates: webhook: Telegram's last delivery failed: Connection refused ("
    )
    assert "CLAYMATE_WEBHOOK_URL" in line(lines, "Telegram updates")
    assert stub.spec_violations == []


async def test_an_unreachable_bot_api_names_telegram_api_url(tmp_path: Path) -> None:
    settings = await migrated_settings(
        tmp_path, telegram_bot_token=DEFAULT_TOKEN, telegram_api_url="http://127.0.0.1:1"
    )
    lines, ok = await lines_for(settings)
    assert not ok
    assert line(lines, "Telegram token") == (
        "✗ Telegram token: cannot reach http://127.0.0.1:1 → check the network and "
        "TELEGRAM_API_URL"
    )


# --- the database ----------------------------------------------------------------------------


async def test_a_migrated_database_passes(tmp_path: Path, database_url: str) -> None:
    lines, _ = await lines_for(make_settings(tmp_path, database_url=database_url))
    assert line(lines, "Database").startswith("✓ Database: ")
    assert "at the latest migration" in line(lines, "Database")


async def test_a_database_not_migrated_says_run_db_upgrade(
    tmp_path: Path, empty_database_url: str
) -> None:
    lines, ok = await lines_for(make_settings(tmp_path, database_url=empty_database_url))
    assert not ok
    assert line(lines, "Database").endswith(
        "reachable but not migrated → run `claymate db upgrade`"
    )


async def test_a_database_behind_head_says_run_db_upgrade(
    tmp_path: Path, empty_database_url: str
) -> None:
    db = Database.from_url(empty_database_url)
    await db.upgrade("0004")
    await db.dispose()
    lines, _ = await lines_for(make_settings(tmp_path, database_url=empty_database_url))
    assert "is at revision 0004" in line(lines, "Database")
    assert line(lines, "Database").endswith("→ run `claymate db upgrade`")


async def test_an_unreachable_database_names_database_url_not_its_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://claymate:hunter2-DO-NOT-PRINT@127.0.0.1:1/claymate"
    lines, ok = await lines_for(make_settings(tmp_path, database_url=url))
    assert not ok
    assert line(lines, "Database") == (
        "✗ Database: cannot reach 127.0.0.1:1/claymate → check DATABASE_URL and that the "
        "database server is running"
    )
    assert "hunter2" not in "\n".join(lines)


async def test_a_sqlite_file_that_cannot_be_made_is_a_line_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = make_settings(tmp_path, database_url=f"sqlite:///{blocker}/claymate.db")
    lines, ok = await lines_for(settings)
    assert not ok
    assert line(lines, "Database") == (
        f"✗ Database: cannot reach {blocker}/claymate.db → check DATABASE_URL and that the "
        "database server is running"
    )


# --- providers -------------------------------------------------------------------------------


async def test_kling_keys_and_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with FakeKling() as fake:
        good = {"kling_access_key": FAKE_ACCESS_KEY, "kling_api_url": fake.url}
        lines, _ = await lines_for(
            make_settings(tmp_path, kling_secret_key=FAKE_SECRET_KEY, **good)
        )
        assert line(lines, "Kling") == "✓ Kling: key accepted, model kling-v2-5-turbo available"

        lines, _ = await lines_for(make_settings(tmp_path, kling_secret_key=WRONG, **good))
        assert line(lines, "Kling") == (
            "✗ Kling: the key was refused 1002 → check KLING_API_KEY (or KLING_ACCESS_KEY/"
            "KLING_SECRET_KEY) (and that KLING_API_URL is the host the key was made for)"
        )

        lines, _ = await lines_for(
            make_settings(
                tmp_path, kling_secret_key=FAKE_SECRET_KEY, kling_model="kling-v1", **good
            )
        )
        # A retired model stops the provider being built: one line naming KLING_MODEL.
        assert line(lines, "Kling").startswith("✗ Kling: KLING_MODEL: ")
        assert "kling-v1" in line(lines, "Kling")
        assert line(lines, "Kling").endswith(
            "→ change the setting named here, then run the doctor again"
        )
        assert not fake.tasks  # never a paid generation
    assert WRONG not in "\n".join(lines) and FAKE_SECRET_KEY not in "\n".join(lines)
    assert WRONG not in caplog.text and FAKE_SECRET_KEY not in caplog.text


async def test_vidu_key_and_model(tmp_path: Path) -> None:
    with FakeVidu() as fake:
        lines, _ = await lines_for(
            make_settings(tmp_path, vidu_api_key=FAKE_VIDU_KEY, vidu_api_url=fake.url)
        )
        assert line(lines, "Vidu") == "✓ Vidu: key accepted, model viduq2-turbo available"

        lines, _ = await lines_for(
            make_settings(tmp_path, vidu_api_key=WRONG, vidu_api_url=fake.url)
        )
        assert line(lines, "Vidu") == (
            "✗ Vidu: the key was refused 401 → check VIDU_API_KEY (and that VIDU_API_URL is the "
            "host the key was made for)"
        )
        lines, _ = await lines_for(
            make_settings(
                tmp_path, vidu_api_key=FAKE_VIDU_KEY, vidu_api_url=fake.url, vidu_model="vidu-q9"
            )
        )
        assert line(lines, "Vidu").startswith(
            "✗ Vidu: VIDU_MODEL: 'vidu-q9' is not a Vidu model; use one of viduq3-pro, "
        )
        assert fake.creates == []  # never a paid generation
    assert WRONG not in "\n".join(lines)


async def test_seedance_key(tmp_path: Path) -> None:
    with FakeSeedance() as fake:
        lines, _ = await lines_for(
            make_settings(tmp_path, seedance_api_key=FAKE_SEEDANCE_KEY, seedance_api_url=fake.url)
        )
        assert line(lines, "Seedance") == (
            "✓ Seedance: key accepted, model seedance-1-5-pro-251215 available"
        )
        lines, _ = await lines_for(
            make_settings(tmp_path, seedance_api_key=WRONG, seedance_api_url=fake.url)
        )
        assert line(lines, "Seedance") == (
            "✗ Seedance: the key was refused → check SEEDANCE_API_KEY (and that "
            "SEEDANCE_API_URL is the host the key was made for)"
        )
    assert WRONG not in "\n".join(lines)


async def test_openai_key_and_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with FakeOpenAI() as fake:
        base = {"openai_base_url": fake.base_url}
        lines, _ = await lines_for(make_settings(tmp_path, openai_api_key=DEFAULT_KEY, **base))
        assert line(lines, "LLM (OpenAI-compatible)") == (
            "✓ LLM (OpenAI-compatible): key accepted, model gpt-5.4-mini available"
        )
        # The fake echoes the key it was given, as careless servers do: it must not show.
        lines, _ = await lines_for(make_settings(tmp_path, openai_api_key=WRONG, **base))
        assert line(lines, "LLM (OpenAI-compatible)") == (
            "✗ LLM (OpenAI-compatible): the key was refused 401 → check OPENAI_API_KEY (and that "
            "OPENAI_BASE_URL is the host the key was made for)"
        )
        assert WRONG not in "\n".join(lines)
        lines, _ = await lines_for(
            make_settings(tmp_path, openai_api_key=DEFAULT_KEY, llm_model="gpt-0-gone", **base)
        )
        fix = line(lines, "LLM (OpenAI-compatible)")
        assert fix.startswith(
            "✗ LLM (OpenAI-compatible): key accepted, but model gpt-0-gone is not available → "
            "set CLAYMATE_LLM_MODEL to one of: "
        )
        listed = fix.rsplit(": ", 1)[1].split(", ")
        assert len(listed) == 5 and "gpt-0-gone" not in listed
        assert fake.chat_requests() == []  # models.list only, never a paid completion
    assert WRONG not in caplog.text and DEFAULT_KEY not in caplog.text


async def test_the_audio_models_are_checked_by_name_without_paying(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        base = {"openai_base_url": fake.base_url, "openai_api_key": DEFAULT_KEY}
        lines, _ = await lines_for(make_settings(tmp_path, **base))
        assert line(lines, "Voice notes (speech to text)") == (
            "✓ Voice notes (speech to text): key accepted, model gpt-transcribe available"
        )
        assert line(lines, "Narration (text to speech)") == (
            "✓ Narration (text to speech): key accepted, model gpt-4o-mini-tts available"
        )
        lines, ok = await lines_for(
            make_settings(tmp_path, tts_model="tts-0-gone", transcribe_model="whisper-0", **base)
        )
        assert not ok
        assert "set CLAYMATE_TTS_MODEL to one of: " in line(lines, "Narration (text to speech)")
        assert "set CLAYMATE_TRANSCRIBE_MODEL to one of: " in line(
            lines, "Voice notes (speech to text)"
        )
        assert fake.chat_requests() == []  # models.list only
    lines, _ = await lines_for(make_settings(tmp_path))
    assert line(lines, "Narration (text to speech)") == (
        "✓ Narration (text to speech): off (no key): films have no narration"
    )
