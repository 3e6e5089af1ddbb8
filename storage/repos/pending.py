"""What a user has waiting in a chat: the queued take or the draft /cancel would drop."""

from __future__ import annotations

from sqlalchemy import exists, select

from bot.domain.states import TERMINAL_TAKE_STATES, ShotState
from storage.models import Project, Shot, Take
from storage.repos.base import Repository


class PendingRepo(Repository):
    """A user's own unfinished work in one chat, newest first."""

    async def latest_unfinished_take(self, chat_id: int, user_id: int) -> Take | None:
        """The user's newest take in this chat's projects that has not ended."""
        return await self.session.scalar(
            select(Take)
            .join(Shot, Shot.id == Take.shot_id)
            .join(Project, Project.id == Shot.project_id)
            .where(
                Project.chat_id == chat_id,
                Take.requested_by == user_id,
                Take.status.not_in(TERMINAL_TAKE_STATES),
            )
            .order_by(Take.id.desc())
            .limit(1)
        )

    async def latest_ungenerated_shot(self, chat_id: int, user_id: int) -> Shot | None:
        """The user's newest shot in this chat that is still a draft: never generated."""
        return await self.session.scalar(
            select(Shot)
            .join(Project, Project.id == Shot.project_id)
            .where(
                Project.chat_id == chat_id,
                Shot.created_by == user_id,
                Shot.status.in_((ShotState.DRAFTED, ShotState.AWAITING_DESCRIPTION)),
                ~exists().where(Take.shot_id == Shot.id),
            )
            .order_by(Shot.id.desc())
            .limit(1)
        )
