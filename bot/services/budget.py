"""Generation costs money: a cost per take, quotas per user and group, and a ledger.

Units are reserved in the same transaction that queues a take (so parallel Generates never
overspend), charged when the take is delivered and refunded when it fails or is cancelled
(storage.repos.takes.TakesRepo.transition_take settles them). Clay stills are reserved the same
way before the provider is called (`reserve_units`, `settle`). Grants are negative spending.

Credits bought with Telegram Stars (bot/services/payments.py) pay where a free quota does not:
an entry's `credit_units` is the part they paid, never counted against a quota, so settling an
entry settles both parts. Whether credits go before or after the free quota is a setting;
without any quota, work is free and no credit is spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.states import ChargeState
from bot.domain.types import Allowance
from storage.db import Database
from storage.models import Take, utcnow
from storage.repos.accounts import AccountsRepo, UsageTotals

# What a take costs, in units (the budget's currency: Kling's video units, 1 ≈ $0.14).
# Kling's per-clip prices (providers.md 1.12), then per-second prices where a model's
# durations are not just 5 and 10 s; Vidu and Seedance bill in their own currencies, so
# they are charged at Kling 720p's rate per second, an estimate an operator can override
# with CLAYMATE_COSTS. Never free by default: a quota must hold whatever engine runs.
DEFAULT_COSTS: dict[str, float] = {
    "kling:std:5": 1.5,
    "kling:std:10": 3.0,
    "kling:pro:5": 2.5,
    "kling:pro:10": 5.0,
    # Kling 2.6 with native sound: pro only, twice the silent price.
    "kling:pro:5:sound": 5.0,
    "kling:pro:10:sound": 10.0,
    # Kling 3.0: 3–15 s at 0.6 / 0.8 / 3.0 units a second (720p / 1080p / 4K).
    "kling:kling-v3:std/s": 0.6,
    "kling:kling-v3:pro/s": 0.8,
    "kling:kling-v3:4k/s": 3.0,
    "kling:kling-v3:std:sound/s": 0.8,
    "kling:kling-v3:pro:sound/s": 1.0,
    "vidu/s": 0.3,
    "seedance/s": 0.3,
    "offline": 0.0,
}
PERIODS = ("day", "month")


def parse_costs(raw: str | None) -> dict[str, float]:
    """The cost table: defaults, overridden by CLAYMATE_COSTS ("kling:pro:10=6,vidu/s=0.4").

    A key is `provider[:model][:mode][:duration][:sound]` for a price per take, or ends in
    `/s` for a price per second; the most specific key that matches wins (see Budget.cost).
    """
    table = dict(DEFAULT_COSTS)
    for part in (raw or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        table[key.strip()] = float(value)
    return table


def period_start(period: str, now: datetime | None = None) -> datetime:
    now = now or utcnow()
    if period == "day":
        return datetime(now.year, now.month, now.day, tzinfo=UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Quotas:
    """The default quotas in units per period (None: unlimited); an operator's /limit wins."""

    user_day: float | None = None
    user_month: float | None = None
    group_day: float | None = None
    group_month: float | None = None

    def default(self, subject_id: int, period: str) -> float | None:
        """A group (a negative chat id) or a user's default for "day" or "month"."""
        limit: float | None = getattr(self, f"{'group' if subject_id < 0 else 'user'}_{period}")
        return limit


@dataclass(frozen=True, slots=True)
class Usage:
    subject_id: int
    day: UsageTotals
    month: UsageTotals
    limits: dict[str, float | None]
    credits: float = 0.0  # a user's bought credits left (a group has none)


