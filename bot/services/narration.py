"""A film's narration: each shot's line spoken over it, when the project asks for it.

The line is the one the film's subtitles show (the shot's description, which the user
edits by editing the photo's caption), read by a speech endpoint in the chat's language.
Narration needs a key: offline there is no voice, so turning it on says so instead of
pretending. Spoken files live only while their film is made: the text is the user's.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.domain.errors import ProviderError, StudioError
from bot.domain.ports import Speaker
from bot.domain.types import Actor
from bot.files import private_dir, write_private
from bot.services.permissions import FetchStatus, Permissions
from bot.services.projects import current_project
from storage.db import Database

log = logging.getLogger(__name__)

MAX_LINE_CHARS = 4096  # what the speech endpoint takes in one call


@dataclass(frozen=True, slots=True)
class NarrationView:
    """What the chat is told: the project, whether it is narrated, whether it can be."""

    title: str
    on: bool
    available: bool


class Narration:
    """Whether each project's film is narrated, and the spoken lines when it is."""

    def __init__(
        self, db: Database, permissions: Permissions, speaker: Speaker | None, *, folder: Path
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.speaker = speaker
        self.folder = folder

    @property
    def available(self) -> bool:
        return self.speaker is not None

    @property
    def narrator(self) -> str:
        """Who speaks (the speech model and voice): a film cached with one voice is not
        the film another voice would make."""
        return getattr(self.speaker, "narrator", "") if self.speaker is not None else ""

    async def show(self, actor: Actor) -> NarrationView:
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            return NarrationView(project.title, project.narration, self.available)

    async def set(
        self, actor: Actor, on: bool, *, fetch_status: FetchStatus | None = None
    ) -> NarrationView:
        """/narration on|off; on needs a speech endpoint, and it spends, so the group's rule."""
        await self.permissions.check_may_spend(actor, fetch_status)
        if on and not self.available:
            raise StudioError("narration.needs_key")
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            await uow.projects.set_narration(project.id, on)
            return NarrationView(project.title, on, self.available)

    async def speak(self, lines: list[str | None], language: str) -> list[Path | None]:
        """Each line spoken to a private file (None where there is no line, or it failed).

        A line the endpoint refuses leaves that shot silent rather than the film unmade;
        the caller removes the files once the film is made (`discard`).
        """
        if self.speaker is None:
            raise StudioError("narration.needs_key")
        spoken: list[Path | None] = []
        for line in lines:
            text = " ".join((line or "").split())[:MAX_LINE_CHARS]
            if not text:
                spoken.append(None)
                continue
            try:
                audio = await self.speaker.speak(text, language)
            except ProviderError as error:
                log.warning("narration line not spoken: %s", error)
                spoken.append(None)
                continue
            path = private_dir(self.folder) / f"narration-{uuid.uuid4().hex}.mp3"
            await asyncio.to_thread(write_private, path, audio)
            spoken.append(path)
        return spoken

    @staticmethod
    async def discard(paths: list[Path | None]) -> None:
        """Remove spoken files once their film is made."""
        for path in paths:
            if path is not None:
                await asyncio.to_thread(path.unlink, missing_ok=True)
