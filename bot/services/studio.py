"""The creative workflow as plain async operations: shots, drafts, refinements, takes.

Handlers and the CLI call these and render the results; nothing here knows Telegram.
Each operation is one unit of work on the database, so a second instance sees it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.domain.errors import StudioError
from bot.domain.ports import PromptDrafter, VideoProvider
from bot.domain.states import ShotState, TakeState
from bot.domain.types import (
    CAMERA_MOVES,
    DURATIONS,
    MODES,
    Actor,
    Draft,
    DraftRequest,
    Origin,
    PhotoFacts,
    RefineStep,
    Sender,
)
from bot.files import write_private
from bot.i18n import language_for
from bot.media.intake import (
    IntakeError,
    PreparedPhoto,
    llm_copy_path,
    llm_jpeg_of,
    prepare_photo,
)
from bot.services.access import Access, Verdict
from bot.services.budget import Allowance, Budget
from bot.slots import releasing_slot
from storage.db import Database
from storage.models import (
    BotMessage,
    Project,
    PromptRevision,
    Shot,
    Take,
    utcnow,
)
from storage.repos.accounts import AccountsRepo
from storage.repos.projects import ProjectSummary
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_DESCRIPTION_CHARS = 1000
MAX_INSTRUCTION_CHARS = 1000
MAX_TITLE_CHARS = 120
STATUS_MESSAGE_GRACE_S = 10.0
INTAKE_SLOTS = max(2, os.cpu_count() or 2)


@dataclass(frozen=True, slots=True)
class StillChoice:
    """🎬 Animate this / 📷 Use the original: the picture a take of the shot animates."""

    shot_id: int
    path: str | None  # None: the original photo


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer for one update, before any handler runs."""

    duplicate: bool  # Telegram delivered it before (a restart, a second instance)
    verdict: Verdict = Verdict.ADMIT
    actor: Actor | None = None  # the sender, recorded, when the gate was asked to


@dataclass(frozen=True, slots=True)
class DraftView:
    """What a draft message shows, read in one unit of work: the revision, its shot and
    project, and what 🎬 Generate would cost."""

    revision: PromptRevision
    shot: Shot
    project: Project
    allowance: Allowance


@dataclass(frozen=True, slots=True)
class Recaption:
    """What an edited photo caption did to its shot."""

    shot: Shot
    revision: PromptRevision | None  # a new draft; None: only the description changed
    changed: bool  # False: the new caption was empty, so nothing changed


@dataclass(slots=True)
class ShotOutcome:
    shot: Shot
    draft: DraftView | None  # None: the photo waits for its description
    notes: tuple[tuple[str, dict[str, Any]], ...] = ()

    @property
    def revision(self) -> PromptRevision | None:
        return self.draft.revision if self.draft else None


@dataclass(slots=True)
class ShotView:
    shot: Shot
    revision: PromptRevision | None
    kept: Take | None
    delivered: list[Take] = field(default_factory=list)


@dataclass(slots=True)
class ProjectView:
    project: Project
    shots: list[ShotView]


@dataclass(frozen=True, slots=True)
class TakeRequest:
    take: Take
    created: bool  # False when an identical request was already queued (double tap)


