"""Build the use cases from settings: the one place that wires the parts together.

bot.providers.registry picks the providers; this connects them to storage and the use cases.

With no keys at all everything runs on the offline defaults; setting a provider's keys
is all it takes to use it. Handlers and the CLI receive what this builds; bot.app adds
the chat front end and the job runner.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from bot.config import ConfigError, Settings
from bot.domain.health import SchemaState
from bot.domain.packs import parse_star_packs
from bot.domain.ports import (
    PromptDrafter,
    Speaker,
    StillMaker,
    TakeObserver,
    Transcriber,
    VideoProvider,
)
from bot.files import DataFolders, private_dir
from bot.media.fonts import use_cjk_font
from bot.providers.offline.restage import restage_draft
from bot.providers.registry import (
    build_audio,
    build_drafter,
    build_providers,
    build_still_maker,
)
from bot.runner import JobRunner, RunnerPolicy
from bot.services import Services
from bot.services.access import Access
from bot.services.accounts import Accounts
from bot.services.albums import Albums
from bot.services.budget import Budget, Quotas, parse_costs
from bot.services.cancelling import Cancelling
from bot.services.capacity import HeavyWork
from bot.services.chat_settings import ChatSettings
from bot.services.continuity import Continuity
from bot.services.doctor import Doctor, ProviderSettings
from bot.services.drafting import Drafting, PhotoIntake
from bot.services.generation import Generation, TakeMachine
from bot.services.groups import Groups
from bot.services.links import ShareLinks
from bot.services.narration import Narration
from bot.services.payments import Payments
from bot.services.permissions import Permissions
from bot.services.projects import Projects
from bot.services.soundtracks import Soundtracks
from bot.services.stills import Stills
from bot.services.voice import VoiceNotes
from storage.db import Database

log = logging.getLogger(__name__)


class AudioPort(Transcriber, Speaker, Protocol):
    """One endpoint that both hears voice notes and speaks narration, closed at shutdown."""

    async def aclose(self) -> None: ...


@dataclass
class Wiring:
    """What build_services made: the use cases, and the adapters the runner, the web server
    and shutdown need besides."""

    settings: Settings
    db: Database
    drafter: PromptDrafter
    providers: dict[str, VideoProvider]
    default_provider: str
    still_maker: StillMaker
    services: Services
    audio: AudioPort | None = None  # voice notes in and narration out (a key only)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        await self.still_maker.aclose()
        if self.audio is not None:
            await self.audio.aclose()
        close = getattr(self.drafter, "aclose", None)
        if close is not None:
            await close()
        await self.db.dispose()

    @property
    def folders(self) -> DataFolders:
        return DataFolders(self.settings.data_dir)

    @property
    def caps(self) -> dict[str, int]:
        """Concurrent upstream tasks allowed per provider account, shared by instances."""
        return {
            "kling": self.settings.kling_max_concurrent,
            "vidu": self.settings.vidu_max_concurrent,
            "seedance": self.settings.seedance_max_concurrent,
            "offline": self.settings.offline_max_concurrent,
        }


async def build_services(settings: Settings, *, migrate: bool = True) -> Wiring:
    """Open the database (migrating it), and wire the use cases to the configured providers."""
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
    log.info(
        "services ready: drafter=%s, video=%s (default %s), database=%s",
        drafter.name,
        ",".join(providers),
        default,
        db.engine.dialect.name,
    )
    still_maker = build_still_maker(settings)
    audio = build_audio(settings)
    services = build_use_cases(settings, db, drafter, providers, default, still_maker, audio)
    return Wiring(settings, db, drafter, providers, default, still_maker, services, audio)


def build_use_cases(
    settings: Settings,
    db: Database,
    drafter: PromptDrafter,
    providers: dict[str, VideoProvider],
    default_provider: str,
    still_maker: StillMaker | None = None,
    audio: AudioPort | None = None,
) -> Services:
    """Every use case, each given the parts it works with (the providers dict is shared)."""
    folders = DataFolders(settings.data_dir)
    permissions = Permissions(db, settings.admin_ids)
    quotas = Quotas(
        user_day=settings.quota_user_day,
        user_month=settings.quota_user_month,
        group_day=settings.quota_group_day,
        group_month=settings.quota_group_month,
    )
    budget = Budget(db, parse_costs(settings.costs), quotas, credits_first=settings.credits_first)
    access = Access(db, permissions, settings.allowed_ids)
    heavy = HeavyWork(settings.heavy_work_slots)
    intake = PhotoIntake(
        folders.photos, max_side=settings.max_side_px, max_bytes=settings.max_upload_bytes
    )
    drafting = Drafting(
        db,
        drafter,
        providers,
        permissions,
        budget,
        intake,
        default_provider=default_provider,
        default_mode=settings.kling_mode,
        restage=restage_draft,
    )
    narration = Narration(db, permissions, audio, folder=folders.films)
    generation = Generation(
        db,
        providers,
        permissions,
        budget,
        default_provider=default_provider,
        deadline_s=settings.kling_deadline_s,
    )
    accounts = Accounts(db, access, budget, providers, heavy, folders)
    projects = Projects(
        db,
        permissions,
        drafting,
        heavy,
        films_dir=folders.films,
        upload_limit_bytes=settings.upload_limit_bytes,
        music_dir=folders.music,
        narration=narration,
        end_card=settings.end_card,
    )
    return Services(
        accounts=accounts,
        permissions=permissions,
        drafting=drafting,
        generation=generation,
        projects=projects,
        soundtracks=Soundtracks(db, permissions, heavy, music_dir=folders.music),
        narration=narration,
        voice=VoiceNotes(audio),
        continuity=Continuity(db, permissions, photos_dir=folders.photos),
        groups=Groups(db, permissions),
        stills=Stills(
            db,
            still_maker or build_still_maker(settings),
            drafting=drafting,
            permissions=permissions,
            budget=budget,
            intake=intake,
            folder=folders.stills,
        ),
        payments=Payments(
            db,
            access,
            parse_star_packs(settings.star_packs),
            payload_key(settings),
            support_contact=settings.paysupport_contact,
        ),
        links=ShareLinks(db, permissions, valid_for=timedelta(days=settings.share_link_days)),
        cancelling=Cancelling(db, generation, drafting),
        albums=Albums(db, permissions, generation, budget),
        chat_settings=ChatSettings(
            db,
            permissions,
            accounts,
            providers,
            default_provider=default_provider,
            default_mode=settings.kling_mode,
            projects=projects,
        ),
    )


def payload_key(settings: Settings) -> bytes:
    """The key invoice payloads are signed with: derived from the bot's token, so every
    instance agrees without a stored secret (a new token voids unpaid invoices only)."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    return hashlib.sha256(b"claymate star invoices\0" + token.encode()).digest()


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


