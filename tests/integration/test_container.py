"""The image as an operator builds it: it starts, knows its version and reports healthy.

Needs a running container engine (docker); tests/unit/test_packaging.py checks the same
points by reading the files where there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _engine() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "info"], capture_output=True, timeout=30)
    return docker if probe.returncode == 0 else None


ENGINE = _engine()


@pytest.mark.skipif(ENGINE is None, reason="no running container engine (docker info failed)")
def test_the_image_builds_prints_its_version_and_has_a_health_check() -> None:
    assert ENGINE is not None
    tag = f"claymate-test:{uuid.uuid4().hex[:8]}"
    subprocess.run([ENGINE, "build", "-t", tag, str(REPO_ROOT)], check=True, timeout=1800)
    try:
        version = subprocess.run(
            [ENGINE, "run", "--rm", tag, "claymate", "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert version.stdout.startswith("claymate ")
        user = subprocess.run(
            [ENGINE, "run", "--rm", tag, "id", "-u"], capture_output=True, text=True, check=True
        )
        assert user.stdout.strip() != "0"
        fonts = subprocess.run(
            [ENGINE, "run", "--rm", tag, "fc-list", ":lang=zh"], capture_output=True, text=True
        )
        assert fonts.stdout.strip(), "no CJK font in the image"
        health = subprocess.run(
            [ENGINE, "inspect", "--format", "{{json .Config.Healthcheck.Test}}", tag],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "healthz" in health.stdout
    finally:
        subprocess.run([ENGINE, "rmi", "-f", tag], capture_output=True)
