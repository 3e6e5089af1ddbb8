"""`claymate make`, `draft` and `history` end to end, each in its own process."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest

from bot.media.sample import sample_photo
from storage.db import Database
from storage.uow import UnitOfWork
from tests.conftest import REPO_ROOT
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.fakes.fake_openai import DEFAULT_KEY, FakeOpenAI

pytestmark = pytest.mark.slow


def environment_for(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CLAYMATE_DATA_DIR": str(tmp_path / "data"),
        "CLAYMATE_PREVIEW_HEIGHT": "240",
        **env,
    }


def claymate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment_for(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def database_rows(tmp_path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(tmp_path / "data" / "claymate.db") as connection:
        return connection.execute(sql).fetchall()


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "bund.jpg"
    sample_photo(path, width=800, height=600)
    return path


def test_make_on_offline_defaults_writes_a_clip_and_history_lists_it(
    tmp_path: Path, photo: Path
) -> None:
    out = tmp_path / "out" / "clip.mp4"
    made = claymate(
        tmp_path, "make", str(photo), "Boats glide on the river", "--out", str(out),
        "--project", "Shanghai",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "prompt (offline" in made.stdout
    assert f"clip: {out}" in made.stdout
    assert out.is_file() and decoded_frames(out) > 10
    # Into a pipe: no progress bar redrawing itself, no INFO log lines.
    assert "\r" not in made.stderr and " INFO " not in made.stderr, made.stderr

    history = claymate(tmp_path, "history")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert any(line.startswith("project ") and "Shanghai" in line for line in lines)
    assert any(line.strip().startswith("shot 1: Boats glide on the river") for line in lines)
    assert any("take " in line and "offline/" in line and "delivered" in line for line in lines)

    listed = claymate(tmp_path, "history", "--json")
    assert listed.returncode == 0, listed.stderr
    [project] = json.loads(listed.stdout)
    assert project["title"] == "Shanghai"
    [shot] = project["shots"]
    assert shot["position"] == 1 and shot["description"] == "Boats glide on the river"
    [take] = shot["takes"]
    assert take["provider"] == "offline" and take["status"] == "delivered"
    assert take["clip_path"] and Path(take["clip_path"]).is_file()


def test_verbose_flags_raise_the_log_level_of_a_piped_command(tmp_path: Path) -> None:
    quiet = claymate(tmp_path, "history")
    verbose = claymate(tmp_path, "history", "-v")
    very = claymate(tmp_path, "-vv", "history")
    assert quiet.returncode == verbose.returncode == very.returncode == 0
    # Which level each count means is the parser's (tests/unit/test_cli_parser.py); here,
    # that the level reaches the process's logging: only -vv shows DEBUG lines.
    assert quiet.stderr == "", quiet.stderr
    assert " DEBUG " not in verbose.stderr, verbose.stderr
    assert " DEBUG " in very.stderr, very.stderr


def test_version_prints_the_installed_version_and_exits_zero(tmp_path: Path) -> None:
    shown = claymate(tmp_path, "--version")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"claymate {importlib.metadata.version('claymate')}"


def test_make_with_camera_writes_that_move_into_the_prompt(tmp_path: Path, photo: Path) -> None:
    out = tmp_path / "clip.mp4"
    made = claymate(
        tmp_path, "make", str(photo), "Boats glide on the river", "--camera", "tilt_up",
        "--out", str(out),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    prompt = made.stdout.split("prompt (offline", 1)[1].split("negative:", 1)[0]
    assert "The camera tilts slowly upwards." in prompt
    assert "pans" not in prompt and "pushes in" not in prompt  # one move, the one asked for
    assert "camera tilt_up" in made.stdout


@contextmanager
def _fake_kling_process(task_seconds: int) -> Iterator[str]:
    """The fake Kling API as its own process (as an operator would run it); its base URL."""
    command = ["-m", "tests.fakes.fake_kling", "--port", "0", "--task-seconds", str(task_seconds)]
    process = subprocess.Popen(
        [sys.executable, *command], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def kling_process() -> Iterator[str]:
    """The fake Kling API, finishing tasks in a second."""
    with _fake_kling_process(task_seconds=1) as url:
        yield url


def test_make_with_kling_and_openai_keys_uses_the_real_providers(
    tmp_path: Path, photo: Path, kling_process: str
) -> None:
    out = tmp_path / "kling.mp4"
    with FakeOpenAI() as llm:
        made = claymate(
            tmp_path,
            "make", str(photo), "Boats glide on the river", "--out", str(out),
            KLING_ACCESS_KEY=FAKE_ACCESS_KEY,
            KLING_SECRET_KEY=FAKE_SECRET_KEY,
            KLING_API_URL=kling_process,
            KLING_POLL_INTERVAL="0.3",
            OPENAI_API_KEY=DEFAULT_KEY,
            OPENAI_BASE_URL=llm.base_url,
        )  # fmt: skip
        chats = llm.chat_requests()
    assert made.returncode == 0, made.stderr
    assert len(chats) >= 1 and chats[0]["messages"]
    assert "prompt (llm:" in made.stdout
    assert "settings: kling " in made.stdout
    assert f"clip: {out}" in made.stdout
    assert out.is_file() and decoded_frames(out) > 0
    with urllib.request.urlopen(f"{kling_process}/_fake/stats", timeout=5) as answer:
        stats = json.load(answer)
    stats = stats.get("data", stats)
    assert stats["creates"] == 1, stats
    # Secrets never reach the output.
    for secret in (FAKE_SECRET_KEY, DEFAULT_KEY):
        assert secret not in made.stdout + made.stderr


def test_draft_prints_the_prompt_and_generates_nothing(tmp_path: Path, photo: Path) -> None:
    made = claymate(
        tmp_path, "draft", str(photo), "地铁从左往右开过高架", "--camera", "tilt_up",
        "--duration", "10", "--json", OPENAI_API_KEY="",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    draft = json.loads(made.stdout)
    assert {"prompt", "negative_prompt", "camera", "language", "summary"} <= set(draft)
    # The user's camera and length win, in the caption's language, and the prompt says so.
    assert (draft["camera"], draft["duration"], draft["language"]) == ("tilt_up", 10, "zh")
    assert draft["drafter"] == "offline" and draft["prompt"].startswith("黏土定格动画：地铁")
    assert "镜头缓缓向上摇" in draft["prompt"] and "向右摇" not in draft["prompt"]
    # A draft only: no database, no clip, no photo kept.
    assert not (tmp_path / "data").exists()

    text = claymate(tmp_path, "draft", str(photo), "Boats glide on the river", OPENAI_API_KEY="")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("prompt (offline):\n  Stop-motion claymation: Boats glide")
    assert "camera: pan_right, 5 s, language en" in text.stdout


def test_draft_says_what_is_wrong_with_its_arguments(tmp_path: Path, photo: Path) -> None:
    blank = claymate(tmp_path, "draft", str(photo), "  ")
    assert blank.returncode == 2 and "must not be empty" in blank.stderr
    camera = claymate(tmp_path, "draft", str(photo), "boats", "--camera", "sideways")
    assert camera.returncode == 2 and "--camera" in camera.stderr
    missing = claymate(tmp_path, "draft", str(tmp_path / "nope.jpg"), "boats")
    assert missing.returncode == 1 and "no such photo" in missing.stderr
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("a shopping list")
    refused = claymate(tmp_path, "draft", str(not_a_photo), "boats")
    assert refused.returncode == 1 and refused.stderr.startswith("claymate: ")
    assert refused.stdout == ""


def test_draft_with_an_openai_key_asks_the_llm_director(tmp_path: Path, photo: Path) -> None:
    with FakeOpenAI() as llm:
        made = claymate(
            tmp_path, "draft", str(photo), "Boats glide on the river", "--json",
            OPENAI_API_KEY=DEFAULT_KEY, OPENAI_BASE_URL=llm.base_url,
        )  # fmt: skip
        chats = llm.chat_requests()
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["drafter"].startswith("llm:")
    assert len(chats) == 1
    assert DEFAULT_KEY not in made.stdout + made.stderr


def test_a_blank_description_is_a_usage_error_and_stores_nothing(
    tmp_path: Path, photo: Path
) -> None:
    assert claymate(tmp_path, "db", "upgrade").returncode == 0
    made = claymate(tmp_path, "make", str(photo), " \t ")
    assert made.returncode == 2, made.stderr
    assert "usage: claymate make" in made.stderr and "must not be empty" in made.stderr
    assert database_rows(tmp_path, "SELECT id FROM shots") == []


def test_film_of_a_project_that_does_not_exist_says_so_in_one_line(tmp_path: Path) -> None:
    result = claymate(tmp_path, "film", "Nope")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Nope" in lines[0] and "claymate history" in lines[0], lines
    assert result.stdout == ""


async def _many_projects(path: Path, count: int) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.session() as session:
            uow = UnitOfWork(session)
            await uow.chats.upsert_user(0, first_name="cli")
            await uow.chats.upsert_chat(0, type="private")
            for number in range(count):
                await uow.projects.create_project(0, f"Project number {number} of many", 0)
    finally:
        await db.dispose()


def test_history_into_a_pipe_closed_early_ends_quietly(tmp_path: Path) -> None:
    assert claymate(tmp_path, "db", "upgrade").returncode == 0
    # Far more than a pipe buffers, so history is still writing when the reader leaves.
    asyncio.run(_many_projects(tmp_path / "data" / "claymate.db", 3000))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "history"],
        cwd=tmp_path,
        env=environment_for(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # `| head -1`
    err = process.stderr.read()
    assert process.wait(timeout=60) in (0, 141), err
    assert first.startswith("project ")
    assert err == "", err


def test_ctrl_c_during_make_cancels_the_take_and_refunds_it(
    tmp_path: Path, photo: Path, slow_kling: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "make", str(photo), "Boats glide on the river"],
        cwd=tmp_path,
        env=environment_for(
            tmp_path,
            KLING_ACCESS_KEY=FAKE_ACCESS_KEY,
            KLING_SECRET_KEY=FAKE_SECRET_KEY,
            KLING_API_URL=slow_kling,
            KLING_POLL_INTERVAL="0.3",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the take is under way once Kling reports progress
        line = process.stderr.readline()
        seen.append(line)
        if not line or line.startswith("rendering"):
            break
    assert seen[-1].startswith("rendering"), seen
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.splitlines() == ["cancelled"], err
    takes = database_rows(tmp_path, "SELECT id, status FROM takes")
    assert [status for _, status in takes] == ["cancelled"]
    usage = database_rows(tmp_path, "SELECT state FROM usage_ledger")
    assert ("reserved",) not in usage, usage
    clips = tmp_path / "data" / "clips"
    assert not clips.exists() or list(clips.iterdir()) == []


@pytest.fixture
def slow_kling() -> Iterator[str]:
    """The fake Kling API with tasks that take a minute: long enough to interrupt one."""
    with _fake_kling_process(task_seconds=60) as url:
        yield url


def test_film_with_music_and_subtitles_from_the_command_line(tmp_path: Path, photo: Path) -> None:
    from bot.media import soundtrack
    from tests.unit.test_film_sound_and_words import soft_cues, tone, write_audio

    for caption in ("外滩的船慢慢驶过", "Lanterns sway on Wukang Road"):
        made = claymate(tmp_path, "make", str(photo), caption, "--project", "Shanghai")
        assert made.returncode == 0, made.stderr
    song = write_audio(tmp_path / "song.wav", tone(3.0, 330, amplitude=0.05), "pcm_s16le")
    out = tmp_path / "film.mp4"
    film = claymate(
        tmp_path, "film", "Shanghai", "--music", str(song), "--subtitles", "--out", str(out)
    )
    assert film.returncode == 0, film.stderr
    assert "music" in film.stdout and "subtitles" in film.stdout, film.stdout
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1 and len(container.streams.subtitles) == 1
        video_s = float(container.streams.video[0].duration * container.streams.video[0].time_base)
    audio = soundtrack.decode_audio(out)
    assert abs(audio.shape[1] / soundtrack.SAMPLE_RATE - video_s) < 0.15
    assert abs(soundtrack.integrated_loudness(audio) - soundtrack.TARGET_LUFS) <= 1.0
    assert [text for _, _, text in soft_cues(out)] == [
        "外滩的船慢慢驶过",
        "Lanterns sway on Wukang Road",
    ]


def test_film_music_that_is_missing_or_not_audio_says_so(tmp_path: Path, photo: Path) -> None:
    assert claymate(tmp_path, "make", str(photo), "Boats", "--project", "P").returncode == 0
    missing = claymate(tmp_path, "film", "P", "--music", str(tmp_path / "nope.mp3"))
    assert missing.returncode == 2 and "nope.mp3: no such file" in missing.stderr
    bogus = tmp_path / "song.mp3"
    bogus.write_bytes(b"not a song" * 200)
    refused = claymate(tmp_path, "film", "P", "--music", str(bogus))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert "song.mp3" in line and "mp3, m4a, ogg or wav" in line, line


def test_film_narrate_speaks_each_shots_line_with_a_key_and_says_it_needs_one_without(
    tmp_path: Path, photo: Path
) -> None:
    from bot.media import soundtrack
    from bot.media.film import END_CARD_SECONDS
    from bot.services.projects import FILM_CROSSFADE_S

    for caption in ("外滩的船慢慢驶过", "Lanterns sway on Wukang Road"):
        made = claymate(tmp_path, "make", str(photo), caption, "--project", "Shanghai")
        assert made.returncode == 0, made.stderr
    offline = claymate(tmp_path, "film", "Shanghai", "--narrate")
    assert offline.returncode == 1
    [line] = offline.stderr.splitlines()
    assert "OPENAI_API_KEY" in line, line
    plain = tmp_path / "plain.mp4"
    assert claymate(tmp_path, "film", "Shanghai", "--out", str(plain)).returncode == 0
    out = tmp_path / "film.mp4"
    with FakeOpenAI() as fake:
        film = claymate(
            tmp_path, "film", "Shanghai", "--narrate", "--out", str(out),
            OPENAI_API_KEY=DEFAULT_KEY, OPENAI_BASE_URL=fake.base_url, CLAYMATE_END_CARD="true",
        )  # fmt: skip
        spoken = [request["input"] for request in fake.speeches]
    assert film.returncode == 0, film.stderr
    assert "narration" in film.stdout, film.stdout
    assert spoken == ["外滩的船慢慢驶过", "Lanterns sway on Wukang Road"]
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1
        video_s = float(container.streams.video[0].duration * container.streams.video[0].time_base)
    audio = soundtrack.decode_audio(out)
    assert abs(audio.shape[1] / soundtrack.SAMPLE_RATE - video_s) < 0.15
    assert not list((tmp_path / "data" / "films").glob("narration-*"))
    with av.open(str(plain)) as container:
        plain_s = float(container.streams.video[0].duration * container.streams.video[0].time_base)
    # CLAYMATE_END_CARD's closing card, crossfaded in like the title card
    assert abs(video_s - plain_s - (END_CARD_SECONDS - FILM_CROSSFADE_S)) < 0.1
