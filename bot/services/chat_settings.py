"""/settings: a chat's defaults for its next drafts and its current project's switches.

The same choices ⚙️ offers on a draft, kept where the drafts already read them: the
language (the user's, and a group's), the quality mode and the video engine of new drafts
(chat settings), still first (chat) and native sound (the project). A draft's duration and
camera move come from its words, so they stay on the draft's own ⚙️. In a group the
Generate rule decides who may change what costs money, as on a draft.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.errors import StudioError
from bot.domain.ports import VideoProvider
from bot.domain.types import MODES, Actor
from bot.i18n import LANGUAGES
from bot.services.accounts import Accounts
from bot.services.drafting import SOUND, STILL_FIRST
from bot.services.permissions import FetchStatus, Permissions
from bot.services.projects import Projects, current_project
from storage.db import Database

SWITCHES = (STILL_FIRST, SOUND)


@dataclass(frozen=True, slots=True)
class SettingsView:
    """What /settings shows: the current choices and what there is to choose from."""

    project_id: int
    project_title: str
    lang: str
    mode: str
    provider: str
    providers: tuple[str, ...]
    still_first: bool
    sound: bool
    aspect: str | None  # the project's shape; None: each photo keeps its own


class ChatSettings:
    """Read and change the chat's defaults and the current project's switches."""

    def __init__(
        self,
        db: Database,
        permissions: Permissions,
        accounts: Accounts,
        providers: Mapping[str, VideoProvider],
        *,
        default_provider: str,
        default_mode: str,
        projects: Projects | None = None,
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.accounts = accounts
        self.projects = projects  # the shape is the project's, set by its one use case
        self.providers = providers
        self.default_provider = default_provider
        self.default_mode = default_mode

    async def view(self, actor: Actor) -> SettingsView:
        """The choices as they stand, for the chat's current project."""
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            chat = await uow.chats.get_chat(actor.chat_id)
            chosen = (chat.settings if chat else None) or {}
            still_first = chosen.get(STILL_FIRST)
            provider = str(chosen.get("provider") or "")
            return SettingsView(
                project_id=project.id,
                project_title=project.title,
                lang=actor.lang,
                mode=str(chosen.get("mode") or self.default_mode),
                provider=provider if provider in self.providers else self.default_provider,
                providers=tuple(self.providers),
                # A group shares one budget, so by default it sees the free still first.
                still_first=still_first if isinstance(still_first, bool) else actor.is_group,
                sound=project.sound,
                aspect=project.aspect,
            )

    async def change(
        self,
        actor: Actor,
        project_id: int,
        key: str,
        value: str,
        fetch_status: FetchStatus | None = None,
    ) -> tuple[Actor, SettingsView]:
        """One choice pressed: the actor (in its new language, if that changed) and the view."""
        if key == "lang":
            if value not in LANGUAGES:
                raise StudioError("settings.invalid")
            actor = await self.accounts.set_language(actor, value)
            return actor, await self.view(actor)
        if key == "aspect" and self.projects is not None:
            await self.projects.set_aspect(
                actor, value, project_id=project_id, fetch_status=fetch_status
            )
            return actor, await self.view(actor)
        valid = {"mode": MODES, "provider": tuple(self.providers), **dict.fromkeys(SWITCHES)}
        if key not in valid or (key in SWITCHES and value not in ("0", "1")):
            raise StudioError("settings.invalid")
        if key not in SWITCHES and value not in (valid[key] or ()):
            raise StudioError("settings.invalid")
        async with self.db.unit_of_work() as uow:
            project = await self.permissions.project(uow, actor, project_id)
        # They set what a take costs: in an admins-only group, admins only.
        await self.permissions.check_may_spend(actor, fetch_status)
        async with self.db.unit_of_work() as uow:
            if key == SOUND:
                stored = await uow.projects.get_project(project.id)
                if stored is None:
                    raise StudioError("project.not_found")
                stored.sound = value == "1"
            else:
                setting: object = value == "1" if key == STILL_FIRST else value
                await uow.chats.set_chat_setting(actor.chat_id, key, setting)
        return actor, await self.view(actor)
