"""The fake servers run as processes stop cleanly on SIGTERM, however the signals come.

Crash-safety and provider tests run the fake Kling and the fake OpenAI endpoint as child
processes and stop them with SIGTERM, expecting exit status 0 within seconds. A stop that
hangs fails a test that had passed (at teardown), so the stop must not depend on timing:
a Python signal handler that sets a threading.Event takes the Event's lock, and a second
signal arriving while the first handler holds it (or the first arriving while the main
thread does) deadlocks the process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# A burst like this hung the old handlers in about a third of the attempts.
SIGNALS_PER_BURST = 2000
ATTEMPTS = 3


def serving(module: str) -> subprocess.Popen[str]:
    """The fake `module` as a process, once it has printed its port (it is serving then)."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert int(process.stdout.readline()) > 0
    return process


@pytest.mark.parametrize("module", ["tests.fakes.fake_kling", "tests.fakes.fake_openai"])
def test_a_burst_of_sigterms_stops_a_fake_cleanly(module: str) -> None:
    for _ in range(ATTEMPTS):
        process = serving(module)
        try:
            for _ in range(SIGNALS_PER_BURST):
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:  # already gone: the burst outlived it
                    break
            _, stderr = process.communicate(timeout=15)
            assert process.returncode == 0, stderr
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.parametrize("module", ["tests.fakes.fake_kling", "tests.fakes.fake_openai"])
def test_sigint_stops_a_fake_cleanly(module: str) -> None:
    process = serving(module)
    try:
        process.send_signal(signal.SIGINT)  # Ctrl-C where a developer runs one by hand
        _, stderr = process.communicate(timeout=15)
        assert process.returncode == 0
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
