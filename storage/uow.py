"""A unit of work: one session, one repository per aggregate, committed together.

Services open one per use case (`async with db.unit_of_work() as uow`), so everything a
use case changes lands in one transaction or not at all, and a second instance sees it at once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos.accounts import AccountsRepo
from storage.repos.chats import ChatsRepo
from storage.repos.films import FilmsRepo
from storage.repos.links import LinksRepo
from storage.repos.pending import PendingRepo
from storage.repos.projects import ProjectsRepo
from storage.repos.purchases import PurchasesRepo
from storage.repos.shots import ShotsRepo
from storage.repos.takes import TakesRepo
from storage.repos.viewers import ViewersRepo


class UnitOfWork:
    """The repositories of one transaction; the session commits when the block ends."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.chats = ChatsRepo(session)
        self.projects = ProjectsRepo(session)
        self.shots = ShotsRepo(session, self.projects)
        self.takes = TakesRepo(session)
        self.accounts = AccountsRepo(session)
        self.purchases = PurchasesRepo(session)
        self.viewers = ViewersRepo(session)
        self.links = LinksRepo(session)
        self.pending = PendingRepo(session)
        self.films = FilmsRepo(session)
