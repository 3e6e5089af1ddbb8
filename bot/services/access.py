"""Who may use the bot, who operates it, and who may press Generate in a group.

The allowlist is optional: seeded from CLAYMATE_ALLOWED_IDS and managed at run time with
/allow and /deny (stored, so no restart). Once on, allowlist mode is a stored setting that
only an operator's /access open turns off: denying the last allowed user never opens the
bot. Anyone else is told once, politely, and costs nothing: the check runs before any
download or LLM call. Operators (CLAYMATE_ADMIN_IDS) are always let in. Group admin status
comes from getChatMember, cached briefly here: it is only a cache, so a short in-process
TTL is enough.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import Enum

from bot.config import Settings
from storage.db import Database
from storage.repos.accounts import AccountsRepo
from storage.uow import UnitOfWork

GENERATE_POLICIES = ("everyone", "admins")
ACCESS_MODE = "access_mode"  # bot_settings key
ACCESS_MODES = ("allowlist", "open")
ADMIN_STATUSES = frozenset({"creator", "administrator"})
MEMBER_TTL_S = 60.0


class Verdict(Enum):
    ADMIT = "admit"
    REFUSE = "refuse"  # tell them once
    SILENT = "silent"  # already told


class Access:
    """The allowlist, operators, and per-group Generate policy."""

    def __init__(self, settings: Settings, db: Database, *, member_ttl_s: float = MEMBER_TTL_S):
        self.settings = settings
        self.db = db
        self.member_ttl_s = member_ttl_s
        self._members: dict[tuple[int, int], tuple[str, float]] = {}

    def is_operator(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids

    async def admit(self, user_id: int | None, chat_id: int | None) -> Verdict:
        """May this user in this chat use the bot? Records the one refusal it gets."""
        async with self.db.session() as session:
            return await self.verdict(AccountsRepo(session), user_id, chat_id)

    async def verdict(
        self, repo: AccountsRepo, user_id: int | None, chat_id: int | None
    ) -> Verdict:
        """`admit`, in the caller's unit of work."""
        if self.is_operator(user_id):
            return Verdict.ADMIT
        subjects = [s for s in (user_id, chat_id) if s is not None]
        if not subjects:
            return Verdict.ADMIT
        statuses = await repo.access_statuses(*subjects)
        seeded = set(self.settings.allowed_ids)
        denied = any(statuses.get(s) in ("denied", "blocked") for s in subjects)
        listed = any(
            statuses.get(s) == "allowed" or (s in seeded and s not in statuses) for s in subjects
        )
        active = await self._mode(repo) == "allowlist"
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
        await repo.set_access(target, "blocked" if status == "denied" else "refused", None)
        return Verdict.REFUSE

    async def _mode(self, repo: AccountsRepo) -> str:
        """The stored mode; the first time a list exists (seeded or /allow), "allowlist",
        stored so that it stays on whatever the list later holds."""
        mode = await repo.setting(ACCESS_MODE)
        if mode in ACCESS_MODES:
            return str(mode)
        if self.settings.allowed_ids or await repo.any_allowed():
            return str(await repo.setting_if_missing(ACCESS_MODE, "allowlist"))
        return "open"

    async def mode(self) -> str:
        """/access: "allowlist" or "open"."""
        async with self.db.session() as session:
            return await self._mode(AccountsRepo(session))

    async def set_mode(self, mode: str, by: int | None) -> None:
        """/access open | allowlist: only an operator's explicit word opens the bot."""
        if mode not in ACCESS_MODES:
            raise ValueError(mode)
        async with self.db.session() as session:
            await AccountsRepo(session).set_setting(ACCESS_MODE, mode, by)

    async def set(self, subject_id: int, allowed: bool, by: int | None) -> None:
        """/allow and /deny: takes effect with the next update, on every instance.

        The first /allow switches allowlist mode on (unless an operator chose "open").
        """
        async with self.db.session() as session:
            repo = AccountsRepo(session)
            await repo.set_access(subject_id, "allowed" if allowed else "denied", by)
            if allowed:
                await repo.setting_if_missing(ACCESS_MODE, "allowlist")

    # --- groups -----------------------------------------------------------------------------

    async def generate_policy(self, chat_id: int) -> str:
        async with self.db.session() as session:
            chat = await UnitOfWork(session).chats.get_chat(chat_id)
        policy = (chat.settings or {}).get("generate") if chat else None
        return policy if policy in GENERATE_POLICIES else "everyone"

    async def set_generate_policy(self, chat_id: int, policy: str) -> None:
        if policy not in GENERATE_POLICIES:
            raise ValueError(policy)
        async with self.db.session() as session:
            await UnitOfWork(session).chats.set_chat_setting(chat_id, "generate", policy)

    async def is_chat_admin(
        self, chat_id: int, user_id: int, fetch_status: Callable[[], Awaitable[str]]
    ) -> bool:
        """Operators, and the group's creator and administrators (getChatMember, cached)."""
        if self.is_operator(user_id):
            return True
        now = time.monotonic()
        cached = self._members.get((chat_id, user_id))
        if cached is None or cached[1] < now:
            status = await fetch_status()
            self._members[(chat_id, user_id)] = (status, now + self.member_ttl_s)
            if len(self._members) > 10_000:  # bounded: drop expired entries
                self._members = {k: v for k, v in self._members.items() if v[1] >= now}
        else:
            status = cached[0]
        return status in ADMIN_STATUSES

    async def may_generate(
        self, chat_id: int, user_id: int, fetch_status: Callable[[], Awaitable[str]]
    ) -> bool:
        if await self.generate_policy(chat_id) == "everyone":
            return True
        return await self.is_chat_admin(chat_id, user_id, fetch_status)
