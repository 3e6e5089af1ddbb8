"""Budgets on real databases: reservation under concurrency, charge, refund, grants, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.domain.errors import StudioError
from bot.domain.states import TakeState
from bot.domain.types import Actor
from bot.providers.offline.drafter import OfflineDrafter
from bot.services import Services
from bot.services.budget import Budget, Quotas, parse_costs
from bot.wiring import build_use_cases
from storage.db import Database
from storage.models import Take, UsageEntry
from storage.repos.accounts import AccountsRepo
from storage.uow import UnitOfWork
from tests.conftest import make_settings

USER = 7_001
GROUP = -1_009_000_000_001


class KlingLike:
    """Only its name and model matter here: takes are queued, never run."""

    name = "kling"
    model = "kling-v2-5-turbo"


async def finish(uow: UnitOfWork, take: Take, status: TakeState) -> None:
    """End a queued take as the runner would: delivered step by step, or ended at once."""
    delivery = (
        TakeState.SUBMITTING,
        TakeState.SUBMITTED,
        TakeState.DOWNLOADING,
        TakeState.DELIVERING,
        TakeState.DELIVERED,
    )
    for step in delivery if status == TakeState.DELIVERED else (status,):
        await uow.takes.transition_take(take, step)


def services_for(db: Database, tmp_path: Path, **settings: object) -> Services:
    values: dict[str, object] = {"costs": "kling:std:5=1"}
    values.update(settings)
    return build_use_cases(
        make_settings(tmp_path, **values),
        db,
        OfflineDrafter(),
        {"kling": KlingLike()},  # type: ignore[dict-item]
        "kling",
    )


async def revisions(db: Database, chat_id: int, count: int, *, user_id: int = USER) -> list[int]:
    """`count` shots with one draft each, in `chat_id`'s project."""
    async with db.session() as session:
        uow = UnitOfWork(session)
        await uow.chats.upsert_user(user_id, first_name="Lin")
        await uow.chats.upsert_chat(chat_id, type="private" if chat_id > 0 else "supergroup")
        project = await uow.projects.create_project(chat_id, "Budget", user_id)
        ids = []
        for _ in range(count):
            shot = await uow.shots.add_shot(
                project.id,
                created_by=user_id,
                photo_path="/nonexistent.jpg",
                photo_width=800,
                photo_height=600,
                source_format="JPEG",
            )
            revision = await uow.shots.add_revision(
                shot,
                prompt="clay boats glide",
                params={"provider": "kling", "mode": "std", "duration": 5},
                drafter="offline",
                created_by=user_id,
            )
            ids.append(revision.id)
        return ids


async def ledger(db: Database) -> dict[str, float]:
    async with db.session() as session:
        rows = await session.execute(
            select(UsageEntry.state, func.sum(UsageEntry.units)).group_by(UsageEntry.state)
        )
        return {state: float(units) for state, units in rows.all()}


def test_the_cost_table_follows_kling_prices_and_can_be_overridden() -> None:
    budget = Budget(None, parse_costs(None), Quotas())  # type: ignore[arg-type]
    assert budget.cost("kling", "std", 5) == 1.5
    assert budget.cost("kling", "std", 10) == 3.0
    assert budget.cost("kling", "pro", 5) == 2.5
    assert budget.cost("kling", "pro", 10) == 5.0
    assert budget.cost("offline", "std", 10) == 0.0
    assert parse_costs("kling:pro:10=6; offline=0.5")["kling:pro:10"] == 6.0
    assert parse_costs("offline=0.5")["offline"] == 0.5


def test_prices_follow_the_model_and_the_seconds_where_durations_vary() -> None:
    budget = Budget(None, parse_costs(None), Quotas())  # type: ignore[arg-type]
    # Kling 3.0 runs 3–15 s and is priced per second, by mode and with sound.
    assert budget.cost("kling", "std", 5, model="kling-v3") == 3.0
    assert budget.cost("kling", "pro", 15, model="kling-v3") == 12.0
    assert budget.cost("kling", "pro", 4, sound=True, model="kling-v3") == 4.0
    # Other Kling models keep their per-clip prices; sound priced where the table says so.
    assert budget.cost("kling", "pro", 5, sound=True, model="kling-v2-6") == 5.0
    assert budget.cost("kling", "std", 5, sound=True, model="kling-v2-5-turbo") == 1.5
    # Vidu and Seedance are never free by default: a quota holds whichever engine runs.
    assert budget.cost("vidu", "std", 8, model="viduq2-turbo") == 2.4
    assert budget.cost("seedance", "pro", 10, model="seedance-1-5-pro-251215") == 3.0
    # An operator's entry for one model wins over the provider's.
    priced = Budget(None, parse_costs("vidu:viduq3-pro/s=0.5"), Quotas())  # type: ignore[arg-type]
    assert priced.cost("vidu", "std", 4, model="viduq3-pro") == 2.0
    assert priced.cost("vidu", "std", 4, model="viduq2-turbo") == 1.2
    assert (
        priced.cost_of_params(
            {"provider": "vidu", "model": "viduq3-pro", "mode": "std", "duration": 6}
        )
        == 3.0
    )


async def test_twenty_parallel_generates_never_overspend_a_quota_of_five(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path, quota_user_day=5)
    ids = await revisions(database, USER, 20)
    actor = Actor(USER, USER)

    async def generate(revision_id: int) -> bool:
        try:
            await services.generation.request_take(actor, revision_id)
        except StudioError as error:
            assert error.key == "budget.exceeded"
            return False
        return True

    results = await asyncio.gather(*(generate(r) for r in ids))
    assert sum(results) == 5
    async with database.session() as session:
        takes = await session.scalar(select(func.count(Take.id)))
    assert takes == 5  # a refused Generate leaves no take behind
    assert await ledger(database) == {"reserved": 5.0}


