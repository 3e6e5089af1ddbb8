"""Projects and the story as a whole: open and list them, the board, reordering, the film.

The creator of the film that inspired Claymate ordered his shots "from large to small, with
small details of life between"; the board is where a user does the same. A shot's clip in
the film is its ⭐ kept take, or its latest delivered take where none is kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.domain.aspect import ASPECTS, AspectView, shot_aspect
from bot.domain.errors import StudioError
from bot.domain.records import ProjectRecord, ShotRecord
from bot.domain.states import TakeState
from bot.domain.types import (
    Actor,
    Board,
    BoardShot,
    ProjectSummary,
    ProjectView,
    ShotView,
)
from bot.files import make_private, private_dir
from bot.i18n import t
from bot.media.film import CALM, FilmError, FilmResult, FilmTooLarge, Words, assemble_film
from bot.media.soundtrack import SoundtrackError
from bot.media.storyboard import first_words
from bot.services.capacity import HeavyWork
from bot.services.film_cache import FilmCut, FilmOrder, SentFilm, film_key
from bot.services.permissions import FetchStatus, Permissions
from storage.db import Database
from storage.models import Project, utcnow
from storage.uow import UnitOfWork

if TYPE_CHECKING:  # drafting finds the current project here: a type only, no import cycle
    from bot.services.drafting import Drafting
    from bot.services.narration import Narration

MAX_TITLE_CHARS = 120
PROMPT_WORDS = 8  # of a shot's prompt, on a tile whose draft has no caption line
FILM_CROSSFADE_S = 0.3


async def current_project(uow: UnitOfWork, actor: Actor) -> Project:
    """The project new photos go to; the first one opens as "Untitled <date>"."""
    return (await current_projects(uow, [actor]))[actor.chat_id]


async def current_projects(uow: UnitOfWork, actors: Sequence[Actor]) -> dict[int, Project]:
    """`current_project` for the chats of photos written together, in one read (and one
    write for the projects it opens); a chat's project is opened by its first actor."""
    current = await uow.projects.current_projects({actor.chat_id for actor in actors})
    projects = {chat_id: p for chat_id, p in current.items() if p is not None}
    openers: dict[int, Actor] = {}
    for actor in actors:
        if actor.chat_id not in projects:
            openers.setdefault(actor.chat_id, actor)
    if openers:
        opened = await uow.projects.create_projects(
            [(chat_id, untitled(), actor.user_id) for chat_id, actor in openers.items()]
        )
        projects.update((project.chat_id, project) for project in opened)
    return projects


async def project_for(
    uow: UnitOfWork, permissions: Permissions, actor: Actor, project_id: int | None
) -> Project:
    """The chat's current project, or `project_id`'s if it is this chat's (a card's
    button, the Mini App): every use case that takes either chooses it here."""
    if project_id is None:
        return await current_project(uow, actor)
    return await permissions.project(uow, actor, project_id)


async def project_view(uow: UnitOfWork, project: Project) -> ProjectView:
    """A project's shots in order with their delivered clips; the caller checked access."""
    views = []
    for shot in await uow.shots.project_shots(project.id):
        takes = [t for t in await uow.takes.shot_takes(shot.id) if t.status == TakeState.DELIVERED]
        kept = next((t for t in takes if t.id == shot.kept_take_id), None)
        revision = (
            await uow.shots.get_revision(shot.current_revision_id)
            if shot.current_revision_id
            else None
        )
        views.append(ShotView(shot, revision, kept, list(takes)))
    return ProjectView(project, views)


def action_summary(summary: str, description: str, prompt: str) -> str:
    """What a shot's tile says happens: its draft's caption line, without the settings.

    A caption line may end in its settings ("… · clay, pan right, 5s"); the tile has room
    for the action only. With no caption line, the description, else the prompt's start.
    """
    action = summary.split(" · ", 1)[0].strip()
    if action:
        return action
    if description.strip():
        return description.strip()
    return first_words(prompt, PROMPT_WORDS)


def untitled() -> str:
    """The name of a project nobody named; such a project's film has no title card."""
    return f"Untitled {utcnow():%Y-%m-%d}"


