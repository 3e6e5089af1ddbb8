"""One advisory-lock key function, and every purpose keeps a key of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from storage import locks
from storage.locks import lock_key

REPO_ROOT = Path(__file__).resolve().parents[2]
PURPOSES = {
    locks.MIGRATIONS,
    locks.TELEGRAM_POLLING,
    locks.PROVIDER_SLOTS,
    locks.USER_TAKES,
    locks.BUDGET,
}


def test_each_purpose_has_its_own_name() -> None:
    assert len(PURPOSES) == 5


def test_the_same_id_under_different_purposes_gets_different_keys() -> None:
    # A user id, a chat id, a bot id and a provider may all be "42": they must not collide.
    keys = [lock_key(purpose, part) for purpose in PURPOSES for part in (42, "42", -42)]
    keys += [lock_key(purpose) for purpose in PURPOSES]
    assert len(set(keys)) == len(keys)


def test_parts_are_not_run_together() -> None:
    assert lock_key("a", "b:c") != lock_key("a:b", "c")
    assert lock_key("a", "b", "c") != lock_key("a", "b,c")
    assert lock_key(locks.BUDGET, 5) != lock_key(locks.BUDGET, "5")


def test_keys_are_stable_signed_64_bit_integers() -> None:
    key = lock_key(locks.PROVIDER_SLOTS, "kling")
    assert key == lock_key(locks.PROVIDER_SLOTS, "kling")
    assert -(2**63) <= key < 2**63
    assert len({lock_key(locks.BUDGET, subject) for subject in range(10_000)}) == 10_000


@pytest.mark.parametrize("part", [None, 1.5, True, b"x"])
def test_ambiguous_parts_are_refused(part: object) -> None:
    with pytest.raises(TypeError):
        lock_key(locks.BUDGET, part)


def test_every_advisory_lock_takes_its_key_from_lock_key_with_a_named_purpose() -> None:
    """No second hash for advisory keys, and no purpose spelled as a string at a call site."""
    purposes = {"MIGRATIONS", "TELEGRAM_POLLING", "PROVIDER_SLOTS", "USER_TAKES", "BUDGET"}
    assert {getattr(locks, name) for name in purposes} == PURPOSES
    calls = 0
    for root in ("bot", "handlers", "storage"):
        for file in (REPO_ROOT / root).rglob("*.py"):
            source = file.read_text("utf-8")
            where = file.relative_to(REPO_ROOT).as_posix()
            if "advisory" in source and where != "storage/locks.py":
                assert "hashlib" not in source, f"{where} hashes a lock key of its own"
            for node in ast.walk(ast.parse(source)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "lock_key"
                ):
                    calls += 1
                    first = node.args[0] if node.args else None
                    assert isinstance(first, ast.Name) and first.id in purposes, where
    assert calls >= len(PURPOSES)  # every purpose is in use
