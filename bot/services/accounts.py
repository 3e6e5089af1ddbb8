"""People and what they may spend: who is asking, the allowlist, budgets, /export, /forget.

The rules live in small parts beside this one: the allowlist in access.py, costs and quotas
in budget.py, the files of /forget and /export in privacy.py. This is the use case the
chat front end and the CLI call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from bot.domain.ports import VideoProvider, cancel_upstream
from bot.domain.states import CLIP_READY_STATES
from bot.domain.types import Actor, Admission, ProjectShape, Sender, Verdict
from bot.files import DataFolders
from bot.i18n import language_for
from bot.services.access import Access
from bot.services.budget import Budget, Usage
from bot.services.capacity import HeavyWork
from bot.services.privacy import Export, Forgotten, build_zip, remove_files
from bot.services.projects import current_project
from storage.db import Database
from storage.group_commit import GroupCommit
from storage.repos.accounts import InFlight, UsageTotals
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class Accounts:
    """Users and chats, access, money and a user's data, for handlers and the CLI."""

    def __init__(
        self,
        db: Database,
        access: Access,
        budget: Budget,
        providers: Mapping[str, VideoProvider],
        heavy: HeavyWork,
        folders: DataFolders,
    ) -> None:
        self.db = db
        self.access = access
        self.budget = budget
        self.providers = providers  # /forget stops a user's tasks upstream where it can
        self.heavy = heavy
        self.folders = folders
        # Every update's gate is a small transaction, and updates come in batches.
        self._gate = GroupCommit(db, self._admit_all, name="gate")

    # --- who is asking --------------------------------------------------------------------

    async def enter(self, sender: Sender) -> Actor:
        """Record the user and chat (first contact creates them) and pick the language."""
        actor, _ = await self.enter_with_shape(sender)
        return actor

    async def enter_with_shape(self, sender: Sender) -> tuple[Actor, ProjectShape]:
        """`enter`, and the shape of the chat's current project, read with the chat's row."""
        async with self.db.unit_of_work() as uow:
            return await _enter(uow, sender)

    async def admit_update(
        self,
        update_id: int,
        user_id: int | None,
        chat_id: int | None,
        *,
        check_access: bool,
        sender: Sender | None = None,
    ) -> Admission:
        """Before any handler, in one unit of work: skip an update Telegram delivered
        before, say whether its sender may use the bot, and record `sender` if given.

        Updates arriving together share that unit of work (see storage/group_commit.py)."""
        return await self._gate.run(_Arrival(update_id, user_id, chat_id, check_access, sender))

    async def _admit_all(self, uow: UnitOfWork, arrivals: list[_Arrival]) -> list[Admission]:
        """The gate of updates that arrived together, each as if it came alone, in order.
        Their update ids, their allowlist entries and their senders are each one statement
        for them all."""
        new = await uow.chats.mark_updates_processed([a.update_id for a in arrivals])
        verdicts: list[Verdict | None] = []  # None: a redelivery
        for arrival in arrivals:
            verdicts.append(Verdict.ADMIT if arrival.update_id in new else None)
            new.discard(arrival.update_id)  # a second copy of it here is a redelivery
        asking = [i for i, a in enumerate(arrivals) if verdicts[i] and a.check_access]
        asks = [(arrivals[i].user_id, arrivals[i].chat_id) for i in asking]
        for i, verdict in zip(asking, await self.access.verdicts(uow.accounts, asks), strict=True):
            verdicts[i] = verdict
        entering = [
            (i, a.sender)
            for i, a in enumerate(arrivals)
            if verdicts[i] is Verdict.ADMIT and a.sender is not None
        ]
        entered = await _enter_all(uow, [sender for _, sender in entering])
        recorded = dict(zip((i for i, _ in entering), entered, strict=True))
        return [
            Admission(duplicate=True)
            if verdict is None
            else Admission(False, verdict, *recorded.get(i, (None, None)))
            for i, verdict in enumerate(verdicts)
        ]

    async def set_language(self, actor: Actor, lang: str) -> Actor:
        """/lang: the user's language from now on (and, in a group, the group's)."""
        async with self.db.unit_of_work() as uow:
            user = await uow.chats.get_user(actor.user_id)
            if user is not None:
                user.lang = lang
            await uow.chats.set_chat_setting(actor.chat_id, "lang", lang)
        return Actor(actor.user_id, actor.chat_id, actor.chat_type, language_for(lang))

    async def language_of(self, user_id: int | None, chat_id: int) -> str:
        """The language to speak to `user_id` in `chat_id` (/lang choice, else Telegram's)."""
        async with self.db.unit_of_work() as uow:
            user = await uow.chats.get_user(user_id) if user_id is not None else None
            chat = await uow.chats.get_chat(chat_id)
        chosen = (chat.settings or {}).get("lang") if chat and chat.type != "private" else None
        return language_for(
            (user.lang if user else None) or chosen or (user.language_code if user else None)
        )

    # --- the allowlist (operators only; handlers check who asks) ---------------------------

    async def allow(self, subject_id: int, allowed: bool, by: int | None) -> None:
        """/allow and /deny a user or a chat, from its next update on, on every instance."""
        await self.access.set(subject_id, allowed, by)

    async def access_mode(self) -> str:
        """/access: "allowlist" or "open"."""
        return await self.access.mode()

    async def set_access_mode(self, mode: str, by: int | None) -> None:
        """/access open | allowlist: only an operator's explicit word opens the bot."""
        await self.access.set_mode(mode, by)

    # --- money ----------------------------------------------------------------------------

    async def usage(self, subject_id: int) -> Usage:
        """/usage: a user's or group's spending today and this month, and its limits."""
        return await self.budget.usage(subject_id)

    async def grant(self, subject_id: int, units: float) -> None:
        """/grant: give a user or group units back."""
        await self.budget.grant(subject_id, units)

    async def set_limit(self, subject_id: int, period: str, units: float | None) -> None:
        """/limit: one user's or group's quota over the default (None: unlimited)."""
        await self.budget.set_limit(subject_id, period, units)

    async def stats(self) -> tuple[UsageTotals, list[tuple[int, float]]]:
        """/stats: this month's totals and the top spenders."""
        return await self.budget.stats()

    async def provider_charges(self) -> dict[str, float]:
        """/stats: this month's units as the providers billed them, per provider."""
        return await self.budget.provider_charges()

    # --- a user's data --------------------------------------------------------------------

    async def forget(self, user_id: int) -> Forgotten:
        """Delete every row the user owns, stop their takes in flight, then remove their files."""
        async with self.db.unit_of_work() as uow:
            # First, while their shots and takes still say which films showed them.
            await uow.films.forget_films_of(user_id)
            owned = await uow.accounts.forget_user(user_id)
        for take in owned.in_flight:
            await self._stop_upstream(take)
        removed = await asyncio.to_thread(remove_files, self.folders, owned)
        log.info("forgot user %s: %d projects, %d files", user_id, len(owned.project_ids), removed)
        return Forgotten(removed, len(owned.project_ids))

    @contextlib.asynccontextmanager
    async def exported(self, actor: Actor, *, limit_bytes: int) -> AsyncIterator[Export]:
        """The current project's zip for the length of the block; the file goes afterwards."""
        export = await self.export_project(actor, limit_bytes=limit_bytes)
        try:
            yield export
        finally:
            export.path.unlink(missing_ok=True)

    async def export_project(self, actor: Actor, *, limit_bytes: int) -> Export:
        """The current project as a zip on disk (see privacy.build_zip); the caller removes
        the file (see `exported`)."""
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            data = []
            for shot in await uow.shots.project_shots(project.id):
                revisions = await uow.shots.shot_revisions(shot.id)
                # A clip on its way to the chat is the user's already (see CLIP_READY_STATES).
                takes = [
                    t for t in await uow.takes.shot_takes(shot.id) if t.status in CLIP_READY_STATES
                ]
                data.append((shot, revisions, takes))
        async with self.heavy.turn():  # zipping clips takes a while, on a worker thread
            return await asyncio.to_thread(
                build_zip, project, data, limit_bytes, self.folders.exports
            )

    async def _stop_upstream(self, take: InFlight) -> None:
        """Cancel the provider's task where it allows; otherwise the runner drops the take."""
        provider = self.providers.get(take.provider)
        if provider is None or take.upstream_task_id is None:
            return
        try:
            stopped = await cancel_upstream(provider, take.upstream_task_id)
        except Exception:  # the rows are gone already: a failed cancel must not undo /forget
            log.exception("take %s: cancelling upstream failed", take.take_id)
            return
        log.info("take %s: upstream task %s", take.take_id, "cancelled" if stopped else "left")


@dataclass(frozen=True, slots=True)
class _Arrival:
    """An update at the gate: what `Accounts.admit_update` was asked."""

    update_id: int
    user_id: int | None
    chat_id: int | None
    check_access: bool
    sender: Sender | None


async def _enter(uow: UnitOfWork, sender: Sender) -> tuple[Actor, ProjectShape]:
    """The sender recorded in `uow`, as the actor the use cases take, and the shape of the
    chat's current project as this update found it."""
    return (await _enter_all(uow, [sender]))[0]


async def _enter_all(uow: UnitOfWork, senders: list[Sender]) -> list[tuple[Actor, ProjectShape]]:
    """`_enter` for each sender, their rows written together."""
    if not senders:
        return []
    entered = []
    for sender, rows in zip(senders, await uow.chats.record_senders(senders), strict=True):
        chosen = rows.settings.get("lang") if sender.chat_type != "private" else None
        lang = language_for(rows.lang or chosen or rows.language_code)
        actor = Actor(sender.user_id, sender.chat_id, sender.chat_type, lang)
        entered.append((actor, ProjectShape(rows.aspect)))
    return entered
