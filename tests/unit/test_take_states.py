"""A take's life is one table, and only Repo.transition_take writes a take's status."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.states import (
    TAKE_TRANSITIONS,
    TERMINAL_TAKE_STATES,
    IllegalTransition,
    TakeState,
    may_move,
)

S = TakeState
REPO_ROOT = Path(__file__).resolve().parents[2]

# Everything the code does today, edge by edge (read off the runner, cancel and the CLI).
LEGAL = {
    (S.QUEUED, S.SUBMITTING),  # a provider slot was free
    (S.SUBMITTING, S.SUBMITTED),  # the create call answered
    (S.SUBMITTING, S.QUEUED),  # the create call failed before anything was made
    (S.SUBMITTED, S.RENDERING),
    (S.SUBMITTED, S.DOWNLOADING),  # ready at the first poll
    (S.RENDERING, S.DOWNLOADING),
    (S.DOWNLOADING, S.DELIVERING),
    (S.DELIVERING, S.DELIVERED),
    *((state, S.FAILED) for state in S if state not in TERMINAL_TAKE_STATES),
    *((state, S.CANCELLED) for state in S if state not in TERMINAL_TAKE_STATES),
}


def test_the_table_names_every_state_and_only_these_moves() -> None:
    assert set(TAKE_TRANSITIONS) == set(TakeState)
    table = {(a, b) for a, targets in TAKE_TRANSITIONS.items() for b in targets}
    assert table == LEGAL


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_every_legal_move_is_allowed(current: TakeState, to: TakeState) -> None:
    assert may_move(current, to)
    assert may_move(str(current), str(to))  # as read back from the database


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (S.QUEUED, S.DELIVERED),  # nothing was made or sent
        (S.QUEUED, S.SUBMITTED),  # skips the create call's own step
        (S.SUBMITTED, S.QUEUED),  # a task exists upstream: it cannot be queued again
        (S.RENDERING, S.SUBMITTED),
        (S.DOWNLOADING, S.RENDERING),
        (S.DELIVERING, S.DOWNLOADING),
        (S.QUEUED, S.QUEUED),  # staying put is not a move
        (S.DELIVERED, S.FAILED),
        (S.FAILED, S.QUEUED),
        (S.CANCELLED, S.SUBMITTING),
    ],
)
def test_illegal_moves_are_refused(current: TakeState, to: TakeState) -> None:
    assert not may_move(current, to)


@pytest.mark.parametrize("state", sorted(TERMINAL_TAKE_STATES))
def test_terminal_states_have_no_exits(state: TakeState) -> None:
    assert TAKE_TRANSITIONS[state] == frozenset()
    assert not any(may_move(state, to) for to in TakeState)


def test_every_state_is_reached_from_queued_and_every_take_can_end() -> None:
    reached, frontier = {S.QUEUED}, [S.QUEUED]
    while frontier:
        for to in TAKE_TRANSITIONS[frontier.pop()] - reached:
            reached.add(to)
            frontier.append(to)
    assert reached == set(TakeState)
    for state in TakeState:
        assert state in TERMINAL_TAKE_STATES or TAKE_TRANSITIONS[state] & TERMINAL_TAKE_STATES


def test_unknown_states_never_move_and_the_error_names_the_take() -> None:
    assert not may_move("paused", S.QUEUED) and not may_move(S.QUEUED, "paused")
    error = IllegalTransition(7, S.DELIVERED, S.QUEUED)
    assert (error.take_id, error.current, error.to) == (7, "delivered", "queued")
    assert "take 7" in str(error) and "'delivered'" in str(error)


def test_states_compare_equal_to_the_strings_in_the_database() -> None:
    assert S.QUEUED == "queued" and f"status.{S.DOWNLOADING}" == "status.downloading"
    assert {"delivered": 1}.get(S.DELIVERED) == 1


# --- the only writer of takes.status ------------------------------------------------------

WRITER = ("storage/repos/takes.py", "transition_take")
# `status` attributes that are not a take's: an access-list entry's verdict.
OTHER_STATUSES = {("storage/repos/accounts.py", "set_access")}
WRITING_CALLS = {"values", "Take", "add_take", "on_conflict_do_update"}
RAW_UPDATE = re.compile(r"\bupdate\s+\"?takes\"?\b", re.IGNORECASE)


def status_writes(source: str, path: str) -> list[str]:
    """Every place in one module that could write a take's status, as "path:line what"."""
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        allowed = (path, function) == WRITER or (path, function) in OTHER_STATUSES
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and not allowed:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = _paired_values(node, targets)
            for target, value in _flatten(targets, values):
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    if not _is_shot_state(value):  # a shot's status is not a take's
                        found.append(f"{path}:{node.lineno} assigns .status")
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name == "setattr" and len(node.args) > 1 and _is_str(node.args[1], "status"):
                found.append(f"{path}:{node.lineno} setattr(..., 'status')")
            if name in WRITING_CALLS and not allowed:
                if any(k.arg == "status" for k in node.keywords):
                    found.append(f"{path}:{node.lineno} {name}(status=...)")
                for arg in node.args:
                    if isinstance(arg, ast.Dict) and any(_is_str(k, "status") for k in arg.keys):
                        found.append(f"{path}:{node.lineno} {name}({{'status': ...}})")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if RAW_UPDATE.search(node.value):
                found.append(f"{path}:{node.lineno} raw UPDATE takes")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(source), "")
    return found


