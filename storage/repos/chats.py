"""Users, chats, the bot's own messages, updates already handled and albums."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update

from storage.models import (
    BotMessage,
    Chat,
    MediaGroup,
    ProcessedUpdate,
    User,
    utcnow,
)
from storage.repos.base import Repository, rowcount


class ChatsRepo(Repository):
    """Who talks to the bot and where: users, chats, message references, update ids, albums."""

    async def upsert_user(
        self,
        user_id: int,
        *,
        first_name: str = "",
        username: str | None = None,
        language_code: str | None = None,
    ) -> User:
        """The user's row, created or brought up to date, in one statement.

        Every update records its sender, so this is on the path of every update: one
        INSERT … ON CONFLICT DO UPDATE … RETURNING instead of an insert, a read and an
        update. Telegram sends no language_code for some clients; a known one is kept.
        """
        insert = self._insert(User).values(
            id=user_id,
            first_name=first_name,
            username=username,
            language_code=language_code,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        renamed = or_(
            User.first_name.is_distinct_from(insert.excluded.first_name),
            User.username.is_distinct_from(insert.excluded.username),
        )
        changed = {
            "first_name": insert.excluded.first_name,
            "username": insert.excluded.username,
            "language_code": func.coalesce(insert.excluded.language_code, User.language_code),
            "updated_at": case((renamed, insert.excluded.updated_at), else_=User.updated_at),
        }
        statement = insert.on_conflict_do_update(index_elements=[User.id], set_=changed)
        user = await self.session.scalar(
            statement.returning(User), execution_options={"populate_existing": True}
        )
        assert user is not None
        return user

    async def upsert_chat(self, chat_id: int, *, type: str, title: str | None = None) -> Chat:
        """The chat's row, created or with its new title, in one statement (see upsert_user)."""
        insert = self._insert(Chat).values(
            id=chat_id, type=type, title=title, settings={}, created_at=utcnow()
        )
        changed = {"title": func.coalesce(insert.excluded.title, Chat.title)}
        statement = insert.on_conflict_do_update(index_elements=[Chat.id], set_=changed)
        chat = await self.session.scalar(
            statement.returning(Chat), execution_options={"populate_existing": True}
        )
        assert chat is not None
        return chat

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
        # One statement: a message id is remembered again when a draft is edited in place.
        insert = self._insert(BotMessage).values(
            chat_id=chat_id, message_id=message_id, kind=kind, created_at=utcnow(), **refs
        )
        changed = {name: insert.excluded[name] for name in ("kind", *refs)}
        await self.session.execute(
            insert.on_conflict_do_update(index_elements=["chat_id", "message_id"], set_=changed)
        )

    async def message_ref(self, chat_id: int, message_id: int) -> BotMessage | None:
        return await self.session.get(BotMessage, (chat_id, message_id))

    async def mark_update_processed(self, update_id: int) -> bool:
        """True the first time an update id is seen, False for a redelivery."""
        return await self._insert_if_missing(
            ProcessedUpdate, update_id=update_id, received_at=utcnow()
        )

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
