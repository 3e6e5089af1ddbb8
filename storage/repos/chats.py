"""Users, chats, the bot's own messages, updates already handled and albums."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Executable,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)

from bot.domain.types import Sender
from storage.models import (
    BotMessage,
    Chat,
    MediaGroup,
    ProcessedUpdate,
    Project,
    User,
    utcnow,
)
from storage.repos.base import Repository, rowcount

# A message we sent, and what it stands for: (chat id, message id, kind, {"shot_id": …}).
MessageRefs = tuple[int, int, str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SenderRows:
    """What a sender's user and chat rows hold once recorded."""

    lang: str | None  # the user's /lang choice
    language_code: str | None  # Telegram's, the last one it sent
    settings: dict[str, Any]  # the chat's
    aspect: str | None  # the shape of the chat's current project


class ChatsRepo(Repository):
    """Who talks to the bot and where: users, chats, message references, update ids, albums."""

    async def current_aspect(self, chat_id: int) -> str | None:
        """The shape of the chat's current project, in one statement (None: no project yet,
        or one that keeps each photo's shape). Read before a photo's intake, on every photo."""
        query = (
            select(Project.aspect)
            .join(Chat, Chat.current_project_id == Project.id)
            .where(Chat.id == chat_id)
        )
        aspect: str | None = await self.session.scalar(query)
        return aspect

    async def record_user(
        self,
        user_id: int,
        *,
        first_name: str = "",
        username: str | None = None,
        language_code: str | None = None,
    ) -> tuple[str | None, str | None]:
        """Create the user's row or bring it up to date, in one statement; returns the
        user's chosen language (/lang) and Telegram's language code.

        Every update records its sender, so this is on the path of every update: one
        INSERT … ON CONFLICT DO UPDATE … RETURNING instead of an insert, a read and an
        update. Telegram sends no language_code for some clients; a known one is kept.
        """
        params = _user_params(user_id, first_name, username, language_code, utcnow())
        row = (await self._run_prebuilt("upsert_user", _upsert_user, params)).one()
        return row.lang, row.language_code

    async def record_senders(self, senders: Sequence[Sender]) -> list[SenderRows]:
        """`record_user` and `record_chat` for every sender, in two statements for them all
        (the gate of updates that arrived together); what each sender's rows hold now.

        A user or chat that sent twice is written once, as its later update says: one
        statement may not change a row twice."""
        now = utcnow()
        users: dict[int, dict[str, Any]] = {}
        chats: dict[int, dict[str, Any]] = {}
        for s in senders:
            # What writing them in turn would leave: the later name, and a language code
            # or title kept where the later update sent none (see _upsert_user).
            earlier_user, earlier_chat = users.get(s.user_id, {}), chats.get(s.chat_id, {})
            code = s.language_code or earlier_user.get("language_code")
            users[s.user_id] = _user_params(s.user_id, s.first_name, s.username, code, now)
            title = s.chat_title or earlier_chat.get("title")
            chats[s.chat_id] = _chat_params(s.chat_id, s.chat_type, title, now)
        # In key order: two instances writing overlapping batches lock rows in one order,
        # so neither waits for the other's second row while holding its first.
        user_rows = await self._run_prebuilt(
            "upsert_user", _upsert_user, [users[k] for k in sorted(users)]
        )
        languages = {row.id: (row.lang, row.language_code) for row in user_rows}
        chat_rows = await self._run_prebuilt(
            "upsert_chat", _upsert_chat, [chats[k] for k in sorted(chats)]
        )
        shapes = {row.id: (dict(row.settings or {}), row.project_aspect) for row in chat_rows}
        return [SenderRows(*languages[s.user_id], *shapes[s.chat_id]) for s in senders]

    async def upsert_user(
        self,
        user_id: int,
        *,
        first_name: str = "",
        username: str | None = None,
        language_code: str | None = None,
    ) -> User:
        """`record_user`, then the row itself."""
        await self.record_user(
            user_id, first_name=first_name, username=username, language_code=language_code
        )
        user = await self.session.get(User, user_id, populate_existing=True)
        assert user is not None
        return user

    async def record_chat(
        self, chat_id: int, *, type: str, title: str | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """Create the chat's row or give it its new title, in one statement (see
        record_user); returns the chat's settings and its current project's shape (None:
        no project yet, or one that keeps each photo's shape), which a photo needs first."""
        params = _chat_params(chat_id, type, title, utcnow())
        row = (await self._run_prebuilt("upsert_chat", _upsert_chat, params)).one()
        return dict(row.settings or {}), row.project_aspect

    async def upsert_chat(self, chat_id: int, *, type: str, title: str | None = None) -> Chat:
        """`record_chat`, then the row itself."""
        await self.record_chat(chat_id, type=type, title=title)
        chat = await self.session.get(Chat, chat_id, populate_existing=True)
        assert chat is not None
        return self._keep(chat)

    async def get_user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_chat(self, chat_id: int) -> Chat | None:
        return self._keep(await self.session.get(Chat, chat_id))

    async def set_chat_setting(self, chat_id: int, key: str, value: Any) -> None:
        chat = await self.session.get(Chat, chat_id)
        if chat is None:
            raise LookupError(chat_id)
        chat.settings = {**(chat.settings or {}), key: value}

    async def remember_message(
        self, chat_id: int, message_id: int, kind: str, **refs: Any
    ) -> None:
        await self.remember_messages([(chat_id, message_id, kind, refs)])

    async def remember_messages(self, messages: Sequence[MessageRefs]) -> None:
        """What each message we sent stands for, as if remembered one by one, in order.

        A message id is remembered again when a draft is edited in place, so each is an
        upsert. One statement writes each run of messages that name the same refs; a
        message named again starts a new run, since one statement may not change a row
        twice and the later entry must win."""
        now = utcnow()
        runs: list[tuple[tuple[str, ...], dict[tuple[int, int], dict[str, Any]]]] = []
        for chat_id, message_id, kind, refs in messages:
            names = tuple(sorted(refs))
            if not runs or runs[-1][0] != names or (chat_id, message_id) in runs[-1][1]:
                runs.append((names, {}))
            params = {"chat_id": chat_id, "message_id": message_id, "kind": kind, "now": now}
            runs[-1][1][chat_id, message_id] = params | refs
        for names, rows in runs:
            # Every draft, clip and status message is remembered: built once per set of refs.
            await self._run_prebuilt(
                "remember_message:" + ",".join(names),
                functools.partial(_remember_message, refs=names),
                list(rows.values()),
            )

    async def message_ref(self, chat_id: int, message_id: int) -> BotMessage | None:
        return await self.session.get(BotMessage, (chat_id, message_id))

    async def mark_update_processed(self, update_id: int) -> bool:
        """True the first time an update id is seen, False for a redelivery."""
        return bool(await self.mark_updates_processed([update_id]))

    async def mark_updates_processed(self, update_ids: Sequence[int]) -> set[int]:
        """The ids among `update_ids` seen for the first time, in one statement."""
        now = utcnow()
        params = [{"update_id": u, "received_at": now} for u in sorted(set(update_ids))]
        result = await self._run_prebuilt("processed_updates", _processed_update, params)
        return {row.update_id for row in result}

    async def forget_processed_updates(self, older_than: datetime) -> None:
        await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.received_at < older_than)
        )

    async def prune_processed_updates(self, *, older_than: datetime, limit: int) -> int:
        """Delete at most `limit` update ids received before `older_than`; how many went.

        Bounded, so a runner's housekeeping never holds the write lock for long.
        """
        oldest = (
            select(ProcessedUpdate.update_id)
            .where(ProcessedUpdate.received_at < older_than)
            .order_by(ProcessedUpdate.received_at)
            .limit(limit)
        )
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.update_id.in_(oldest.scalar_subquery()))
        )
        return rowcount(result)

    async def touch_media_group(self, chat_id: int, media_group_id: str) -> None:
        """Note that a photo of this album just arrived (several instances may race here)."""
        await self._insert_if_missing(
            MediaGroup, chat_id=chat_id, media_group_id=media_group_id, last_photo_at=utcnow()
        )
        await self.session.execute(
            update(MediaGroup)
            .where(MediaGroup.chat_id == chat_id, MediaGroup.media_group_id == media_group_id)
            .values(last_photo_at=utcnow())
        )

    async def claim_media_group_answer(
        self, chat_id: int, media_group_id: str, quiet_since: datetime
    ) -> bool:
        """Mark the album answered if it has been quiet since `quiet_since`; one caller wins."""
        result = await self.session.execute(
            update(MediaGroup)
            .where(
                MediaGroup.chat_id == chat_id,
                MediaGroup.media_group_id == media_group_id,
                MediaGroup.answered_at.is_(None),
                MediaGroup.last_photo_at <= quiet_since,
            )
            .values(answered_at=utcnow())
        )
        return rowcount(result) == 1


