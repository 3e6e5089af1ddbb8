"""A project's film music and words: what /music, /subtitles and a sent song change.

A song a chat sends is checked (it must decode to at least half a second of sound) and
kept under the data directory's music folder by a random name; the project remembers
that name, or "calm" for the generated loop, or nothing for the clips' own sound only.
The film (bot/services/projects.py) reads the choice when it is made. In a group, these
are settings of the group's film, so they follow the same rule as other settings: in an
admins-only group, admins only.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.domain.errors import StudioError
from bot.domain.records import ProjectRecord
from bot.domain.types import Actor
from bot.files import make_private, private_dir
from bot.media.film import CALM
from bot.media.soundtrack import SoundtrackError, decode_audio
from bot.services.capacity import HeavyWork
from bot.services.permissions import FetchStatus, Permissions
from bot.services.projects import current_project, project_for
from storage.db import Database

AUDIO_SUFFIXES = frozenset({".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac"})
MAX_SONG_BYTES = 20 * 1024 * 1024  # what a bot may download from the cloud Bot API


@dataclass(frozen=True, slots=True)
class FilmSoundView:
    """What the chat is told: the project, its music and whether words are on."""

    title: str
    music: str | None  # "calm", "song" (one the chat sent) or None
    subtitles: bool


class Soundtracks:
    """The music and words of each project's film."""

    def __init__(
        self, db: Database, permissions: Permissions, heavy: HeavyWork, *, music_dir: Path
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.heavy = heavy
        self.music_dir = music_dir

    async def show(self, actor: Actor) -> FilmSoundView:
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            return self._view(project)

    async def use_song(
        self,
        actor: Actor,
        data: bytes,
        filename: str | None,
        *,
        fetch_status: FetchStatus | None = None,
    ) -> FilmSoundView:
        """A song the chat sent becomes the current project's music, if it plays."""
        await self.permissions.check_may_spend(actor, fetch_status)
        if len(data) > MAX_SONG_BYTES:
            raise StudioError("music.too_large", limit_mb=MAX_SONG_BYTES // (1024 * 1024))
        suffix = Path(filename or "").suffix.lower()
        name = f"{uuid.uuid4().hex}{suffix if suffix in AUDIO_SUFFIXES else '.audio'}"
        path = private_dir(self.music_dir) / name
        await asyncio.to_thread(_write_private, path, data)
        try:
            async with self.heavy.turn():  # decoding a long song takes a second or two
                await asyncio.to_thread(decode_audio, path, max_seconds=5.0)
        except SoundtrackError:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise StudioError("film.bad_music", name=filename or "that file") from None
        return await self._set(actor, name)

    async def use_calm(
        self,
        actor: Actor,
        *,
        fetch_status: FetchStatus | None = None,
        project_id: int | None = None,
    ) -> FilmSoundView:
        """The generated calm loop under the film (of `project_id`, else the current one)."""
        await self.permissions.check_may_spend(actor, fetch_status)
        return await self._set(actor, CALM, project_id)

    async def no_music(
        self,
        actor: Actor,
        *,
        fetch_status: FetchStatus | None = None,
        project_id: int | None = None,
    ) -> FilmSoundView:
        """Only the clips' own sound (of `project_id`, else the current project)."""
        await self.permissions.check_may_spend(actor, fetch_status)
        return await self._set(actor, None, project_id)

    async def set_subtitles(
        self, actor: Actor, on: bool, *, fetch_status: FetchStatus | None = None
    ) -> FilmSoundView:
        await self.permissions.check_may_spend(actor, fetch_status)
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            await uow.projects.set_film_sound(
                project.id, soundtrack=project.soundtrack, subtitles=on
            )
            return FilmSoundView(project.title, _label(project.soundtrack), on)

    async def _set(
        self, actor: Actor, soundtrack: str | None, project_id: int | None = None
    ) -> FilmSoundView:
        async with self.db.unit_of_work() as uow:
            project = await project_for(uow, self.permissions, actor, project_id)
            previous = project.soundtrack
            await uow.projects.set_film_sound(
                project.id, soundtrack=soundtrack, subtitles=project.subtitles
            )
            view = FilmSoundView(project.title, _label(soundtrack), project.subtitles)
        if previous not in (None, CALM, soundtrack):
            # The replaced song is nobody's music any more: the bot keeps no stray files.
            await asyncio.to_thread((self.music_dir / str(previous)).unlink, missing_ok=True)
        return view

    def _view(self, project: ProjectRecord) -> FilmSoundView:
        return FilmSoundView(project.title, _label(project.soundtrack), project.subtitles)


def _label(soundtrack: str | None) -> str | None:
    return soundtrack if soundtrack in (None, CALM) else "song"


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    make_private(path)
