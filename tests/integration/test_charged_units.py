"""Kling's final_unit_deduction: read from the finished task, kept per take, summed for /stats.

Through the job runner against the fake Kling (real httpx) on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.providers.kling.wire import KlingTask, charged_units_of, task_status_from
from storage.db import Database
from storage.models import utcnow
from tests.integration.test_jobs import Harness, harness, running  # noqa: F401 - fixture

__all__ = ["harness"]


@pytest.mark.parametrize(
    ("raw", "units"),
    [("2.5", 2.5), (5, 5.0), ("0", 0.0), (None, None), ("", None), ("lots", None),
     ("-1", None), ("nan", None), ("inf", None)],
)  # fmt: skip
def test_final_unit_deduction_is_read_as_a_number(raw: object, units: float | None) -> None:
    task = KlingTask.model_validate(
        {"task_id": "t", "task_status": "succeed", "final_unit_deduction": raw}
    )
    assert charged_units_of(task) == units
    assert task_status_from(task).charged_units == units


def test_a_task_still_running_reports_no_charge() -> None:
    task = KlingTask.model_validate(
        {"task_id": "t", "task_status": "processing", "final_unit_deduction": "2.5"}
    )
    assert task_status_from(task).charged_units is None


async def test_the_charge_kling_reports_is_stored_on_the_take_and_summed(
    harness: Harness,  # noqa: F811 - the fixture imported above
) -> None:
    ids = await harness.queue_takes(2)
    async with running(harness.runner()):
        takes = await harness.wait_finished(ids)
    assert [t.status for t in takes] == ["delivered", "delivered"]
    # The fake bills std 5 s at 1.5 units (IGRID), as a string like Kling does.
    assert [t.charged_units for t in takes] == [1.5, 1.5]
    assert await harness.services.accounts.provider_charges() == {"kling": 3.0}


async def test_takes_without_a_reported_charge_are_left_out(database: Database) -> None:
    async with database.unit_of_work() as uow:
        assert await uow.takes.charged_units_since(utcnow() - timedelta(days=1)) == {}
