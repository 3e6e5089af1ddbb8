"""Who may see, spend and change what: every use case asks here, so the rules live once.

- Rows: a button or a reply from another chat never reaches someone else's project, shot,
  draft or take; it is told the row is not found, as if it never existed.
- Spending: in a group whose 🎬 Generate is for admins only, only admins start paid work
  (Generate, Again, stills, Animate, the original) or set what it costs (⚙️).
- Removing: in a group, a member cancels their own shots and takes; someone else's only a
  group admin or an operator.

Operators are CLAYMATE_ADMIN_IDS. Group admin status comes from getChatMember through the
`fetch_status` the chat front end passes in, cached briefly here: only a cache, so a short
in-process TTL is enough.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection

from bot.domain.errors import StudioError
from bot.domain.states import ShotState
from bot.domain.types import Actor
from storage.db import Database
from storage.models import Project, PromptRevision, Shot, Take
from storage.uow import UnitOfWork

GENERATE_POLICIES = ("everyone", "admins")
ADMIN_STATUSES = frozenset({"creator", "administrator"})
# "restricted" and "left" are not counted: getChatMember's status alone cannot tell
# whether a restricted user is still in the group, so they see nothing of it.
MEMBER_STATUSES = ADMIN_STATUSES | {"member"}
GROUP_TYPES = ("group", "supergroup")
MEMBER_TTL_S = 60.0

FetchStatus = Callable[[], Awaitable[str]]  # getChatMember's status for the asking user
StatusIn = Callable[[int], FetchStatus]  # the same, for one user in a chat given by id


class Permissions:
    """The one place that says who may see, spend and change what."""

    def __init__(
        self, db: Database, operators: Collection[int], *, member_ttl_s: float = MEMBER_TTL_S
    ) -> None:
        self.db = db
        self.operators = frozenset(operators)
        self.member_ttl_s = member_ttl_s
        self._members: dict[tuple[int, int], tuple[str, float]] = {}

    # --- rows: only the chat that owns them ---------------------------------------------

    async def project(self, uow: UnitOfWork, actor: Actor, project_id: int) -> Project:
        """The project, if it belongs to the actor's chat."""
        project = await uow.projects.get_project(project_id)
        if project is None or project.chat_id != actor.chat_id:
            raise StudioError("project.not_found")
        return project

    async def shot(self, uow: UnitOfWork, actor: Actor, shot_id: int) -> Shot:
        """The shot, if it is in one of the actor's chat's projects."""
        shot = await uow.shots.get_shot(shot_id)
        if shot is None:
            raise StudioError("draft.not_found")
        project = await uow.projects.get_project(shot.project_id)
        if project is None or project.chat_id != actor.chat_id:
            raise StudioError("draft.not_found")
        return shot

    async def revision(
        self, uow: UnitOfWork, actor: Actor, revision_id: int
    ) -> tuple[PromptRevision, Shot]:
        """The draft and its shot, if the shot is the actor's chat's."""
        revision = await uow.shots.get_revision(revision_id)
        if revision is None:
            raise StudioError("draft.not_found")
        return revision, await self.shot(uow, actor, revision.shot_id)

    async def spendable_revision(
        self, uow: UnitOfWork, actor: Actor, revision_id: int
    ) -> tuple[PromptRevision, Shot]:
        """The draft and its shot, for work that costs money: the shot must still be in
        the project. A dropped shot's draft message keeps its buttons in the chat (/cancel
        does not edit it), and a press on them must not spend on what the user threw away."""
        revision, shot = await self.revision(uow, actor, revision_id)
        if shot.status == ShotState.CANCELLED:
            raise StudioError("draft.dropped")
        return revision, shot

    async def take(self, uow: UnitOfWork, actor: Actor, take_id: int) -> Take:
        """The take, if its shot is the actor's chat's."""
        take = await uow.takes.get_take(take_id)
        if take is None:
            raise StudioError("take.not_found")
        await self.shot(uow, actor, take.shot_id)
        return take

    async def viewer_actor(
        self, user_id: int, lang: str, project_id: int, status_in: StatusIn
    ) -> Actor:
        """Someone outside the chat (the Mini App) may see a project of their own private
        chat with the bot, or of a group they are a member of now; they act on it as an
        Actor in that chat, so every rule of the chat applies to them unchanged."""
        async with self.db.unit_of_work() as uow:
            project = await uow.projects.get_project(project_id)
            chat = await uow.chats.get_chat(project.chat_id) if project else None
        if project is None or chat is None:
            raise StudioError("project.not_found")
        actor = Actor(user_id=user_id, chat_id=chat.id, chat_type=chat.type, lang=lang)
        if chat.type in GROUP_TYPES:
            if not await self.is_chat_member(chat.id, user_id, status_in(chat.id)):
                raise StudioError("project.not_found")
        elif chat.id != user_id:
            raise StudioError("project.not_found")
        return actor

    # --- spending and removing ------------------------------------------------------------

    async def check_may_spend(self, actor: Actor, fetch_status: FetchStatus | None) -> None:
        """The one check for work that spends (Generate, Again, stills, Animate, the
        original) or sets what it costs (⚙️): in an admins-only group, admins only."""
        if not actor.is_group:
            return
        if await self.generate_policy(actor.chat_id) == "everyone":
            return
        if not await self.is_chat_admin(actor.chat_id, actor.user_id, fetch_status or _no_status):
            raise StudioError("group.generate_admins_only")

    async def may_remove_others(self, actor: Actor, fetch_status: FetchStatus | None) -> bool:
        """Whether the actor may cancel someone else's shot or take in this chat."""
        if self.is_operator(actor.user_id):
            return True
        if not actor.is_group or fetch_status is None:
            return False
        return await self.is_chat_admin(actor.chat_id, actor.user_id, fetch_status)

    # --- who someone is -------------------------------------------------------------------

    def is_operator(self, user_id: int | None) -> bool:
        """Operators (CLAYMATE_ADMIN_IDS) run the bot: always let in, may do anything."""
        return user_id is not None and user_id in self.operators

    async def is_chat_admin(self, chat_id: int, user_id: int, fetch_status: FetchStatus) -> bool:
        """Operators, and the group's creator and administrators (getChatMember, cached)."""
        if self.is_operator(user_id):
            return True
        return await self._status(chat_id, user_id, fetch_status) in ADMIN_STATUSES

    async def is_chat_member(self, chat_id: int, user_id: int, fetch_status: FetchStatus) -> bool:
        """Whether the user is in the group now (getChatMember, cached); operators are not
        let into groups they are not in."""
        return await self._status(chat_id, user_id, fetch_status) in MEMBER_STATUSES

    async def _status(self, chat_id: int, user_id: int, fetch_status: FetchStatus) -> str:
        now = time.monotonic()
        cached = self._members.get((chat_id, user_id))
        if cached is None or cached[1] < now:
            status = await fetch_status()
            self._members[(chat_id, user_id)] = (status, now + self.member_ttl_s)
            if len(self._members) > 10_000:  # bounded: drop expired entries
                self._members = {k: v for k, v in self._members.items() if v[1] >= now}
        else:
            status = cached[0]
        return status

    async def generate_policy(self, chat_id: int) -> str:
        """A group's /generate rule: "everyone" (the default) or "admins"."""
        async with self.db.unit_of_work() as uow:
            chat = await uow.chats.get_chat(chat_id)
        policy = (chat.settings or {}).get("generate") if chat else None
        return policy if policy in GENERATE_POLICIES else "everyone"


async def _no_status() -> str:
    """Without a way to ask Telegram, nobody counts as a group admin (operators still do)."""
    return "member"