def _paired_values(node: ast.AST, targets: list[ast.expr]) -> list[ast.expr | None]:
    value = getattr(node, "value", None)
    if isinstance(node, ast.AugAssign):
        return [None]
    return [value] * len(targets)


def _flatten(
    targets: list[ast.expr], values: list[ast.expr | None]
) -> Iterator[tuple[ast.expr, ast.expr | None]]:
    for target, value in zip(targets, values, strict=True):
        if isinstance(target, ast.Tuple | ast.List):
            paired: list[ast.expr | None] = [None] * len(target.elts)
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                paired = list(value.elts)
            yield from _flatten(list(target.elts), paired)
        elif isinstance(target, ast.Starred):
            yield target.value, None
        else:
            yield target, value


def _is_shot_state(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == "ShotState"
    )


def _is_str(node: ast.expr | None, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _sources() -> Iterator[tuple[str, str]]:
    for root in ("bot", "handlers", "storage"):
        for file in sorted((REPO_ROOT / root).rglob("*.py")):
            yield file.relative_to(REPO_ROOT).as_posix(), file.read_text("utf-8")


def test_only_transition_take_writes_a_takes_status() -> None:
    sources = dict(_sources())
    assert len(sources) > 50 and WRITER[0] in sources  # the walk found the code
    writes = [w for path, source in sources.items() for w in status_writes(source, path)]
    assert writes == []


def test_transition_take_is_where_the_status_is_written() -> None:
    source = (REPO_ROOT / WRITER[0]).read_text("utf-8")
    tree = ast.parse(source)
    writer = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef) and node.name == WRITER[1]
    )
    assert status_writes(ast.unparse(writer).replace(WRITER[1], "elsewhere"), "x.py") != []


@pytest.mark.parametrize(
    "snippet",
    [
        "take.status = 'failed'",
        "take.status = TakeState.FAILED",
        "take.upstream_task_id, take.status = task_id, 'submitted'",
        "setattr(take, 'status', 'queued')",
        "update(Take).where(Take.id == 1).values(status='failed')",
        "update(Take).values({'status': 'failed'})",
        "Take(shot_id=1, status='delivered')",
        "text('UPDATE takes SET status = :s')",
    ],
)
def test_the_guard_sees_every_way_of_writing_it(snippet: str) -> None:
    assert status_writes(f"def somewhere():\n    {snippet}\n", "bot/x.py") != []


def test_the_guard_lets_shots_be_drafted_and_cancelled() -> None:
    source = "def cancel_shot():\n    stored.status = ShotState.CANCELLED\n"
    assert status_writes(source, "bot/x.py") == []