@asynccontextmanager
async def build_doctor(settings: Settings, db: Database | None = None) -> AsyncIterator[Doctor]:
    """`claymate doctor` and /doctor: every check, wired to the real adapters.

    The bot hands over its own database; the command line opens one and closes it after.
    Providers are built afresh and closed when the report is done.
    """
    from bot.media.fonts import find_cjk_font
    from bot.providers.registry import build_checkable
    from bot.providers.telegram import bot_status
    from bot.services import doctor as dr
    from storage.urls import database_location

    failure: OSError | None = None
    own_db = db is None
    url = settings.resolved_database_url
    try:
        # Opening a SQLite file creates it; where that is impossible the check says so.
        database = db or Database.from_url(url)
    except OSError as error:
        database, failure = None, error
    checkable = build_checkable(settings)
    token, api_url = settings.telegram_bot_token, settings.telegram_api_url
    telegram = (lambda: bot_status(token.get_secret_value(), api_url)) if token else None

    def font() -> Path | None:
        found = find_cjk_font(settings.cjk_font)
        return found.path if found else None

    checks = [
        dr.telegram_check(telegram, webhook_url=settings.webhook_url, api_url=api_url),
        dr.database_check(_schema_probe(database, failure), where=database_location(url)),
    ]
    for name, provider in checkable.items():
        names = _PROVIDER_SETTINGS[name]
        if provider is None:
            audio = name in ("transcribe", "speech")
            off = f"doctor.{name}.off" if audio else "doctor.provider.offline"
            checks.append(dr.offline_check(names.label, off))
        elif isinstance(provider, ConfigError):
            checks.append(dr.config_check(names.label, str(provider)))
        else:
            checks.append(dr.provider_check(provider, names))
    checks += [
        dr.font_check(font),
        dr.media_check(dr.pyav_versions),
        dr.disk_check(settings.data_dir, settings.min_free_disk_mb),
    ]
    try:
        yield dr.Doctor(checks)
    finally:
        for provider in checkable.values():
            close = (
                None if isinstance(provider, ConfigError) else getattr(provider, "aclose", None)
            )
            if close is not None:
                await close()
        if own_db and database is not None:
            await database.dispose()


def _schema_probe(
    database: Database | None, failure: OSError | None
) -> Callable[[], Awaitable[SchemaState]]:
    """Where the database's migrations stand, or the error that kept it from opening."""
    from storage.health import schema_state

    async def probe() -> SchemaState:
        if database is None:
            assert failure is not None
            raise failure
        return await schema_state(database)

    return probe


_PROVIDER_SETTINGS = {
    "kling": ProviderSettings(
        "doctor.name.kling",
        "KLING_API_KEY (or KLING_ACCESS_KEY/KLING_SECRET_KEY)",
        "KLING_API_URL",
        "KLING_MODEL",
    ),
    "vidu": ProviderSettings("doctor.name.vidu", "VIDU_API_KEY", "VIDU_API_URL", "VIDU_MODEL"),
    "seedance": ProviderSettings(
        "doctor.name.seedance", "SEEDANCE_API_KEY", "SEEDANCE_API_URL", "SEEDANCE_MODEL"
    ),
    "llm": ProviderSettings(
        "doctor.name.llm", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CLAYMATE_LLM_MODEL"
    ),
    "transcribe": ProviderSettings(
        "doctor.name.transcribe", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CLAYMATE_TRANSCRIBE_MODEL"
    ),
    "speech": ProviderSettings(
        "doctor.name.speech", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CLAYMATE_TTS_MODEL"
    ),
}
