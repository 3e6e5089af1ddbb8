"""Who may use the bot: the allowlist, checked for every update before any work.

The allowlist is optional: seeded from CLAYMATE_ALLOWED_IDS and managed at run time with
/allow and /deny (stored, so no restart). Once on, allowlist mode is a stored setting that
only an operator's /access open turns off: denying the last allowed user never opens the
bot. Anyone else is told once, politely, and costs nothing: the check runs before any
download or LLM call. Operators (CLAYMATE_ADMIN_IDS) are always let in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from bot.domain.types import Verdict
from bot.services.permissions import Permissions
from storage.db import Database
from storage.repos.accounts import AccountsRepo

ACCESS_MODE = "access_mode"  # bot_settings key
ACCESS_MODES = ("allowlist", "open")


class Access:
    """The allowlist: who is admitted, and the mode an operator chose."""

    def __init__(
        self, db: Database, permissions: Permissions, allowed_ids: Collection[int] = ()
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.allowed_ids = frozenset(allowed_ids)

    async def admit(self, user_id: int | None, chat_id: int | None) -> Verdict:
        """May this user in this chat use the bot? Records the one refusal it gets."""
        async with self.db.unit_of_work() as uow:
            return await self.verdict(uow.accounts, user_id, chat_id)

    async def verdict(
        self, repo: AccountsRepo, user_id: int | None, chat_id: int | None
    ) -> Verdict:
        """`admit`, in the caller's unit of work."""
        return (await self.verdicts(repo, [(user_id, chat_id)]))[0]

    async def verdicts(
        self, repo: AccountsRepo, asks: Sequence[tuple[int | None, int | None]]
    ) -> list[Verdict]:
        """`verdict` for each (user, chat) in turn, from one read of the allowlist (the
        gate of updates that arrived together): a refusal recorded for one is seen by the
        next, as if each had come alone."""
        # Whose entries each ask reads: none for an operator, who is always let in.
        asked = [
            [] if self.permissions.is_operator(u) else [s for s in (u, c) if s is not None]
            for u, c in asks
        ]
        if not any(asked):
            return [Verdict.ADMIT] * len(asks)
        everyone = [s for subjects in asked for s in subjects]
        statuses, stored_mode, any_allowed = await repo.access_snapshot(ACCESS_MODE, *everyone)
        active = await self._mode_from(repo, stored_mode, any_allowed) == "allowlist"
        return [
            await self._decide(repo, statuses, active, subjects, chat_id, user_id)
            for subjects, (user_id, chat_id) in zip(asked, asks, strict=True)
        ]

    async def _decide(
        self,
        repo: AccountsRepo,
        statuses: dict[int, str],
        active: bool,
        subjects: list[int],
        chat_id: int | None,
        user_id: int | None,
    ) -> Verdict:
        """One update's verdict from the allowlist as read (`statuses`, kept up to date)."""
        if not subjects:  # an operator, or nobody to check
            return Verdict.ADMIT
        seeded = self.allowed_ids
        denied = any(statuses.get(s) in ("denied", "blocked") for s in subjects)
        listed = any(
            statuses.get(s) == "allowed" or (s in seeded and s not in statuses) for s in subjects
        )
        if not denied and (listed or not active):
            return Verdict.ADMIT
        # Whom the refusal is recorded on: a denied user, else the chat it was sent to.
        target = next(
            (s for s in subjects if statuses.get(s) in ("denied", "blocked")),
            chat_id if chat_id is not None else user_id,
        )
        assert target is not None
        status = statuses.get(target)
        if status in ("blocked", "refused"):
            return Verdict.SILENT
        statuses[target] = "blocked" if status == "denied" else "refused"
        await repo.set_access(target, statuses[target], None)
        return Verdict.REFUSE

    async def _mode(self, repo: AccountsRepo) -> str:
        """The stored mode; the first time a list exists (seeded or /allow), "allowlist",
        stored so that it stays on whatever the list later holds."""
        mode, any_allowed = await repo.setting_and_any_allowed(ACCESS_MODE)
        return await self._mode_from(repo, mode, any_allowed)

    async def _mode_from(self, repo: AccountsRepo, mode: Any, any_allowed: bool) -> str:
        """The mode from what was read: stored, or "allowlist" stored the first time a
        list exists."""
        if mode in ACCESS_MODES:
            return str(mode)
        if self.allowed_ids or any_allowed:
            return str(await repo.setting_if_missing(ACCESS_MODE, "allowlist"))
        return "open"

    async def mode(self) -> str:
        """/access: "allowlist" or "open"."""
        async with self.db.unit_of_work() as uow:
            return await self._mode(uow.accounts)

    async def set_mode(self, mode: str, by: int | None) -> None:
        """/access open | allowlist: only an operator's explicit word opens the bot."""
        if mode not in ACCESS_MODES:
            raise ValueError(mode)
        async with self.db.unit_of_work() as uow:
            await uow.accounts.set_setting(ACCESS_MODE, mode, by)

    async def set(self, subject_id: int, allowed: bool, by: int | None) -> None:
        """/allow and /deny: takes effect with the next update, on every instance.

        The first /allow switches allowlist mode on (unless an operator chose "open").
        """
        async with self.db.unit_of_work() as uow:
            repo = uow.accounts
            await repo.set_access(subject_id, "allowed" if allowed else "denied", by)
            if allowed:
                await repo.setting_if_missing(ACCESS_MODE, "allowlist")
