"""Error reports: one per kind a window, the rest counted, and memory bounded in a storm."""

from __future__ import annotations

import asyncio

from bot.reports import OTHER_KINDS, ErrorReports


async def test_a_storm_of_many_kinds_is_tracked_in_bounded_memory() -> None:
    summaries: list[tuple[str, int]] = []

    async def send_summary(kind: str, count: int) -> None:
        summaries.append((kind, count))

    reports = ErrorReports(send_summary, window_s=0.2, max_kinds=3)
    admitted = [kind for kind in (f"kind {n % 50}" for n in range(1000)) if reports.admit(kind)]

    # Three kinds tracked, everything else shares one window: four reports, not a thousand.
    assert admitted == ["kind 0", "kind 1", "kind 2", "kind 3"]
    assert sorted(reports._windows) == sorted(["kind 0", "kind 1", "kind 2", OTHER_KINDS])
    await asyncio.sleep(0.4)  # the windows end and their counts are told
    assert sorted(summaries) == sorted(
        [("kind 0", 19), ("kind 1", 19), ("kind 2", 19), (OTHER_KINDS, 1000 - 60 - 1)]
    )


async def test_a_kind_that_stops_failing_is_forgotten() -> None:
    async def send_summary(kind: str, count: int) -> None:
        raise AssertionError("nothing was held back")

    reports = ErrorReports(send_summary, window_s=0.05, max_kinds=2)
    assert reports.admit("a") and reports.admit("b")
    await asyncio.sleep(0.1)
    assert reports.admit("c")  # "a" and "b" ended quietly and made room
    assert list(reports._windows) == ["c"]
