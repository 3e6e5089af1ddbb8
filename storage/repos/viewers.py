"""Where one user's projects are: the Mini App looks across chats, the chat never does."""

from __future__ import annotations

from sqlalchemy import or_, select

from storage.models import Chat, Project, Shot, Take
from storage.repos.base import Repository

GROUP_TYPES = ("group", "supergroup")


class ViewersRepo(Repository):
    """The groups a user has worked in, the candidates for their storyboard's list."""

    async def groups_worked_in(self, user_id: int, limit: int = 50) -> list[Chat]:
        """Groups where the user made a project or a shot or asked for a take.

        The bot keeps no member lists: these are candidates only, and whether the user is
        still a member is asked of Telegram before any of their projects is shown.
        """
        made_project = select(Project.chat_id).where(Project.created_by == user_id)
        made_shot = (
            select(Project.chat_id)
            .join(Shot, Shot.project_id == Project.id)
            .where(Shot.created_by == user_id)
        )
        asked_take = (
            select(Project.chat_id)
            .join(Shot, Shot.project_id == Project.id)
            .join(Take, Take.shot_id == Shot.id)
            .where(Take.requested_by == user_id)
        )
        result = await self.session.execute(
            select(Chat)
            .where(
                Chat.type.in_(GROUP_TYPES),
                or_(Chat.id.in_(made_project), Chat.id.in_(made_shot), Chat.id.in_(asked_take)),
            )
            .order_by(Chat.id)
            .limit(limit)
        )
        return list(result.scalars())
