"""Crash recovery through the job runner, by each way Kling can find a task by our id.

A create whose answer never came (the fake makes the task, then answers too late) must be
found, not made again, whichever lookup form the server offers; a create that failed
without making the task must be made exactly once after the lookup proves it missing.
"""

from __future__ import annotations

import pytest

from tests.integration.test_jobs import Harness, harness, running  # noqa: F401 - fixture

__all__ = ["harness"]


@pytest.mark.parametrize(
    ("forms", "found_by"),
    [(["path", "query", "list"], "path"), (["query", "list"], "query"), (["list"], "list")],
)
async def test_a_lost_create_is_found_by_each_lookup_form_not_repeated(
    harness: Harness,  # noqa: F811 - the fixture imported above
    forms: list[str],
    found_by: str,
) -> None:
    harness.fake.configure({"lookup_forms": forms})
    [take_id] = await harness.queue_takes(1)
    harness.fake.hang_create("delay", seconds=2.5)  # the provider gives up after 1 s
    async with running(harness.runner()):
        [take] = await harness.wait_finished([take_id])
    assert take.status == "delivered"
    stats = harness.fake.stats()
    assert stats["create_requests"] == 1
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    assert stats["lookups"].get(found_by, 0) >= 1
    assert take.upstream_task_id in stats["tasks"]


async def test_an_unknown_task_after_a_server_error_is_created_once(
    harness: Harness,  # noqa: F811 - the fixture imported above
) -> None:
    [take_id] = await harness.queue_takes(1)
    harness.fake.inject_create(5000)  # may have created it; here it did not
    async with running(harness.runner()):
        [take] = await harness.wait_finished([take_id])
    assert take.status == "delivered"
    stats = harness.fake.stats()
    assert stats["create_requests"] == 2  # the failed one, then one after the lookup
    assert stats["creates_by_external_id"] == {take.external_id: 1}
    assert set(stats["lookups"]) == {"path", "query", "list"}  # proved missing first