async def test_a_group_quota_is_shared_by_its_members(database: Database, tmp_path: Path) -> None:
    services = services_for(database, tmp_path, quota_group_day=3)
    first = await revisions(database, GROUP, 2, user_id=USER)
    second = await revisions(database, GROUP, 2, user_id=USER + 1)
    await services.generation.request_take(Actor(USER, GROUP, "supergroup"), first[0])
    await services.generation.request_take(Actor(USER + 1, GROUP, "supergroup"), second[0])
    await services.generation.request_take(Actor(USER, GROUP, "supergroup"), first[1])
    with pytest.raises(StudioError) as refused:
        await services.generation.request_take(Actor(USER + 1, GROUP, "supergroup"), second[1])
    assert refused.value.params == {"cost": "1", "left": "0"}
    usage = await services.accounts.budget.usage(GROUP)
    assert usage.day.reserved == 3.0 and usage.limits["day"] == 3


async def test_units_are_charged_on_delivery_and_refunded_on_failure_or_cancel(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path, quota_user_month=3)
    ids = await revisions(database, USER, 4)
    actor = Actor(USER, USER)
    takes = [(await services.generation.request_take(actor, r)).take.id for r in ids[:3]]
    with pytest.raises(StudioError):
        await services.generation.request_take(actor, ids[3])  # 3 of 3 reserved
    async with database.session() as session:
        uow = UnitOfWork(session)
        for take_id, status in zip(takes, (TakeState.DELIVERED, TakeState.FAILED), strict=False):
            take = await uow.takes.get_take(take_id)
            assert take is not None
            await finish(uow, take, status)
    assert await services.generation.cancel_take(actor, takes[2])
    assert await ledger(database) == {"charged": 1.0, "refunded": 2.0}
    # Refunded units are spendable again.
    await services.generation.request_take(actor, ids[3])
    async with database.session() as session:
        allowance = await services.accounts.budget.allowance(
            AccountsRepo(session), USER, None, {"provider": "kling", "duration": 5}
        )
    assert (allowance.cost, allowance.left) == (1.0, 1.0)


async def test_grants_and_admin_limits_override_the_defaults(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path, quota_user_day=1)
    ids = await revisions(database, USER, 4)
    actor = Actor(USER, USER)
    await services.generation.request_take(actor, ids[0])
    with pytest.raises(StudioError):
        await services.generation.request_take(actor, ids[1])
    await services.accounts.budget.grant(USER, 1)
    await services.generation.request_take(actor, ids[1])  # the grant pays for one more
    await services.accounts.budget.set_limit(USER, "day", None)  # an admin lifts the daily limit
    await services.generation.request_take(actor, ids[2])
    await services.accounts.budget.set_limit(USER, "day", 2)
    with pytest.raises(StudioError):
        await services.generation.request_take(actor, ids[3])  # 3 spent - 1 granted = 2 of 2
    usage = await services.accounts.budget.usage(USER)
    assert (usage.month.reserved, usage.month.granted, usage.limits["day"]) == (3.0, 1.0, 2.0)


async def test_offline_previews_cost_nothing_and_are_never_refused(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path, costs=None, quota_user_day=0)
    services.generation.providers["kling"].name = "offline"  # type: ignore[misc]
    ids = await revisions(database, USER, 2)
    for revision_id in ids:
        await services.generation.request_take(Actor(USER, USER), revision_id)
    assert await ledger(database) == {}


async def test_forget_keeps_the_spending_so_a_returning_user_has_no_fresh_quota(
    database: Database, tmp_path: Path
) -> None:
    services = services_for(database, tmp_path, quota_user_day=2, quota_user_month=5)
    ids = await revisions(database, USER, 1)
    actor = Actor(USER, USER)
    take = (await services.generation.request_take(actor, ids[0])).take
    async with database.session() as session:
        uow = UnitOfWork(session)
        stored = await uow.takes.get_take(take.id)
        assert stored is not None
        await finish(uow, stored, TakeState.DELIVERED)
    await services.accounts.budget.grant(USER, 0.5)
    async with database.session() as session:
        await AccountsRepo(session).forget_user(USER)

    # The accounting stays, under the hashed id only; the person's rows are gone.
    async with database.session() as session:
        rows = (await session.execute(select(UsageEntry))).scalars().all()
        assert await session.scalar(select(func.count(Take.id))) == 0
    assert sorted((r.kind, r.state, r.units) for r in rows) == [
        ("grant", "granted", -0.5),
        ("take", "charged", 1.0),
    ]
    assert all(r.user_id is None and r.take_id is None for r in rows)
    assert all(r.user_hash and str(USER) not in r.user_hash for r in rows)

    # The same Telegram user comes back the same day: still 0.5 spent of 2.
    await revisions(database, USER, 1)
    async with database.session() as session:
        assert await services.accounts.budget.left(AccountsRepo(session), USER, None) == 1.5
    usage = await services.accounts.budget.usage(USER)
    assert (usage.day.charged, usage.day.granted) == (1.0, 0.5)
    async with database.session() as session:  # someone else is not charged for it
        assert await services.accounts.budget.left(AccountsRepo(session), USER + 1, None) == 2.0