class Budget:
    """Costs, quotas and the ledger, shared by every use case that spends."""

    def __init__(
        self,
        db: Database,
        costs: Mapping[str, float],
        quotas: Quotas,
        *,
        credits_first: bool = False,
    ) -> None:
        self.db = db
        self.costs = dict(costs)
        self.quotas = quotas
        self.credits_first = credits_first  # spend bought credits before the free quota

    def cost(
        self, provider: str, mode: str, duration: int, sound: bool = False, model: str = ""
    ) -> float:
        """The price of one take: the model's own entry before the provider's, the mode's
        before any mode's, a price for this exact duration before one per second, and with
        sound where the table prices sound (else as a silent take)."""
        scopes = (f"{provider}:{model}", provider) if model else (provider,)
        for scope in scopes:
            for base in (f"{scope}:{mode}", scope):
                tails = ((":sound", ":sound/s"), ("", "/s")) if sound else (("", "/s"),)
                for exact, per_second in tails:
                    if (key := f"{base}:{duration}{exact}") in self.costs:
                        return self.costs[key]
                    if (key := f"{base}{per_second}") in self.costs:
                        return round(self.costs[key] * duration, 4)
                if base in self.costs:
                    return self.costs[base]
        return 0.0

    def cost_of_params(self, params: dict[str, Any]) -> float:
        return self.cost(
            str(params.get("provider", "offline")),
            str(params.get("mode", "std")),
            int(params.get("duration", 5)),
            bool(params.get("sound")),
            str(params.get("model") or ""),
        )

    async def limits(
        self, repo: AccountsRepo, *subject_ids: int
    ) -> dict[tuple[int, str], float | None]:
        """Each subject's day and month quota: an operator's /limit, else the default."""
        overrides = await repo.quota_overrides(*subject_ids)
        return {
            (subject, period): (
                overrides[subject, period]
                if (subject, period) in overrides
                else self.quotas.default(subject, period)
            )
            for subject in subject_ids
            for period in PERIODS
        }

    async def left(self, repo: AccountsRepo, user_id: int, group_id: int | None) -> float | None:
        """Units left under the tightest of the user's and the group's day and month quotas."""
        subjects = [s for s in (user_id, group_id) if s is not None]
        lefts: list[float] = []
        for (subject, period), limit in (await self.limits(repo, *subjects)).items():
            if limit is None:
                continue
            since = period_start(period)
            spent = (
                await repo.spent(since=since, chat_id=subject)
                if subject < 0
                else await repo.spent(since=since, user_id=subject)
            )
            lefts.append(limit - spent)
        return max(0.0, min(lefts)) if lefts else None

    async def allowance(
        self,
        repo: AccountsRepo,
        user_id: int,
        group_id: int | None,
        params: dict[str, Any],
    ) -> Allowance:
        """For the draft: what Generate will cost, and what is left (credits included)."""
        cost = self.cost_of_params(params)
        return (await self._paying(repo, cost, user_id, group_id))[0]

    async def _paying(
        self, repo: AccountsRepo, cost: float, user_id: int, group_id: int | None
    ) -> tuple[Allowance, float]:
        """What is left for `cost` (free quota plus the user's credits) and how much of it
        the credits would pay, in the configured order."""
        free_left = await self.left(repo, user_id, group_id)
        if free_left is None or cost <= 0:  # no quota applies: nothing to buy
            return Allowance(cost, free_left), 0.0
        balance = max(0.0, await repo.credit_balance(user_id))
        if self.credits_first:
            from_credits = min(cost, balance)
        else:
            from_credits = max(0.0, cost - free_left)
        return Allowance(cost, free_left + balance), from_credits

    async def reserve(
        self, repo: AccountsRepo, take: Take, user_id: int, group_id: int | None
    ) -> Allowance:
        """Reserve the take's cost in the caller's transaction; not enough left: nothing."""
        cost = self.cost(
            take.provider,
            take.params.get("mode", "std"),
            take.params["duration"],
            bool(take.params.get("sound")),
            take.model or "",
        )
        if cost <= 0:
            return Allowance(0.0, None)
        await repo.lock_subjects(*(s for s in (user_id, group_id) if s is not None))
        allowance, from_credits = await self._paying(repo, cost, user_id, group_id)
        if allowance.enough:
            take.cost_units = cost
            await repo.add_usage(
                take_id=take.id,
                user_id=user_id,
                chat_id=group_id,
                units=cost,
                state=ChargeState.RESERVED,
                credit_units=from_credits,
            )
        return allowance

    async def reserve_units(
        self, cost: float, user_id: int, group_id: int | None, *, kind: str
    ) -> tuple[Allowance, int | None]:
        """Reserve work that is not a take (a still) in its own unit of work, quota-checked:
        (the allowance, the ledger entry to settle) or (the allowance, None) when refused."""
        if cost <= 0:
            return Allowance(0.0, None), None
        async with self.db.unit_of_work() as uow:
            repo = uow.accounts
            await repo.lock_subjects(*(s for s in (user_id, group_id) if s is not None))
            allowance, from_credits = await self._paying(repo, cost, user_id, group_id)
            if not allowance.enough:
                return allowance, None
            entry = await repo.add_usage(
                take_id=None,
                user_id=user_id,
                chat_id=group_id,
                units=cost,
                state=ChargeState.RESERVED,
                kind=kind,
                credit_units=from_credits,
            )
            return allowance, entry.id

    async def settle(self, entry_id: int | None, *, charged: bool) -> None:
        """The reserved work ended: charged if it was delivered, refunded otherwise."""
        if entry_id is None:
            return
        async with self.db.unit_of_work() as uow:
            await uow.accounts.settle_entry(entry_id, charged=charged)

    async def grant(self, subject_id: int, units: float) -> None:
        """/grant: give a user or group units back (a negative entry in the ledger)."""
        group = subject_id < 0
        async with self.db.unit_of_work() as uow:
            await uow.accounts.add_usage(
                take_id=None,
                user_id=None if group else subject_id,
                chat_id=subject_id if group else None,
                units=-abs(units),
                state=ChargeState.GRANTED,
                kind="grant",
            )

    async def set_limit(self, subject_id: int, period: str, units: float | None) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.accounts.set_quota(subject_id, period, units)

    async def usage(self, subject_id: int) -> Usage:
        async with self.db.unit_of_work() as uow:
            repo = uow.accounts
            day = await repo.totals(since=period_start("day"), subject_id=subject_id)
            month = await repo.totals(since=period_start("month"), subject_id=subject_id)
            quotas = await self.limits(repo, subject_id)
            credits = 0.0 if subject_id < 0 else max(0.0, await repo.credit_balance(subject_id))
        limits = {p: quotas[subject_id, p] for p in PERIODS}
        return Usage(subject_id, day, month, limits, credits)

    async def stats(self) -> tuple[UsageTotals, list[tuple[int, float]]]:
        async with self.db.unit_of_work() as uow:
            repo = uow.accounts
            since = period_start("month")
            return await repo.totals(since=since), await repo.top_spenders(since=since)

    async def provider_charges(self) -> dict[str, float]:
        """This month's units the providers say they charged, per provider (our prices
        are an estimate; Kling's final_unit_deduction is the bill)."""
        async with self.db.unit_of_work() as uow:
            return await uow.takes.charged_units_since(period_start("month"))
