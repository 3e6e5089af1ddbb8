"""Build the domain services from settings: the one place that picks providers.

With no keys at all everything runs on the offline defaults; setting a provider's keys
is all it takes to use it. Handlers and the CLI receive what this builds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.domain.ports import PromptDrafter, TakeObserver, VideoProvider
from bot.files import DataFolders, private_dir
from bot.providers.offline import OfflineVideoProvider
from bot.providers.offline_drafter import OfflineDrafter
from bot.runner import JobRunner, RunnerPolicy
from bot.services.accounts import Accounts
from bot.services.drafting import Drafting
from bot.services.generation import Generation, TakeMachine
from bot.services.groups import Groups
from bot.services.permissions import Permissions
from bot.services.projects import Projects
from bot.services.stills import Stills, build_still_maker
from bot.services.studio import Studio
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    studio: Studio
    drafter: PromptDrafter
    providers: dict[str, VideoProvider]
    default_provider: str
    stills: Stills | None = None  # 🎨 clay stills

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        if self.stills is not None:
            await self.stills.maker.aclose()
        close = getattr(self.drafter, "aclose", None)
        if close is not None:
            await close()
        await self.db.dispose()

    @property
    def accounts(self) -> Accounts:
        return self.studio.accounts

    @property
    def permissions(self) -> Permissions:
        return self.studio.permissions

    @property
    def drafting(self) -> Drafting:
        return self.studio.drafting

    @property
    def generation(self) -> Generation:
        return self.studio.generation

    @property
    def projects(self) -> Projects:
        return self.studio.projects

    @property
    def groups(self) -> Groups:
        return self.studio.groups

    @property
    def folders(self) -> DataFolders:
        return DataFolders(self.settings.data_dir)

    @property
    def caps(self) -> dict[str, int]:
        """Concurrent upstream tasks allowed per provider account, shared by instances."""
        return {
            "kling": self.settings.kling_max_concurrent,
            "vidu": self.settings.vidu_max_concurrent,
            "offline": self.settings.offline_max_concurrent,
        }


def build_drafter(settings: Settings) -> PromptDrafter:
    offline = OfflineDrafter()
    if not settings.llm_enabled:
        return offline
    from bot.providers.llm import LLMDrafter

    return LLMDrafter.from_settings(settings, fallback=offline)


def build_providers(settings: Settings) -> tuple[dict[str, VideoProvider], str]:
    providers: dict[str, VideoProvider] = {
        "offline": OfflineVideoProvider(fps=settings.preview_fps, height=settings.preview_height)
    }
    default = "offline"
    if settings.kling_enabled:
        from bot.providers.kling import KlingVideoProvider

        providers["kling"] = KlingVideoProvider.from_settings(settings)
        default = "kling"
    if settings.vidu_enabled:
        from bot.providers.vidu import ViduVideoProvider

        providers["vidu"] = ViduVideoProvider.from_settings(settings)
        default = "kling" if "kling" in providers else "vidu"
    if settings.video_provider:
        # CLAYMATE_VIDEO_PROVIDER picks among the configured ones; users can still switch.
        if settings.video_provider not in providers:
            raise ConfigError(
                f"CLAYMATE_VIDEO_PROVIDER: {settings.video_provider!r} is not configured "
                f"(configured: {', '.join(providers)})"
            )
        default = settings.video_provider
    return providers, default


async def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Open the database (migrating it), and wire the studio to the configured providers."""
    private_dir(settings.data_dir)
    db = Database.from_url(settings.resolved_database_url)
    if migrate:
        from bot.startup import prepare_database

        try:
            await prepare_database(db, settings)
        except BaseException:
            await db.dispose()
            raise
    drafter = build_drafter(settings)
    providers, default = build_providers(settings)
    studio = Studio(settings, db, drafter, providers, default)
    log.info(
        "services ready: drafter=%s, video=%s (default %s), database=%s",
        drafter.name,
        ",".join(providers),
        default,
        db.engine.dialect.name,
    )
    stills = Stills(studio, build_still_maker(settings))
    return Services(settings, db, studio, drafter, providers, default, stills=stills)


def build_runner(
    db: Database,
    providers: Mapping[str, VideoProvider],
    observer: TakeObserver,
    *,
    clips_dir: Path,
    caps: Mapping[str, int] | None = None,
    policy: RunnerPolicy | None = None,
    callback_urls: Mapping[str, str] | None = None,
    owner: str | None = None,
) -> JobRunner:
    """A job runner and the take machine it drives, both on one policy."""
    policy = policy or RunnerPolicy()
    machine = TakeMachine(
        db,
        providers,
        observer,
        clips_dir=clips_dir,
        caps=caps,
        policy=policy,
        callback_urls=callback_urls,
    )
    return JobRunner(machine, db, policy=policy, owner=owner)
