"""The storyboard as the Mini App sees it: one user, every project they may see, by id.

The chat works on one chat's current project; the Mini App is opened by a user and looks
across their private chat and their groups. Every call becomes an Actor in the project's
own chat (Permissions.viewer_actor), so the chat's rules apply unchanged: a group's
project only for its members, changes in an admins-only group only for its admins. The
database stays the one source of truth, so the chat's project card shows what the app
changed and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.domain.errors import StudioError
from bot.domain.states import TERMINAL_TAKE_STATES, TakeState
from bot.domain.types import Actor
from bot.media.film import CALM
from bot.services.generation import Generation
from bot.services.permissions import GROUP_TYPES, Permissions, StatusIn
from bot.services.projects import Projects, action_summary
from bot.services.soundtracks import Soundtracks
from storage.db import Database

SOUNDTRACK_CHOICES = ("calm", "off")


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who opened the Mini App (from validated init data) and how to ask Telegram about
    them in a group."""

    user_id: int
    lang: str
    status_in: StatusIn


@dataclass(frozen=True, slots=True)
class AppTake:
    """A take as a card shows it: never its provider, task id or file."""

    id: int
    state: str
    progress: float | None
    kept: bool
    playable: bool  # delivered, and its clip is still on disk


@dataclass(frozen=True, slots=True)
class AppShot:
    id: int
    number: int
    summary: str
    has_still: bool
    kept_take_id: int | None
    takes: list[AppTake]


@dataclass(frozen=True, slots=True)
class AppProject:
    id: int
    title: str
    chat_title: str | None  # the group's name; None for the user's own chat
    music: str | None  # "calm", "song" or None
    may_change: bool
    aspect: str | None  # the project's shape; None: each photo keeps its own
    shots: list[AppShot]


@dataclass(frozen=True, slots=True)
class AppProjectLine:
    id: int
    title: str
    chat_title: str | None
    shots: int
    clips: int


