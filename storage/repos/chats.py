"""Users, chats, the bot's own messages, updates already handled and albums."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from storage.models import (
    BotMessage,
    Chat,
    MediaGroup,
    ProcessedUpdate,
    User,
    utcnow,
)
from storage.repos.base import Repository


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
        await self._insert_if_missing(
            User,
            id=user_id,
            first_name=first_name,
            username=username,
            language_code=language_code,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        user = await self.session.get(User, user_id, populate_existing=True)
        assert user is not None
        if (user.first_name, user.username) != (first_name, username):
            user.first_name, user.username = first_name, username
        if language_code and user.language_code != language_code:
            user.language_code = language_code
        return user

    async def upsert_chat(self, chat_id: int, *, type: str, title: str | None = None) -> Chat:
        await self._insert_if_missing(
            Chat, id=chat_id, type=type, title=title, settings={}, created_at=utcnow()
        )
        chat = await self.session.get(Chat, chat_id, populate_existing=True)
        assert chat is not None
        if title is not None and chat.title != title:
            chat.title = title
        return chat

    async def get_user(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_chat(self, chat_id: int) -> Chat | None:
        return await self.session.get(Chat, chat_id)

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
        # DML gives a CursorResult; AsyncSession.execute is typed as returning Result.
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

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
        # DML gives a CursorResult; AsyncSession.execute is typed as returning Result.
        return result.rowcount == 1  # type: ignore[attr-defined]