# The gate's statements, built once per dialect (Repository._run_prebuilt).


def _upsert_user(insert: Any) -> Executable:
    statement = insert(User).values(
        id=bindparam("id"),
        first_name=bindparam("first_name"),
        username=bindparam("username"),
        language_code=bindparam("language_code"),
        # Two parameters, not one used twice: a multi-row VALUES (record_senders on
        # PostgreSQL) numbers each use of a parameter as a value of its own.
        created_at=bindparam("now"),
        updated_at=bindparam("updated_at"),
    )
    renamed = or_(
        User.first_name.is_distinct_from(statement.excluded.first_name),
        User.username.is_distinct_from(statement.excluded.username),
    )
    changed = {
        "first_name": statement.excluded.first_name,
        "username": statement.excluded.username,
        "language_code": func.coalesce(statement.excluded.language_code, User.language_code),
        "updated_at": case((renamed, statement.excluded.updated_at), else_=User.updated_at),
    }
    return statement.on_conflict_do_update(index_elements=[User.id], set_=changed).returning(
        User.id, User.lang, User.language_code
    )


def _upsert_chat(insert: Any) -> Executable:
    statement = insert(Chat).values(
        id=bindparam("id"),
        type=bindparam("type"),
        title=bindparam("title"),
        settings={},
        created_at=bindparam("now"),
    )
    changed = {"title": func.coalesce(statement.excluded.title, Chat.title)}
    # Correlated to the row being written by name: a subquery in RETURNING is not
    # correlated on its own, and would otherwise read every chat.
    shape = (
        select(Project.aspect)
        .where(Project.id == literal_column("chats.current_project_id"))
        .scalar_subquery()
        .label("project_aspect")
    )
    return statement.on_conflict_do_update(index_elements=[Chat.id], set_=changed).returning(
        Chat.id, Chat.settings, shape
    )


def _processed_update(insert: Any) -> Executable:
    statement = insert(ProcessedUpdate).values(
        update_id=bindparam("update_id"), received_at=bindparam("received_at")
    )
    return statement.on_conflict_do_nothing().returning(ProcessedUpdate.update_id)


def _user_params(
    user_id: int, first_name: str, username: str | None, language_code: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": user_id,
        "first_name": first_name,
        "username": username,
        "language_code": language_code,
        "now": now,
        "updated_at": now,
    }


def _chat_params(chat_id: int, type: str, title: str | None, now: datetime) -> dict[str, Any]:
    return {"id": chat_id, "type": type, "title": title, "now": now}


def _remember_message(insert: Any, refs: tuple[str, ...]) -> Executable:
    statement = insert(BotMessage).values(
        chat_id=bindparam("chat_id"),
        message_id=bindparam("message_id"),
        kind=bindparam("kind"),
        created_at=bindparam("now"),
        **{name: bindparam(name) for name in refs},
    )
    changed = {name: statement.excluded[name] for name in ("kind", *refs)}
    return statement.on_conflict_do_update(index_elements=["chat_id", "message_id"], set_=changed)
