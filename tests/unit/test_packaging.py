"""What an operator's image and install depend on, checked so it cannot quietly regress.

Where a container engine runs, tests/integration/test_container.py builds the image and
runs it; everywhere else these checks read the Dockerfile, compose file, lock files and
pyproject.toml for the same points.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
COMPOSE = (REPO_ROOT / "docker-compose.yml").read_text()
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _stages(dockerfile: str) -> list[str]:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]


def _pins(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", lock.read_text(), flags=re.MULTILINE)
    return {_normal(name): version for name, version in pins}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, str]:
    pins = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        pinned = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", requirement)
        assert pinned, f"not pinned to one version: {requirement}"
        pins[_normal(pinned[1])] = pinned[2]
    return pins


def test_the_image_is_built_in_two_stages_with_dependencies_from_the_lock_before_the_code() -> (
    None
):
    build, runtime = _stages(DOCKERFILE)
    lock_install = build.index("-r requirements.lock")
    assert "--require-hashes" in build[: build.index("\n", lock_install)]
    assert build.index("COPY requirements.lock") < lock_install < build.index("COPY bot")
    assert "COPY --from=build" in runtime


def test_the_image_runs_as_a_non_root_user_with_a_cjk_font_a_health_check_and_a_data_volume() -> (
    None
):
    runtime = _stages(DOCKERFILE)[-1]
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"fonts-(wqy-microhei|wqy-zenhei|noto-cjk)", runtime)
    assert re.search(r"^HEALTHCHECK .*\n?.*healthz", runtime, flags=re.MULTILINE)
    # The health check asks the metrics bind, so the image must turn it on.
    assert "CLAYMATE_METRICS_PORT=9100" in runtime and "127.0.0.1:9100/healthz" in runtime
    assert re.search(r'^VOLUME \["/data"\]', runtime, flags=re.MULTILINE)


def test_the_build_context_leaves_out_environments_data_caches_and_history() -> None:
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "data", ".env", "__pycache__", ".pytest_cache"} <= ignored


def test_compose_starts_the_bot_after_a_healthy_database_and_one_migration() -> None:
    assert "pg_isready" in COMPOSE
    bot = COMPOSE[COMPOSE.index("\n  bot:") :]
    assert re.search(r"db:\s*\n\s*condition: service_healthy", bot)
    assert re.search(r"migrate:\s*\n\s*condition: service_completed_successfully", bot)
    migrate = COMPOSE[COMPOSE.index("\n  migrate:") : COMPOSE.index("\n  bot:")]
    assert '"db", "upgrade"' in migrate
    assert "env_file: .env" in COMPOSE
    assert re.search(r"^volumes:\s*\n\s+db:\s*\n\s+data:", COMPOSE, flags=re.MULTILINE)


def test_the_licence_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_each_lock_file_holds_every_pin_of_pyproject_at_its_version(lock: str) -> None:
    locked = _pins(REPO_ROOT / lock)
    for name, version in _declared().items():
        assert locked.get(name) == version, (
            f"{lock}: {name} is {locked.get(name)}, pyproject {version}"
        )


def test_the_development_lock_agrees_with_the_image_lock() -> None:
    image, development = (
        _pins(REPO_ROOT / "requirements.lock"),
        _pins(REPO_ROOT / "requirements-dev.lock"),
    )
    assert {n: v for n, v in development.items() if n in image} == image


def _third_party_imports() -> set[str]:
    found = set()
    for package in ("bot", "handlers", "storage"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    local = {"bot", "handlers", "storage", "__future__"}
    return {name for name in found - local if name not in sys.stdlib_module_names}


def test_every_module_the_code_imports_is_declared_in_pyproject() -> None:
    distributions = packages_distributions()
    declared = set(_declared())
    missing = {
        module: distributions.get(module)
        for module in _third_party_imports()
        if not {_normal(d) for d in distributions.get(module, [])} & declared
    }
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


def test_env_example_lists_every_setting() -> None:
    from bot.config import Settings

    listed = set(
        re.findall(
            r"^#?\s*([A-Z][A-Z0-9_]+)=",
            (REPO_ROOT / ".env.example").read_text(),
            flags=re.MULTILINE,
        )
    )
    settings = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        settings.add(str(choices[0]) if choices else str(alias or name).upper())
    assert settings - listed == set(), "settings missing from .env.example"
    # compose reads it from .env too
    assert "POSTGRES_PASSWORD" in listed


def test_env_example_values_carry_no_inline_comments() -> None:
    # Copied to .env, the file is read by docker --env-file and compose's env_file, which
    # take "KEY=  # comment" as the value "# comment": a key set to its own comment.
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    inline = [line for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=.*#", line)]
    assert inline == [], inline
