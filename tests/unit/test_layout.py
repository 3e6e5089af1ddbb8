"""The house rules the import contracts cannot see: small classes, and SQL only in storage/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_METHODS = 25
# Outside storage/, SQLAlchemy may only be asked to parse a URL or name a driver error:
# neither writes SQL, and both belong to start-up and logging.
SQLALCHEMY_OUTSIDE_STORAGE = {"sqlalchemy.engine": {"make_url"}, "sqlalchemy.exc": {"DBAPIError"}}


def _modules(*roots: str) -> Iterator[tuple[str, ast.Module]]:
    for root in roots:
        for file in sorted((REPO_ROOT / root).rglob("*.py")):
            if "migrations" in file.parts:
                continue
            yield file.relative_to(REPO_ROOT).as_posix(), ast.parse(file.read_text("utf-8"))


def oversized_classes(tree: ast.Module, path: str) -> list[str]:
    """Classes with more methods than a reader can hold in mind at once."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = [
                item
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            if len(methods) > MAX_METHODS:
                found.append(f"{path}: {node.name} has {len(methods)} methods")
    return found


def sql_imports(tree: ast.Module, path: str) -> list[str]:
    """Imports of SQLAlchemy's query builders outside storage/."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"{path}: import {a.name}" for a in node.names if a.name.startswith("sqlalchemy")
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            allowed = SQLALCHEMY_OUTSIDE_STORAGE.get(node.module or "", set())
            found += [
                f"{path}: from {node.module} import {a.name}"
                for a in node.names
                if a.name not in allowed
            ]
    return found


def test_no_class_in_bot_or_storage_has_more_than_25_methods() -> None:
    modules = dict(_modules("bot", "storage"))
    assert len(modules) > 40  # the walk found the code
    assert [f for path, tree in modules.items() for f in oversized_classes(tree, path)] == []


def test_only_storage_builds_sql() -> None:
    modules = dict(_modules("bot", "handlers"))
    assert [f for path, tree in modules.items() for f in sql_imports(tree, path)] == []


def test_the_checks_catch_what_they_look_for() -> None:
    big = ast.parse("class Big:\n" + "".join(f"    def m{i}(self): ...\n" for i in range(26)))
    assert oversized_classes(big, "x.py") == ["x.py: Big has 26 methods"]
    query = ast.parse("from sqlalchemy import select\nfrom sqlalchemy.engine import make_url\n")
    assert sql_imports(query, "x.py") == ["x.py: from sqlalchemy import select"]
