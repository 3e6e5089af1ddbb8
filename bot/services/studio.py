"""The old entry to every use case, while call sites move to the services one by one.

Builds the use cases from settings and forwards each old method to its new home.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.config import Settings
from bot.domain.errors import StudioError
from bot.domain.ports import PromptDrafter, VideoProvider
from bot.domain.records import RevisionRecord, ShotRecord, TakeRecord
from bot.domain.types import (
    Actor,
    Admission,
    DraftView,
    Origin,
    ProjectSummary,
    ProjectView,
    Recaption,
    Sender,
    ShotOutcome,
    StillChoice,
    TakeRequest,
)
from bot.files import DataFolders
from bot.media.intake import IntakeError, PreparedPhoto
from bot.services.access import Access
from bot.services.accounts import Accounts
from bot.services.budget import Budget, Quotas, parse_costs
from bot.services.capacity import HeavyWork
from bot.services.drafting import Drafting, PhotoIntake
from bot.services.generation import Generation, take_params
from bot.services.groups import Groups
from bot.services.permissions import FetchStatus, Permissions
from bot.services.projects import Projects
from storage.db import Database
from storage.models import BotMessage, Project, PromptRevision, Shot, Take


class Studio:
    """Every use case behind one object; built once from settings and providers."""

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
        folders = DataFolders(settings.data_dir)
        self.photos_dir = folders.photos
        self.clips_dir = folders.clips
        self.permissions = Permissions(db, settings.admin_ids)
        self.budget = Budget(
            db,
            parse_costs(settings.costs),
            Quotas(
                user_day=settings.quota_user_day,
                user_month=settings.quota_user_month,
                group_day=settings.quota_group_day,
                group_month=settings.quota_group_month,
            ),
        )
        self.access = Access(db, self.permissions, settings.allowed_ids)
        self.heavy = HeavyWork(settings.heavy_work_slots)
        self.intake = PhotoIntake(
            folders.photos, max_side=settings.max_side_px, max_bytes=settings.max_upload_bytes
        )
        self.drafting = Drafting(
            db,
            drafter,
            providers,
            self.permissions,
            self.budget,
            self.intake,
            default_provider=default_provider,
            default_mode=settings.kling_mode,
        )
        self.generation = Generation(
            db,
            providers,
            self.permissions,
            self.budget,
            default_provider=default_provider,
            deadline_s=settings.kling_deadline_s,
        )
        self.projects = Projects(
            db,
            self.permissions,
            self.drafting,
            self.heavy,
            films_dir=folders.films,
            upload_limit_bytes=settings.upload_limit_bytes,
        )
        self.accounts = Accounts(db, self.access, self.budget, providers, self.heavy, folders)
        self.groups = Groups(db, self.permissions)

    @contextlib.asynccontextmanager
    async def heavy_work(self) -> AsyncIterator[None]:
        async with self.heavy.turn():
            yield

    async def enter(self, sender: Sender) -> Actor:
        return await self.accounts.enter(sender)

    async def set_language(self, actor: Actor, lang: str) -> Actor:
        return await self.accounts.set_language(actor, lang)

    async def language_of(self, user_id: int | None, chat_id: int) -> str:
        return await self.accounts.language_of(user_id, chat_id)

    async def admit_update(
        self,
        update_id: int,
        user_id: int | None,
        chat_id: int | None,
        *,
        check_access: bool,
        sender: Sender | None = None,
    ) -> Admission:
        return await self.accounts.admit_update(
            update_id, user_id, chat_id, check_access=check_access, sender=sender
        )

    async def new_project(self, actor: Actor, title: str | None) -> Project:
        return await self.projects.new_project(actor, title)

    async def current_project(self, actor: Actor) -> Project:
        return await self.projects.current_project(actor)

    async def list_projects(self, actor: Actor) -> list[ProjectSummary]:
        return await self.projects.list_projects(actor)

    async def open_project(self, actor: Actor, project_id: int) -> ProjectView:
        return await self.projects.open_project(actor, project_id)

    async def project_of(self, shot: ShotRecord) -> Project:
        return await self.projects.project_of(shot)

    async def add_photo(
        self,
        actor: Actor,
        photo: bytes,
        description: str | None,
        origin: Origin = Origin(),
        *,
        draft: bool = True,
    ) -> ShotOutcome:
        return await self.drafting.add_photo(actor, photo, description, origin, draft=draft)

    async def draft_view(self, actor: Actor, revision: RevisionRecord) -> DraftView:
        return await self.drafting.draft_view(actor, revision)

    async def describe(
        self, actor: Actor, shot_id: int, description: str | None
    ) -> PromptRevision:
        return await self.drafting.describe(actor, shot_id, description)

    async def recaption(
        self, actor: Actor, chat_id: int, message_id: int, caption: str | None
    ) -> Recaption | None:
        return await self.drafting.recaption(actor, chat_id, message_id, caption)

    async def redraft(self, actor: Actor, shot_id: int) -> PromptRevision:
        return await self.drafting.redraft(actor, shot_id)

    async def refine(self, actor: Actor, revision_id: int, instruction: str) -> PromptRevision:
        return await self.drafting.refine(actor, revision_id, instruction)

    async def undo(self, actor: Actor, shot_id: int) -> PromptRevision | None:
        return await self.drafting.undo(actor, shot_id)

    async def change_setting(
        self,
        actor: Actor,
        revision_id: int,
        key: str,
        value: Any,
        *,
        fetch_status: FetchStatus | None = None,
    ) -> PromptRevision:
        return await self.drafting.change_setting(
            actor, revision_id, key, value, fetch_status=fetch_status
        )

    async def cancel_shot(
        self, actor: Actor, shot_id: int, *, fetch_status: FetchStatus | None = None
    ) -> None:
        await self.drafting.cancel_shot(actor, shot_id, fetch_status=fetch_status)

    async def shot_by_id(self, actor: Actor, shot_id: int) -> Shot:
        return await self.drafting.shot_by_id(actor, shot_id)

    async def revision_by_id(self, actor: Actor, revision_id: int) -> PromptRevision:
        return await self.drafting.revision_by_id(actor, revision_id)

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
        return await self.generation.request_take(
            actor,
            revision_id,
            request_key=request_key,
            chat_id=chat_id,
            thread_id=thread_id,
            reply_to_message_id=reply_to_message_id,
            status_message_pending=status_message_pending,
            still=still,
        )

    async def cancel_take(
        self, actor: Actor, take_id: int, *, fetch_status: FetchStatus | None = None
    ) -> bool:
        return await self.generation.cancel_take(actor, take_id, fetch_status=fetch_status)

    async def check_may_spend(self, actor: Actor, fetch_status: FetchStatus | None) -> None:
        await self.permissions.check_may_spend(actor, fetch_status)

    async def keep_take(self, actor: Actor, take_id: int) -> Take:
        return await self.generation.keep_take(actor, take_id)

    async def take_by_id(self, actor: Actor, take_id: int) -> Take:
        return await self.generation.take_by_id(actor, take_id)

    async def remember_message(
        self, chat_id: int, message_id: int, kind: str, **refs: Any
    ) -> None:
        await self.drafting.remember_message(chat_id, message_id, kind, **refs)

    async def message_ref(self, chat_id: int, message_id: int) -> BotMessage | None:
        return await self.drafting.message_ref(chat_id, message_id)

    async def attach_status_message(self, take_id: int, chat_id: int, message_id: int) -> None:
        await self.generation.attach_status_message(take_id, chat_id, message_id)

    async def note_album_photo(self, chat_id: int, media_group_id: str) -> None:
        await self.drafting.note_album_photo(chat_id, media_group_id)

    async def claim_album(
        self, actor: Actor, media_group_id: str, quiet_for: float
    ) -> list[Shot] | None:
        return await self.drafting.claim_album(actor, media_group_id, quiet_for)

    async def album_shots(self, actor: Actor, shot_id: int) -> list[Shot]:
        return await self.drafting.album_shots(actor, shot_id)

    async def revision_for_take(self, take: TakeRecord) -> PromptRevision:
        return await self.generation.revision_for_take(take)

    async def prepare_photo(self, photo: bytes) -> PreparedPhoto:
        return await self.intake.prepare(photo)


__all__ = [
    "Actor",
    "Admission",
    "DraftView",
    "IntakeError",
    "Origin",
    "ProjectView",
    "Sender",
    "ShotOutcome",
    "StillChoice",
    "Studio",
    "StudioError",
    "TakeRequest",
    "take_params",
]