class Projects:
    """A chat's projects, and the board and film of the current one."""

    def __init__(
        self,
        db: Database,
        permissions: Permissions,
        drafting: Drafting,
        heavy: HeavyWork,
        *,
        films_dir: Path,
        upload_limit_bytes: int,
        music_dir: Path | None = None,
        narration: Narration | None = None,
        end_card: bool = False,
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.drafting = drafting  # /drop removes a shot by the same rule as ✖
        self.heavy = heavy
        self.films_dir = films_dir
        self.upload_limit_bytes = upload_limit_bytes
        self.music_dir = music_dir or films_dir.parent / "music"
        self.narration = narration  # each shot's line spoken, where a project asks for it
        self.end_card = end_card  # a "made with Claymate" card closing every film

    # --- projects -----------------------------------------------------------------------

    async def new_project(self, actor: Actor, title: str | None) -> Project:
        """/new [title]: a project that new photos go to from now on."""
        title = (title or "").strip()[:MAX_TITLE_CHARS] or untitled()
        async with self.db.unit_of_work() as uow:
            return await uow.projects.create_project(actor.chat_id, title, actor.user_id)

    async def current_project(self, actor: Actor) -> Project:
        """The project new photos go to; the first one opens as "Untitled <date>"."""
        async with self.db.unit_of_work() as uow:
            return await current_project(uow, actor)

    async def list_projects(self, actor: Actor) -> list[ProjectSummary]:
        """/projects: this chat's projects, newest first."""
        async with self.db.unit_of_work() as uow:
            return await uow.projects.list_projects(actor.chat_id)

    async def open_project(self, actor: Actor, project_id: int) -> ProjectView:
        """A project's shots in order with their kept (or latest delivered) clips."""
        async with self.db.unit_of_work() as uow:
            project = await self.permissions.project(uow, actor, project_id)
            await uow.projects.set_current_project(actor.chat_id, project.id)
            return await project_view(uow, project)

    async def open_by_name(self, actor: Actor, name: str) -> Project:
        """`claymate make --project NAME`: that project becomes current, made if new."""
        async with self.db.unit_of_work() as uow:
            project = await uow.projects.find_project(actor.chat_id, name)
            if project is not None:
                await uow.projects.set_current_project(actor.chat_id, project.id)
                return project
        return await self.new_project(actor, name)

    async def find_project(self, chat_id: int, ref: str) -> Project | None:
        """A project by id, or by title within `chat_id` (the command line's lookup)."""
        async with self.db.unit_of_work() as uow:
            if ref.isdigit() and (project := await uow.projects.get_project(int(ref))) is not None:
                return project
            return await uow.projects.find_project(chat_id, ref)

    async def project_of(self, shot: ShotRecord) -> Project:
        """The project a shot is in (an album's answer names it)."""
        async with self.db.unit_of_work() as uow:
            project = await uow.projects.get_project(shot.project_id)
        if project is None:
            raise StudioError("project.not_found")
        return project

    # --- the shape ----------------------------------------------------------------------

    async def aspect(self, actor: Actor, project_id: int | None = None) -> AspectView:
        """The current project's shape (or `project_id`'s, if it is this chat's)."""
        async with self.db.unit_of_work() as uow:
            project = await project_for(uow, self.permissions, actor, project_id)
            return AspectView(project.id, project.title, project.aspect)

    async def set_aspect(
        self,
        actor: Actor,
        aspect: str,
        *,
        project_id: int | None = None,
        fetch_status: FetchStatus | None = None,
    ) -> AspectView:
        """The shape new photos of the project are cut to. Shots already in it keep theirs
        (their photo was cut when it came in, and takes of them were paid for in it); the
        view counts them, so the chat can say so, and the film gives them bars."""
        if aspect not in ASPECTS:
            raise StudioError("aspect.usage")
        # A setting of the project, like its sound: in an admins-only group, admins only.
        await self.permissions.check_may_spend(actor, fetch_status)
        async with self.db.unit_of_work() as uow:
            project = await project_for(uow, self.permissions, actor, project_id)
            project.aspect = aspect
            shots = await uow.shots.project_shots(project.id)
            others = sum(1 for shot in shots if shot_aspect(shot.facts) != aspect)
            return AspectView(project.id, project.title, aspect, others)

    async def shape_first_shot(self, actor: Actor, aspect: str) -> AspectView:
        """`claymate make --aspect`: the current project takes the shape with its first
        shot; one whose shots already have another shape is refused, never mixed."""
        async with self.db.unit_of_work() as uow:
            project = await current_project(uow, actor)
            if project.aspect != aspect and await uow.shots.project_shots(project.id):
                raise StudioError(
                    "aspect.has_shots",
                    title=project.title,
                    aspect=project.aspect or "-",
                    wanted=aspect,
                )
        return await self.set_aspect(actor, aspect, project_id=project.id)

    # --- the board ----------------------------------------------------------------------

    async def board(self, actor: Actor, project_id: int | None = None) -> Board:
        """The current project's shots (or `project_id`'s, if it belongs to this chat)."""
        async with self.db.unit_of_work() as uow:
            project = await project_for(uow, self.permissions, actor, project_id)
            shots = await uow.shots.project_shots(project.id)
            stars = await uow.takes.take_star_counts([s.id for s in shots])
            items = []
            for shot in shots:
                delivered = [
                    t
                    for t in await uow.takes.shot_takes(shot.id)
                    if t.status == TakeState.DELIVERED
                ]
                kept = next((t for t in delivered if t.id == shot.kept_take_id), None)
                clip = kept or (delivered[-1] if delivered else None)
                revision = (
                    await uow.shots.get_revision(shot.current_revision_id)
                    if shot.current_revision_id
                    else None
                )
                items.append(
                    BoardShot(
                        shot=shot,
                        image_path=Path(shot.still_path or shot.photo_path),
                        words=action_summary(
                            revision.summary if revision else "",
                            shot.description or "",
                            revision.prompt if revision else "",
                        ),
                        clip=clip,
                        kept=kept is not None,
                        stars=stars.get(clip.id, 0) if clip else None,
                        frame_clip=Path(kept.clip_path) if kept and kept.clip_path else None,
                    )
                )
        return Board(project, items)

    async def move(self, actor: Actor, number: int, to: int) -> Board:
        """/move 3 1: shot 3 becomes shot 1, the others close up behind it."""
        board = await self.board(actor)
        ids = [item.shot.id for item in board.shots]
        numbers = [item.number for item in board.shots]
        if number not in numbers:
            raise StudioError("board.no_such_shot", number=number)
        to = max(1, min(to, len(ids)))
        shot_id = ids.pop(numbers.index(number))
        ids.insert(to - 1, shot_id)
        await self._reorder(board.project.id, ids)
        return await self.board(actor)

    async def nudge(self, actor: Actor, shot_id: int, step: int) -> Board:
        """⬆️ / ⬇️ on the board: one place earlier or later."""
        shot = await self.drafting.shot_by_id(actor, shot_id)
        return await self.move(actor, shot.position, shot.position + step)

    async def drop(
        self,
        actor: Actor,
        number: int,
        *,
        fetch_status: FetchStatus | None = None,
        project_id: int | None = None,
    ) -> Board:
        """/drop 3: the shot leaves the story (its takes stay in the history)."""
        board = await self.board(actor, project_id)
        item = next((i for i in board.shots if i.number == number), None)
        if item is None:
            raise StudioError("board.no_such_shot", number=number)
        await self.drafting.cancel_shot(actor, item.shot.id, fetch_status=fetch_status)
        await self._reorder(board.project.id, [i.shot.id for i in board.shots if i is not item])
        return await self.board(actor, project_id)

    def _music_of(self, project: ProjectRecord) -> Path | str | None:
        """The project's music: CALM, its song's path, or None (none set, or the file gone)."""
        if project.soundtrack is None or project.soundtrack == CALM:
            return project.soundtrack
        path = self.music_dir / project.soundtrack
        return path if path.is_file() else None

    def _narrates(self, narrate: bool | None, project_on: bool) -> bool:
        """Whether the film's lines are spoken (decided before any speech is made)."""
        if narrate is None:
            return project_on and self.narration is not None and self.narration.available
        if narrate and (self.narration is None or not self.narration.available):
            raise StudioError("narration.needs_key")
        return narrate

    async def _reorder(self, project_id: int, shot_ids: list[int]) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.shots.reorder_shots(project_id, shot_ids)

    # --- the film -----------------------------------------------------------------------

    async def film(
        self,
        actor: Actor,
        *,
        title: bool = True,
        crossfade_s: float = FILM_CROSSFADE_S,
        out: Path | None = None,
        project_id: int | None = None,
        music: Path | str | None = None,
        subtitles: bool | None = None,
        narrate: bool | None = None,
    ) -> tuple[Board, FilmResult]:
        """The kept take of each shot, in order, as one MP4 under the upload limit.

        `music`: an audio file or CALM (the generated loop); `subtitles`: each shot's
        description as its words, burned in and as a soft track, in the actor's language;
        `narrate`: the same lines spoken over the film. Any left out: as the project is
        set (/music, /subtitles, /narration); narration set on a project whose bot has
        since lost its speech endpoint is left out, asked for explicitly it is an error.
        """
        cut = await self._cut(
            actor,
            title=title,
            crossfade_s=crossfade_s,
            project_id=project_id,
            music=music,
            subtitles=subtitles,
            narrate=narrate,
        )
        return cut.board, await self._assemble(cut, out)

    async def film_or_copy(
        self,
        actor: Actor,
        *,
        title: bool = True,
        crossfade_s: float = FILM_CROSSFADE_S,
        project_id: int | None = None,
    ) -> FilmOrder:
        """/film: the copy Telegram already holds of a film with these very inputs, or a
        newly assembled one (sent, it is remembered with `film_sent`)."""
        cut = await self._cut(actor, title=title, crossfade_s=crossfade_s, project_id=project_id)
        cut = replace(cut, key=await asyncio.to_thread(film_key, cut))
        async with self.db.unit_of_work() as uow:
            copy = await uow.films.cached(cut.board.project.id, cut.key)
            if copy is not None:
                sent = SentFilm(copy.file_id, copy.duration_s, copy.width, copy.height, copy.clips)
                return FilmOrder(cut, sent=sent)
        return FilmOrder(cut, film=await self._assemble(cut, None))

    async def film_sent(self, order: FilmOrder, file_id: str) -> None:
        """The film is in the chat: asking again with the same inputs re-sends `file_id`."""
        film = order.film
        if film is None or not file_id:
            return
        async with self.db.unit_of_work() as uow:
            await uow.films.remember(
                order.cut.board.project.id,
                order.cut.key,
                file_id,
                duration_s=film.duration_s,
                width=film.width,
                height=film.height,
                clips=film.clips,
            )

    async def film_copy_refused(self, order: FilmOrder) -> FilmOrder:
        """Telegram no longer takes the kept file_id: drop it and assemble the film anew."""
        async with self.db.unit_of_work() as uow:
            await uow.films.forget_project(order.cut.board.project.id)
        return FilmOrder(order.cut, film=await self._assemble(order.cut, None))

    async def _cut(
        self,
        actor: Actor,
        *,
        title: bool,
        crossfade_s: float,
        project_id: int | None = None,
        music: Path | str | None = None,
        subtitles: bool | None = None,
        narrate: bool | None = None,
    ) -> FilmCut:
        """What the film is made of: the clips in order, their words, music and title."""
        board = await self.board(actor, project_id)
        if music is None:
            music = self._music_of(board.project)
        if subtitles is None:
            subtitles = board.project.subtitles
        kept = [
            (i.clip.id, Path(i.clip.clip_path), i.shot.description)
            for i in board.shots
            if i.clip and i.clip.clip_path
        ]
        kept = [(take_id, path, line) for take_id, path, line in kept if path.is_file()]
        if not kept:
            raise StudioError("film.no_clips")
        lines = [line for *_, line in kept]
        named = title and not board.project.title.startswith("Untitled ")
        return FilmCut(
            board,
            clips=[path for _, path, _ in kept],
            take_ids=[take_id for take_id, _, _ in kept],
            words=Words(lines, language=actor.lang) if subtitles else None,
            music=music,
            title=board.project.title if named else None,
            crossfade_s=crossfade_s,
            lines=lines,
            language=actor.lang,
            narrate=self._narrates(narrate, board.project.narration),
            end_card=t("film.end_card", actor.lang) if self.end_card else None,
            aspect=board.project.aspect,
            narrator=self.narration.narrator if self.narration is not None else "",
        )

    async def _assemble(self, cut: FilmCut, out: Path | None) -> FilmResult:
        spoken = None
        if cut.narrate and self.narration is not None:
            spoken = await self.narration.speak(cut.lines, cut.language)
        # A random name, never the project id; the chat's copy is removed once sent.
        dest = out or private_dir(self.films_dir) / f"film-{uuid.uuid4().hex}.mp4"
        try:
            async with self.heavy.turn():  # seconds to minutes on a worker thread
                result = await asyncio.to_thread(
                    assemble_film,
                    cut.clips,
                    dest,
                    title=cut.title,
                    crossfade_s=cut.crossfade_s,
                    limit_bytes=self.upload_limit_bytes,
                    music=cut.music,
                    words=cut.words,
                    narration=spoken if spoken and any(spoken) else None,
                    end_card=cut.end_card,
                    aspect=cut.aspect,
                )
        except FilmTooLarge as error:
            limit_mb = f"{error.limit_bytes / (1024 * 1024):g}"
            raise StudioError("film.too_large", limit_mb=limit_mb) from error
        except FilmError as error:
            music = cut.music
            if isinstance(error.__cause__, SoundtrackError) and isinstance(music, Path):
                raise StudioError("film.bad_music", name=music.name) from error
            raise StudioError("film.failed") from error
        finally:
            if spoken and self.narration is not None:
                await self.narration.discard(spoken)
        if out is None:
            make_private(result.path)
        return result
