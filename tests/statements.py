"""Statements and transactions counted on every engine while a block runs: what a piece
of work costs the database, counted where a timing on a shared machine would not be
steady."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass
class Counted:
    """The statements run (their first 100 characters) and the COMMITs, in order."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0

    def clear(self) -> None:
        self.statements.clear()
        self.commits = 0


@contextlib.contextmanager
def counting() -> Iterator[Counted]:
    """Count on every engine of the process until the block ends."""
    counted = Counted()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counted.statements.append(" ".join(statement.split())[:100])

    def on_begin(_conn: Any) -> None:
        # SQLite's BEGIN IMMEDIATE goes to the driver directly (storage/db.py), past the
        # cursor events, but it is a round trip like any statement: it is counted here.
        if _conn.dialect.name == "sqlite":
            counted.statements.append("BEGIN IMMEDIATE")

    def on_commit(_conn: Any) -> None:
        counted.commits += 1

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "begin", on_begin)
    event.listen(Engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "begin", on_begin)
        event.remove(Engine, "commit", on_commit)