class Studio:
    """The domain layer. Built once in bot.app from settings and providers."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        drafter: PromptDrafter,
        providers: dict[str, VideoProvider],
        default_provider: str,
    ) -> None:
        self.settings = settings
        self.db = db
        self.drafter = drafter
        self.providers = providers
        self.default_provider = default_provider
        self.photos_dir = settings.data_dir / "photos"
        self.clips_dir = settings.data_dir / "clips"
        # What takes cost, and who may use the bot.
        self.budget = Budget(settings, db)
        self.access = Access(settings, db)
        # Photo intake is CPU work on worker threads: with more photos in it at once than
        # there are cores, a burst of them all finish late together instead of the first
        # finishing first (50 at once: p95 to the draft 0.88 s instead of 1.1 s).
        self._intake_slots = asyncio.Semaphore(INTAKE_SLOTS)
        # Films and exports: each holds a core and the disk for seconds to minutes.
        self._heavy_slots = asyncio.Semaphore(settings.heavy_work_slots)

    @contextlib.asynccontextmanager
    async def heavy_work(self) -> AsyncIterator[None]:
        """Around a film or an export: a few at a time, and the update's slot is free meanwhile."""
        async with releasing_slot(), self._heavy_slots:
            yield

    # --- who is asking ------------------------------------------------------------------

    async def enter(self, sender: Sender) -> Actor:
        """Record the user and chat (first contact creates them) and pick the language."""
        async with self.db.session() as session:
            return await self._enter(UnitOfWork(session), sender)

    async def _enter(self, uow: UnitOfWork, sender: Sender) -> Actor:
        user = await uow.chats.upsert_user(
            sender.user_id,
            first_name=sender.first_name,
            username=sender.username,
            language_code=sender.language_code,
        )
        chat = await uow.chats.upsert_chat(
            sender.chat_id, type=sender.chat_type, title=sender.chat_title
        )
        chosen = (chat.settings or {}).get("lang") if sender.chat_type != "private" else None
        lang = language_for(user.lang or chosen or user.language_code)
        return Actor(sender.user_id, sender.chat_id, sender.chat_type, lang)

    async def set_language(self, actor: Actor, lang: str) -> Actor:
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            user = await uow.chats.get_user(actor.user_id)
            if user is not None:
                user.lang = lang
            await uow.chats.set_chat_setting(actor.chat_id, "lang", lang)
        return Actor(actor.user_id, actor.chat_id, actor.chat_type, language_for(lang))

    # --- projects -----------------------------------------------------------------------

    async def new_project(self, actor: Actor, title: str | None) -> Project:
        title = (title or "").strip()[:MAX_TITLE_CHARS] or _untitled()
        async with self.db.session() as session:
            return await UnitOfWork(session).projects.create_project(
                actor.chat_id, title, actor.user_id
            )

    async def current_project(self, actor: Actor) -> Project:
        """The project new photos go to; the first one opens as "Untitled <date>"."""
        async with self.db.session() as session:
            return await self._current_project(UnitOfWork(session), actor)

    async def _current_project(self, uow: UnitOfWork, actor: Actor) -> Project:
        project = await uow.projects.current_project(actor.chat_id)
        if project is None:
            project = await uow.projects.create_project(actor.chat_id, _untitled(), actor.user_id)
        return project

    async def list_projects(self, actor: Actor) -> list[ProjectSummary]:
        async with self.db.session() as session:
            return await UnitOfWork(session).projects.list_projects(actor.chat_id)

    async def open_project(self, actor: Actor, project_id: int) -> ProjectView:
        """A project's shots in order with their kept (or latest delivered) clips."""
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            project = await uow.projects.get_project(project_id)
            if project is None or project.chat_id != actor.chat_id:
                raise StudioError("project.not_found")
            await uow.projects.set_current_project(actor.chat_id, project.id)
            views = []
            for shot in await uow.projects.project_shots(project.id):
                takes = [
                    t
                    for t in await uow.takes.shot_takes(shot.id)
                    if t.status == TakeState.DELIVERED
                ]
                kept = next((t for t in takes if t.id == shot.kept_take_id), None)
                revision = (
                    await uow.projects.get_revision(shot.current_revision_id)
                    if shot.current_revision_id
                    else None
                )
                views.append(ShotView(shot, revision, kept, takes))
            return ProjectView(project, views)

    # --- shots and drafts ---------------------------------------------------------------

    async def add_photo(
        self,
        actor: Actor,
        photo: bytes,
        description: str | None,
        origin: Origin = Origin(),
        *,
        draft: bool = True,
    ) -> ShotOutcome:
        """Intake a photo into the current project and, with a description, draft at once.

        The draft is made from the photo in memory before anything is stored (an LLM may
        take seconds, and no transaction waits for it); the shot in the chat's current
        project, its first revision and the draft's view are then one unit of work.
        """
        async with self._intake_slots:
            prepared, path = await asyncio.to_thread(self._intake, photo)
        description = _clean_text(description, MAX_DESCRIPTION_CHARS)
        drafted = None
        if description and draft:
            drafted = await self.drafter.draft(
                DraftRequest(
                    description=description,
                    facts=prepared.facts,
                    photo_llm_jpeg=prepared.llm_jpeg,
                )
            )
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            project = await self._current_project(uow, actor)
            shot = await uow.projects.add_shot(
                project.id,
                created_by=actor.user_id,
                status=ShotState.DRAFTED if drafted else ShotState.AWAITING_DESCRIPTION,
                description=description,
                photo_path=str(path),
                photo_width=prepared.width,
                photo_height=prepared.height,
                source_format=prepared.source_format,
                facts=_facts_to_json(prepared.facts),
                intake_notes={"notes": [[key, params] for key, params in prepared.notes]},
                chat_id=origin.chat_id,
                message_id=origin.message_id,
                thread_id=origin.thread_id,
                media_group_id=origin.media_group_id,
                telegram_file_id=origin.file_id,
            )
            view = None
            if drafted is not None:
                revision = await self._add_revision(
                    uow, actor, shot, drafted, parent=None, instruction=None
                )
                view = await self._view(session, actor, revision, shot)
        return ShotOutcome(shot, view, prepared.notes)

    async def draft_view(self, actor: Actor, revision: PromptRevision) -> DraftView:
        """`revision` as its draft message shows it."""
        async with self.db.session() as session:
            shot = await self._check_access(UnitOfWork(session), actor, revision.shot_id)
            return await self._view(session, actor, revision, shot)

    async def describe(
        self, actor: Actor, shot_id: int, description: str | None
    ) -> PromptRevision:
        """Draft a shot that was waiting for its description ("" drafts from the photo)."""
        shot = await self._shot_for(actor, shot_id)
        description = _clean_text(description, MAX_DESCRIPTION_CHARS) or ""
        async with self.db.session() as session:
            stored = await UnitOfWork(session).projects.get_shot(shot.id)
            assert stored is not None
            stored.description = description
            stored.status = ShotState.DRAFTED
        shot.description = description
        return await self._first_draft(actor, shot, description)

    async def recaption(
        self, actor: Actor, chat_id: int, message_id: int, caption: str | None
    ) -> Recaption | None:
        """A photo's caption edited after it became a shot: never a new shot.

        The description follows the caption. While nothing has been generated from the
        shot, the draft follows too (a new revision, so Undo still works); after that the
        user decides whether a new draft is worth losing the one they generated from.
        None: the message is not a shot's photo in this chat.
        """
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            found = await uow.projects.shot_for_message(chat_id, message_id)
            if found is None:
                return None
            shot = await self._check_access(uow, actor, found.id)
            generated = bool(await uow.takes.shot_takes(shot.id))
        description = _clean_text(caption, MAX_DESCRIPTION_CHARS)
        if not description or description == shot.description:
            return Recaption(shot, None, changed=False)
        if shot.status == ShotState.AWAITING_DESCRIPTION:
            return Recaption(shot, await self.describe(actor, shot.id, description), changed=True)
        async with self.db.session() as session:
            stored = await UnitOfWork(session).projects.get_shot(shot.id)
            assert stored is not None
            stored.description = description
        shot.description = description
        if generated or shot.status == ShotState.CANCELLED:
            return Recaption(shot, None, changed=True)
        return Recaption(shot, await self.redraft(actor, shot.id), changed=True)

    async def redraft(self, actor: Actor, shot_id: int) -> PromptRevision:
        """🔄 New draft: start again from the description, keeping the history."""
        shot = await self._shot_for(actor, shot_id)
        current = (
            await self._revision(shot.current_revision_id) if shot.current_revision_id else None
        )
        request = await self._draft_request(shot, current)
        draft = await self.drafter.draft(request)
        return await self._store_draft(actor, shot, draft, parent=current, instruction=None)

    async def refine(self, actor: Actor, revision_id: int, instruction: str) -> PromptRevision:
        """A reply to a draft: rewrite its prompt following the user's words."""
        instruction = _clean_text(instruction, MAX_INSTRUCTION_CHARS) or ""
        if not instruction:
            raise StudioError("refine.empty")
        revision = await self._revision(revision_id)
        shot = await self._shot_for(actor, revision.shot_id)
        async with self.db.session() as session:
            chain = await UnitOfWork(session).projects.revision_chain(revision)
        history = tuple(
            RefineStep(instruction=r.instruction or "", prompt=r.prompt)
            for r in chain[1:]
            if r.instruction
        )
        request = await self._draft_request(shot, revision)
        draft = await self.drafter.refine(request, _as_draft(revision), instruction, history)
        return await self._store_draft(
            actor, shot, draft, parent=revision, instruction=instruction
        )

    async def undo(self, actor: Actor, shot_id: int) -> PromptRevision | None:
        """↩️ Undo: the previous revision becomes current again (None: nothing to undo)."""
        shot = await self._shot_for(actor, shot_id)
        if shot.current_revision_id is None:
            return None
        current = await self._revision(shot.current_revision_id)
        if current.parent_id is None:
            return None
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.projects.get_shot(shot.id)
            parent = await uow.projects.get_revision(current.parent_id)
            if stored is None or parent is None:
                return None
            stored.current_revision_id = parent.id
            return parent

    async def change_setting(
        self,
        actor: Actor,
        revision_id: int,
        key: str,
        value: Any,
        *,
        fetch_status: Callable[[], Awaitable[str]] | None = None,
    ) -> PromptRevision:
        """⚙️ Settings: a new revision with one parameter changed, so Undo still works."""
        valid = {
            "duration": DURATIONS,
            "mode": MODES,
            "camera_move": CAMERA_MOVES,
            "provider": tuple(self.providers),
        }
        if key not in valid or value not in valid[key]:
            raise StudioError("settings.invalid")
        revision = await self._revision(revision_id)
        shot = await self._shot_for(actor, revision.shot_id)
        # They set what a take costs, and the group's defaults: the Generate rule holds.
        await self.check_may_spend(actor, fetch_status)
        params = {**revision.params, key: value}
        if key == "provider":
            params["model"] = self.providers[value].model
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.projects.get_shot(shot.id)
            assert stored is not None
            new = await uow.projects.revise_params(stored, revision, params, actor.user_id)
            if key in ("duration", "mode", "provider"):
                # Remember the choice for this chat's next drafts too.
                await uow.chats.set_chat_setting(actor.chat_id, key, value)
            return new

    async def cancel_shot(
        self,
        actor: Actor,
        shot_id: int,
        *,
        fetch_status: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """✖ Cancel (or /drop): the shot leaves the project, by the cancel rule of takes."""
        shot = await self._shot_for(actor, shot_id)
        if actor.is_group and shot.created_by != actor.user_id:
            if not await self._may_cancel_others(actor, fetch_status):
                raise StudioError("shot.cancel_not_allowed")
        async with self.db.session() as session:
            stored = await UnitOfWork(session).projects.get_shot(shot.id)
            if stored is not None:
                stored.status = ShotState.CANCELLED

    async def shot_by_id(self, actor: Actor, shot_id: int) -> Shot:
        return await self._shot_for(actor, shot_id)

    async def revision_by_id(self, actor: Actor, revision_id: int) -> PromptRevision:
        revision = await self._revision(revision_id)
        await self._shot_for(actor, revision.shot_id)
        return revision

    # --- takes --------------------------------------------------------------------------

    async def request_take(
        self,
        actor: Actor,
        revision_id: int,
        *,
        request_key: str | None = None,
        chat_id: int | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        status_message_pending: bool = False,
        still: StillChoice | None = None,
    ) -> TakeRequest:
        """🎬 Generate: queue a take. A double tap or a redelivered update makes no second one.

        With `status_message_pending`, the caller is about to show a status message and
        will make the take due with attach_status_message; until then (or for at most
        STATUS_MESSAGE_GRACE_S, should the caller die) runners leave it alone, so the user
        never gets a second status message from the runner. `still` changes the shot's
        picture in the same unit of work, only when the take is made.
        """
        revision = await self._revision(revision_id)
        shot = await self._shot_for(actor, revision.shot_id)
        provider_name = revision.params.get("provider", self.default_provider)
        if provider_name not in self.providers:
            provider_name = self.default_provider
        provider = self.providers[provider_name]
        if reply_to_message_id is None and shot.chat_id == chat_id:
            reply_to_message_id = shot.message_id
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            # Check and insert under one lock: twenty presses of one button make one take.
            await uow.projects.lock_revision(revision.id)
            if request_key and (existing := await uow.takes.take_by_request_key(request_key)):
                return TakeRequest(existing, created=False)
            if active := await uow.takes.active_take_for_revision(revision.id):
                return TakeRequest(active, created=False)
            take = await uow.takes.add_take(
                shot_id=shot.id,
                revision_id=revision.id,
                requested_by=actor.user_id,
                request_key=request_key,
                provider=provider.name,
                model=revision.params.get("model") or provider.model,
                params=take_params(revision.params),
                external_id=str(uuid.uuid4()),
                deadline_at=utcnow() + timedelta(seconds=self.settings.kling_deadline_s),
                next_attempt_at=utcnow()
                + timedelta(seconds=STATUS_MESSAGE_GRACE_S if status_message_pending else 0),
                chat_id=chat_id,
                thread_id=thread_id,
                reply_to_message_id=reply_to_message_id,
            )
            # Reserve its cost in this same transaction: parallel Generates never overspend.
            group_id = actor.chat_id if actor.is_group else None
            allowance = await self.budget.reserve(
                AccountsRepo(session), take, actor.user_id, group_id
            )
            if not allowance.enough:
                raise StudioError(
                    "budget.exceeded", cost=f"{allowance.cost:g}", left=f"{allowance.left or 0:g}"
                )
            if still is not None and still.shot_id == shot.id:
                stored = await uow.projects.get_shot(shot.id)
                assert stored is not None
                stored.still_path = still.path
            await uow.projects.touch_project(shot.project_id)
            return TakeRequest(take, created=True)

    async def cancel_take(
        self,
        actor: Actor,
        take_id: int,
        *,
        fetch_status: Callable[[], Awaitable[str]] | None = None,
    ) -> bool:
        """✖ on a status message: only a take not yet sent to the provider can be cancelled,
        and only by its author, a group admin or an operator (`fetch_status`: getChatMember).
        """
        take: Take | None  # the row re-read under lock below may be gone
        take = await self.take_by_id(actor, take_id)
        if take.requested_by != actor.user_id and not await self._may_cancel_others(
            actor, fetch_status
        ):
            raise StudioError("take.cancel_not_allowed")
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            take = await uow.takes.get_take(take_id, for_update=True)
            if take is None:
                return False
            await self._check_access(uow, actor, take.shot_id)
            if take.status != TakeState.QUEUED:  # past the queue: the provider may be charging
                return False
            await uow.takes.transition_take(take, TakeState.CANCELLED, f"by user {actor.user_id}")
            return True

    async def check_may_spend(
        self, actor: Actor, fetch_status: Callable[[], Awaitable[str]] | None
    ) -> None:
        """The one check for work that spends (Generate, Again, stills, Animate, the
        original) or sets what it costs (⚙️): in an admins-only group, admins only."""
        if not actor.is_group:
            return
        if not await self.access.may_generate(
            actor.chat_id, actor.user_id, fetch_status or _no_status
        ):
            raise StudioError("group.generate_admins_only")

    async def _may_cancel_others(
        self, actor: Actor, fetch_status: Callable[[], Awaitable[str]] | None
    ) -> bool:
        if self.access.is_operator(actor.user_id):
            return True
        if not actor.is_group or fetch_status is None:
            return False
        return await self.access.is_chat_admin(actor.chat_id, actor.user_id, fetch_status)

    async def keep_take(self, actor: Actor, take_id: int) -> Take:
        """⭐ Keep: this take is the shot's clip in the film."""
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            take = await uow.takes.get_take(take_id)
            if take is None or take.status != TakeState.DELIVERED:
                raise StudioError("take.not_found")
            shot = await self._check_access(uow, actor, take.shot_id)
            shot.kept_take_id = take.id
            return take

    async def take_by_id(self, actor: Actor, take_id: int) -> Take:
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            take = await uow.takes.get_take(take_id)
            if take is None:
                raise StudioError("take.not_found")
            await self._check_access(uow, actor, take.shot_id)
            return take

    # --- conversation state: which message stands for which row ---------------------------

    async def remember_message(
        self, chat_id: int, message_id: int, kind: str, **refs: Any
    ) -> None:
        """Record what a message we sent stands for, so replies and buttons find their row."""
        async with self.db.session() as session:
            await UnitOfWork(session).chats.remember_message(chat_id, message_id, kind, **refs)

    async def message_ref(self, chat_id: int, message_id: int) -> BotMessage | None:
        async with self.db.session() as session:
            return await UnitOfWork(session).chats.message_ref(chat_id, message_id)

    async def attach_status_message(self, take_id: int, chat_id: int, message_id: int) -> None:
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            take = await uow.takes.get_take(take_id, for_update=True)
            if take is not None:
                take.status_message_id = message_id
                take.status_edited_at = utcnow()
                if take.status == TakeState.QUEUED:
                    take.next_attempt_at = utcnow()
            await uow.chats.remember_message(chat_id, message_id, "status", take_id=take_id)

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
        before, say whether its sender may use the bot, and record `sender` if given."""
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            if not await uow.chats.mark_update_processed(update_id):
                return Admission(duplicate=True)
            verdict = Verdict.ADMIT
            if check_access:
                verdict = await self.access.verdict(AccountsRepo(session), user_id, chat_id)
            if verdict is not Verdict.ADMIT or sender is None:
                return Admission(duplicate=False, verdict=verdict)
            return Admission(False, verdict, await self._enter(uow, sender))

    async def note_album_photo(self, chat_id: int, media_group_id: str) -> None:
        async with self.db.session() as session:
            await UnitOfWork(session).chats.touch_media_group(chat_id, media_group_id)

    async def claim_album(
        self, actor: Actor, media_group_id: str, quiet_for: float
    ) -> list[Shot] | None:
        """The album's shots if it has been quiet for `quiet_for` s and nobody answered yet."""
        quiet_since = utcnow() - timedelta(seconds=quiet_for)
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            if not await uow.chats.claim_media_group_answer(
                actor.chat_id, media_group_id, quiet_since
            ):
                return None
            return await uow.projects.order_album(actor.chat_id, media_group_id)

    async def album_shots(self, actor: Actor, shot_id: int) -> list[Shot]:
        shot = await self._shot_for(actor, shot_id)
        if not shot.media_group_id:
            return [shot]
        async with self.db.session() as session:
            return await UnitOfWork(session).projects.shots_in_media_group(
                actor.chat_id, shot.media_group_id
            )

    async def project_of(self, shot: Shot) -> Project:
        async with self.db.session() as session:
            project = await UnitOfWork(session).projects.get_project(shot.project_id)
        if project is None:
            raise StudioError("project.not_found")
        return project

    async def language_of(self, user_id: int | None, chat_id: int) -> str:
        """The language to speak to `user_id` in `chat_id` (/lang choice, else Telegram's)."""
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            user = await uow.chats.get_user(user_id) if user_id is not None else None
            chat = await uow.chats.get_chat(chat_id)
        chosen = (chat.settings or {}).get("lang") if chat and chat.type != "private" else None
        return language_for(
            (user.lang if user else None) or chosen or (user.language_code if user else None)
        )

    async def revision_for_take(self, take: Take) -> PromptRevision | None:
        return await self._revision(take.revision_id)

    # --- internals ------------------------------------------------------------------------

    async def _first_draft(self, actor: Actor, shot: Shot, description: str) -> PromptRevision:
        request = await self._draft_request(shot, None, description=description)
        draft = await self.drafter.draft(request)
        return await self._store_draft(actor, shot, draft, parent=None, instruction=None)

    async def _draft_request(
        self, shot: Shot, revision: PromptRevision | None, description: str | None = None
    ) -> DraftRequest:
        photo_llm_jpeg = await asyncio.to_thread(_llm_copy, Path(shot.photo_path))
        params = revision.params if revision else {}
        return DraftRequest(
            description=description if description is not None else (shot.description or ""),
            facts=_facts_from_json(shot.facts),
            photo_llm_jpeg=photo_llm_jpeg,
            language=revision.language if revision else None,
            camera_move=params.get("camera_move"),
            duration=params.get("duration"),
        )

    async def _store_draft(
        self,
        actor: Actor,
        shot: Shot,
        draft: Draft,
        *,
        parent: PromptRevision | None,
        instruction: str | None,
    ) -> PromptRevision:
        async with self.db.session() as session:
            uow = UnitOfWork(session)
            stored = await uow.projects.get_shot(shot.id)
            assert stored is not None
            return await self._add_revision(
                uow, actor, stored, draft, parent=parent, instruction=instruction
            )

    async def _add_revision(
        self,
        uow: UnitOfWork,
        actor: Actor,
        shot: Shot,
        draft: Draft,
        *,
        parent: PromptRevision | None,
        instruction: str | None,
    ) -> PromptRevision:
        """The shot's new current revision, with the settings this chat chose last."""
        chat = await uow.chats.get_chat(actor.chat_id)
        defaults = (chat.settings if chat else None) or {}
        inherited = parent.params if parent else {}
        provider_name = inherited.get("provider") or defaults.get("provider")
        if provider_name not in self.providers:
            provider_name = self.default_provider
        params = {
            "provider": provider_name,
            "model": inherited.get("model") or self.providers[provider_name].model,
            "mode": inherited.get("mode") or defaults.get("mode") or self._default_mode(),
            "duration": int(draft.duration),
            "camera_move": draft.camera_move,
        }
        revision = await uow.projects.add_revision(
            shot,
            parent_id=parent.id if parent else None,
            prompt=draft.prompt,
            negative_prompt=draft.negative_prompt,
            summary=draft.summary,
            language=draft.language,
            params=params,
            instruction=instruction,
            drafter=draft.drafter,
            created_by=actor.user_id,
            tokens_in=draft.tokens_in,
            tokens_out=draft.tokens_out,
        )
        await uow.projects.touch_project(shot.project_id)
        return revision

    async def _view(
        self, session: AsyncSession, actor: Actor, revision: PromptRevision, shot: Shot
    ) -> DraftView:
        project = await UnitOfWork(session).projects.get_project(shot.project_id)
        assert project is not None
        group_id = actor.chat_id if actor.is_group else None
        allowance = await self.budget.allowance(
            AccountsRepo(session), actor.user_id, group_id, revision.params
        )
        return DraftView(revision, shot, project, allowance)

    def _default_mode(self) -> str:
        return self.settings.kling_mode

    async def _revision(self, revision_id: int) -> PromptRevision:
        async with self.db.session() as session:
            revision = await UnitOfWork(session).projects.get_revision(revision_id)
        if revision is None:
            raise StudioError("draft.not_found")
        return revision

    async def _shot_for(self, actor: Actor, shot_id: int) -> Shot:
        async with self.db.session() as session:
            return await self._check_access(UnitOfWork(session), actor, shot_id)

    async def _check_access(self, uow: UnitOfWork, actor: Actor, shot_id: int) -> Shot:
        """A button or reply from another chat never reaches someone else's shot."""
        shot = await uow.projects.get_shot(shot_id)
        if shot is None:
            raise StudioError("draft.not_found")
        project = await uow.projects.get_project(shot.project_id)
        if project is None or project.chat_id != actor.chat_id:
            raise StudioError("draft.not_found")
        return shot

    async def prepare_photo(self, photo: bytes) -> PreparedPhoto:
        """Intake without storing (an end frame): the same limits, inside the same cap."""
        async with self._intake_slots:
            return await asyncio.to_thread(
                prepare_photo,
                photo,
                max_side=self.settings.max_side_px,
                max_bytes=self.settings.max_upload_bytes,
            )

    def _intake(self, photo: bytes) -> tuple[PreparedPhoto, Path]:
        """The video-ready JPEG, stored: one trip to a worker thread."""
        prepared = prepare_photo(
            photo,
            max_side=self.settings.max_side_px,
            max_bytes=self.settings.max_upload_bytes,
            with_llm_jpeg=True,
        )
        return prepared, self._save_photo(prepared)

    def _save_photo(self, prepared: PreparedPhoto) -> Path:
        # One folder, like clips: the row knows which shot a file belongs to.
        path = self.photos_dir / f"{uuid.uuid4().hex}.jpg"
        if prepared.llm_jpeg is not None:  # first: a photo on disk always has its copy
            write_private(llm_copy_path(path), prepared.llm_jpeg)
        return write_private(path, prepared.jpeg)


def _llm_copy(photo_path: Path) -> bytes | None:
    """The shot's small copy for a vision LLM; made once, and kept, for a shot without one."""
    copy_path = llm_copy_path(photo_path)
    try:
        return copy_path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        jpeg = llm_jpeg_of(photo_path.read_bytes())
    except FileNotFoundError:
        return None
    if jpeg is not None:
        write_private(copy_path, jpeg)
    return jpeg


def take_params(params: dict[str, Any]) -> dict[str, Any]:
    """What a take is generated with. An end frame wins over a camera move and forces 5 s."""
    if tail := params.get("image_tail_path"):
        return {
            "mode": params.get("mode", "std"),
            "duration": 5,
            "camera_move": "static",
            "image_tail_path": tail,
        }
    return {
        "mode": params.get("mode", "std"),
        "duration": int(params.get("duration", 5)),
        "camera_move": params.get("camera_move", "static"),
    }


async def _no_status() -> str:
    """Without a way to ask Telegram, nobody counts as a group admin (operators still do)."""
    return "member"


def _untitled() -> str:
    return f"Untitled {utcnow():%Y-%m-%d}"


def _clean_text(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return text or None


def _as_draft(revision: PromptRevision) -> Draft:
    return Draft(
        prompt=revision.prompt,
        negative_prompt=revision.negative_prompt,
        camera_move=revision.params.get("camera_move", "static"),
        duration=int(revision.params.get("duration", 5)),
        summary=revision.summary,
        language=revision.language,
        drafter=revision.drafter,
    )


def _facts_to_json(facts: PhotoFacts) -> dict[str, Any]:
    return {
        "width": facts.width,
        "height": facts.height,
        "orientation": facts.orientation,
        "brightness": facts.brightness,
        "dominant_colours": list(facts.dominant_colours),
    }


def _facts_from_json(data: dict[str, Any] | None) -> PhotoFacts | None:
    if not data:
        return None
    return PhotoFacts(
        width=int(data["width"]),
        height=int(data["height"]),
        orientation=data["orientation"],
        brightness=float(data["brightness"]),
        dominant_colours=tuple(data.get("dominant_colours", ())),
    )


__all__ = [
    "Actor",
    "Admission",
    "DraftView",
    "IntakeError",
    "Origin",
    "ProjectView",
    "Sender",
    "ShotOutcome",
    "ShotView",
    "Studio",
    "StudioError",
    "TakeRequest",
]