class MiniApp:
    """What the Mini App's API does, each call checked as the chat would check it."""

    def __init__(
        self,
        db: Database,
        permissions: Permissions,
        projects: Projects,
        generation: Generation,
        soundtracks: Soundtracks,
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.projects = projects
        self.generation = generation
        self.soundtracks = soundtracks

    async def project_list(self, viewer: Viewer) -> list[AppProjectLine]:
        """The user's own projects, then those of the groups they are in, newest first."""
        async with self.db.unit_of_work() as uow:
            own = await uow.projects.list_projects(viewer.user_id)
            groups = await uow.viewers.groups_worked_in(viewer.user_id)
        lines = [
            AppProjectLine(s.project.id, s.project.title, None, s.shots, s.clips) for s in own
        ]
        for group in groups:
            member = await self.permissions.is_chat_member(
                group.id, viewer.user_id, viewer.status_in(group.id)
            )
            if not member:
                continue
            async with self.db.unit_of_work() as uow:
                summaries = await uow.projects.list_projects(group.id)
            title = group.title or "…"
            lines += [
                AppProjectLine(s.project.id, s.project.title, title, s.shots, s.clips)
                for s in summaries
            ]
        return lines

    async def project(self, viewer: Viewer, project_id: int) -> AppProject:
        """A project's shots in film order, each with its takes and which one is kept."""
        actor = await self._actor(viewer, project_id)
        may_change = await self._may_change(viewer, actor)
        async with self.db.unit_of_work() as uow:
            project = await self.permissions.project(uow, actor, project_id)
            chat = await uow.chats.get_chat(project.chat_id)
            shots = []
            for shot in await uow.shots.project_shots(project.id):
                revision = (
                    await uow.shots.get_revision(shot.current_revision_id)
                    if shot.current_revision_id
                    else None
                )
                takes = [
                    AppTake(
                        id=take.id,
                        state=str(take.status),
                        progress=take.progress,
                        kept=take.id == shot.kept_take_id,
                        playable=take.status == TakeState.DELIVERED
                        and _on_disk(take.clip_path) is not None,
                    )
                    for take in await uow.takes.shot_takes(shot.id)
                    if take.status == TakeState.DELIVERED
                    or take.status not in TERMINAL_TAKE_STATES
                ]
                shots.append(
                    AppShot(
                        id=shot.id,
                        number=shot.position,
                        summary=action_summary(
                            revision.summary if revision else "",
                            shot.description or "",
                            revision.prompt if revision else "",
                        ),
                        has_still=_on_disk(shot.still_path or shot.photo_path) is not None,
                        kept_take_id=shot.kept_take_id,
                        takes=takes,
                    )
                )
            group = chat is not None and chat.type in GROUP_TYPES
            return AppProject(
                id=project.id,
                title=project.title,
                chat_title=(chat.title or "…") if group and chat else None,
                music=_music_label(project.soundtrack),
                may_change=may_change,
                aspect=project.aspect,
                shots=shots,
            )

    async def reorder(self, viewer: Viewer, project_id: int, shot_ids: list[int]) -> AppProject:
        """The shots in this order from now on: the board's and the film's order."""
        await self.changer(viewer, project_id)
        async with self.db.unit_of_work() as uow:
            current = [s.id for s in await uow.shots.project_shots(project_id)]
            if sorted(current) != sorted(shot_ids) or len(set(shot_ids)) != len(shot_ids):
                raise StudioError("app.bad_order")
            await uow.shots.reorder_shots(project_id, shot_ids)
        return await self.project(viewer, project_id)

    async def keep(self, viewer: Viewer, project_id: int, take_id: int) -> AppProject:
        """⭐ This take is its shot's clip in the film (the chat's ⭐ Keep)."""
        actor = await self.changer(viewer, project_id)
        await self._take_in(actor, project_id, take_id)
        await self.generation.keep_take(actor, take_id)
        return await self.project(viewer, project_id)

    async def unkeep(self, viewer: Viewer, project_id: int, shot_id: int) -> AppProject:
        """☆ No take is kept: the film falls back to the shot's latest delivered take."""
        actor = await self.changer(viewer, project_id)
        async with self.db.unit_of_work() as uow:
            shot = await self.permissions.shot(uow, actor, shot_id)
            if shot.project_id != project_id:
                raise StudioError("draft.not_found")
            shot.kept_take_id = None
            shot.kept_by_admin = False
        return await self.project(viewer, project_id)

    async def drop_shot(self, viewer: Viewer, project_id: int, shot_id: int) -> AppProject:
        """✖ The shot leaves the story, by the chat's /drop rule (own shots, or an admin)."""
        actor = await self.changer(viewer, project_id)
        view = await self.project(viewer, project_id)
        shot = next((s for s in view.shots if s.id == shot_id), None)
        if shot is None:
            raise StudioError("draft.not_found")
        await self.projects.drop(
            actor,
            shot.number,
            fetch_status=viewer.status_in(actor.chat_id) if actor.is_group else None,
            project_id=project_id,
        )
        return await self.project(viewer, project_id)

    async def set_music(self, viewer: Viewer, project_id: int, choice: str) -> AppProject:
        """🎵 calm or off, as /music calm and /music off."""
        if choice not in SOUNDTRACK_CHOICES:
            raise StudioError("app.bad_music")
        actor = await self.changer(viewer, project_id)
        fetch = viewer.status_in(actor.chat_id)
        if choice == CALM:
            await self.soundtracks.use_calm(actor, fetch_status=fetch, project_id=project_id)
        else:
            await self.soundtracks.no_music(actor, fetch_status=fetch, project_id=project_id)
        return await self.project(viewer, project_id)

    async def set_aspect(self, viewer: Viewer, project_id: int, aspect: str) -> AppProject:
        """The project's shape for new photos, as /aspect and the card's buttons set it."""
        actor = await self.changer(viewer, project_id)
        await self.projects.set_aspect(
            actor, aspect, project_id=project_id, fetch_status=viewer.status_in(actor.chat_id)
        )
        return await self.project(viewer, project_id)

    async def film_actor(self, viewer: Viewer, project_id: int) -> Actor:
        """🎞 Make film: who asks, in the project's chat, once there is a clip to film (the
        film itself is made and sent to the chat afterwards, as /film does)."""
        actor = await self.changer(viewer, project_id)
        view = await self.project(viewer, project_id)
        if not any(take.playable for shot in view.shots for take in shot.takes):
            raise StudioError("film.no_clips")
        return actor

    async def changer(self, viewer: Viewer, project_id: int) -> Actor:
        """The actor for a change: a viewer who may change the project, else refused."""
        actor = await self._actor(viewer, project_id)
        await self.permissions.check_may_spend(actor, viewer.status_in(actor.chat_id))
        return actor

    async def still_file(self, shot_id: int) -> Path | None:
        """The clay still (or the photo) a signed link points at, if it still exists."""
        async with self.db.unit_of_work() as uow:
            shot = await uow.shots.get_shot(shot_id)
        if shot is None:
            return None
        return _on_disk(shot.still_path or shot.photo_path)

    async def clip_file(self, take_id: int) -> Path | None:
        """A delivered take's clip a signed link points at, if it still exists."""
        async with self.db.unit_of_work() as uow:
            take = await uow.takes.get_take(take_id)
        if take is None or take.status != TakeState.DELIVERED or not take.clip_path:
            return None
        return _on_disk(take.clip_path)

    async def _actor(self, viewer: Viewer, project_id: int) -> Actor:
        return await self.permissions.viewer_actor(
            viewer.user_id, viewer.lang, project_id, viewer.status_in
        )

    async def _may_change(self, viewer: Viewer, actor: Actor) -> bool:
        try:
            await self.permissions.check_may_spend(actor, viewer.status_in(actor.chat_id))
        except StudioError:
            return False
        return True

    async def _take_in(self, actor: Actor, project_id: int, take_id: int) -> None:
        async with self.db.unit_of_work() as uow:
            take = await self.permissions.take(uow, actor, take_id)
            shot = await uow.shots.get_shot(take.shot_id)
        if shot is None or shot.project_id != project_id:
            raise StudioError("take.not_found")


def _music_label(soundtrack: str | None) -> str | None:
    return soundtrack if soundtrack in (None, CALM) else "song"


def _on_disk(path: str | None) -> Path | None:
    """The file, if it is there (a stat: cheap enough for the loop)."""
    if not path:
        return None
    found = Path(path)
    return found if found.is_file() else None
