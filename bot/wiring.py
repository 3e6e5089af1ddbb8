"""Build the domain services from settings, with the providers bot.providers.registry picks.

Handlers and the CLI receive what this builds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.domain.ports import PromptDrafter, VideoProvider
from bot.files import private_dir
from bot.media.fonts import use_cjk_font
from bot.providers.registry import build_drafter, build_providers, build_still_maker
from bot.services.stills import Stills
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
    def caps(self) -> dict[str, int]:
        """Concurrent upstream tasks allowed per provider account, shared by instances."""
        return {
            "kling": self.settings.kling_max_concurrent,
            "vidu": self.settings.vidu_max_concurrent,
            "offline": self.settings.offline_max_concurrent,
        }


async def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Open the database (migrating it), and wire the studio to the configured providers."""
    private_dir(settings.data_dir)
    use_cjk_font(settings.cjk_font)
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
