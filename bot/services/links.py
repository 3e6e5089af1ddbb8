"""🔗 Share links: `t.me/<bot>?start=p_<token>` opens a project, for whom it may show.

The payload is a random token stored with its project and an expiry, never a row id, so
a link cannot be made from another one or from a number seen on a button. A valid token
is not a key by itself: the project opens for its own chat (the owner in a private chat,
the group itself), and is shown read-only, in private, to members of its group as
Telegram reports them at that moment; anyone else is told no without learning its title.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import StudioError
from bot.domain.types import Actor, ProjectView
from bot.services.permissions import MEMBER_STATUSES, Permissions
from bot.services.projects import project_view
from storage.db import Database
from storage.models import utcnow

PREFIX = "p_"
TOKEN_BYTES = 24  # 32 URL-safe characters: with the prefix well within Telegram's 64
PAYLOAD = re.compile(rf"{PREFIX}[A-Za-z0-9_-]{{{TOKEN_BYTES * 4 // 3}}}")
INLINE_PAGE = 20  # results per inline answer; Telegram asks for the next page by offset
MAX_GROUPS_CHECKED = 8  # getChatMember calls per inline query, made at once
MAX_TAKES_SCANNED = 500  # newest takes looked at per inline query
MAX_QUERY_CHARS = 64

# getChatMember's status for the opener in the project's group; "left" when unknown.
FetchMembership = Callable[[int], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class LinkOpening:
    """What a link opened: the project, and whether it is the opener's chat's own."""

    view: ProjectView
    own: bool
    group_title: str | None = None


@dataclass(frozen=True, slots=True)
class SharedLink:
    """A project's share link: the /start payload and the title to say it opens."""

    payload: str
    title: str


@dataclass(frozen=True, slots=True)
class SharedClip:
    """One clip the inline menu offers: a shot's kept take, else its latest delivered one;
    or a project's film (`film` True, `take_id` then the film's own id)."""

    take_id: int
    file_id: str
    project_title: str
    position: int
    words: str
    kept: bool
    film: bool = False


@dataclass(frozen=True, slots=True)
class ClipPage:
    clips: list[SharedClip]
    next_offset: int | None


class ShareLinks:
    """Make a project's share link, and open one for whoever follows it."""

    def __init__(
        self,
        db: Database,
        permissions: Permissions,
        *,
        valid_for: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.permissions = permissions
        self.valid_for = valid_for
        self.clock = clock

    async def share(self, actor: Actor, project_id: int) -> SharedLink:
        """🔗 Share link: the start payload for one of the actor's chat's projects.

        Pressed again, it gives the same link while that one has at least half its life
        left, so a link already posted somewhere keeps working.
        """
        now = self.clock()
        async with self.db.unit_of_work() as uow:
            project = await self.permissions.project(uow, actor, project_id)
            link = await uow.links.live_link(project.id, now + self.valid_for / 2)
            if link is None:
                token = secrets.token_urlsafe(TOKEN_BYTES)
                link = await uow.links.add_link(project.id, token, now + self.valid_for)
            return SharedLink(PREFIX + link.token, project.title)

    async def open(
        self, actor: Actor, payload: str, fetch_membership: FetchMembership
    ) -> LinkOpening:
        """/start <payload>: the linked project, or a StudioError saying why not."""
        if not PAYLOAD.fullmatch(payload):
            raise StudioError("link.invalid")
        async with self.db.unit_of_work() as uow:
            link = await uow.links.link_by_token(payload.removeprefix(PREFIX))
            project = await uow.projects.get_project(link.project_id) if link else None
            if link is None or project is None:
                raise StudioError("link.invalid")
            if link.expires_at <= self.clock():
                raise StudioError("link.expired")
            if project.chat_id == actor.chat_id:
                await uow.projects.set_current_project(actor.chat_id, project.id)
                return LinkOpening(await project_view(uow, project), own=True)
            chat = await uow.chats.get_chat(project.chat_id)
        if chat is None or chat.type == "private":
            raise StudioError("link.not_yours")  # someone else's own project
        if actor.is_group:  # shown in another group, its clips would reach that group
            raise StudioError("link.private_only")
        if not self.permissions.is_operator(actor.user_id):
            if await fetch_membership(chat.id) not in MEMBER_STATUSES:
                raise StudioError("link.members_only")
        async with self.db.unit_of_work() as uow:
            project = await uow.projects.get_project(project.id)
            if project is None:
                raise StudioError("link.invalid")
            return LinkOpening(await project_view(uow, project), own=False, group_title=chat.title)

    async def clips_to_share(
        self, user_id: int, query: str, offset: int, fetch_membership: FetchMembership
    ) -> ClipPage:
        """Inline mode: the user's own clips and those of groups they are in right now.

        A group counts only if the user took part in it (a shot, a take, a vote) and
        Telegram says they are still a member: leaving a group takes its clips away.
        """
        async with self.db.unit_of_work() as uow:
            groups = await uow.links.groups_of(user_id, MAX_GROUPS_CHECKED)
        statuses = await asyncio.gather(*(fetch_membership(chat_id) for chat_id in groups))
        chats = [user_id] + [
            g for g, s in zip(groups, statuses, strict=True) if s in MEMBER_STATUSES
        ]
        words = query.strip()[:MAX_QUERY_CHARS]
        async with self.db.unit_of_work() as uow:
            rows = await uow.links.shareable_takes(chats, words, MAX_TAKES_SCANNED)
            films = await uow.links.shareable_films(chats, words, MAX_TAKES_SCANNED)
        picked: dict[int, SharedClip] = {}
        for row in rows:  # newest first
            kept = row.shot.kept_take_id == row.take.id
            if kept or row.shot.id not in picked:
                picked[row.shot.id] = SharedClip(
                    take_id=row.take.id,
                    file_id=row.take.telegram_file_id or "",
                    project_title=row.project_title,
                    position=row.shot.position,
                    words=row.shot.description or "",
                    kept=kept,
                )
        # A project's film first: the finished thing is what most people mean to share.
        ordered = [
            SharedClip(
                take_id=row.film.id,
                file_id=row.film.file_id,
                project_title=row.project_title,
                position=0,
                words="",
                kept=True,
                film=True,
            )
            for row in films
        ]
        ordered += sorted(picked.values(), key=lambda clip: clip.take_id, reverse=True)
        end = offset + INLINE_PAGE
        return ClipPage(ordered[offset:end], end if len(ordered) > end else None)
