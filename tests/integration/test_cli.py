"""`claymate make` and `claymate history` end to end, each in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from bot.pipeline.sample import sample_photo
from tests.conftest import REPO_ROOT
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.fakes.fake_openai import DEFAULT_KEY, FakeOpenAI

pytestmark = pytest.mark.slow


def claymate(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CLAYMATE_DATA_DIR": str(tmp_path / "data"),
        "CLAYMATE_PREVIEW_HEIGHT": "240",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


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

    history = claymate(tmp_path, "history")
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert any(line.startswith("project ") and "Shanghai" in line for line in lines)
    assert any(line.strip().startswith("shot 1: Boats glide on the river") for line in lines)
    assert any("take " in line and "offline/" in line and "delivered" in line for line in lines)


@pytest.fixture
def kling_process() -> Iterator[str]:
    """The fake Kling API as its own process (as an operator would run it)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_kling", "--port", "0", "--task-seconds", "1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
