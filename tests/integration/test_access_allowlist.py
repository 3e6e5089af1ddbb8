"""The allowlist and group admin checks, on real databases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.domain.errors import StudioError
from bot.domain.types import Actor, Verdict
from bot.services.access import Access
from bot.services.groups import Groups
from bot.services.permissions import Permissions
from storage.db import Database

ALICE, BOB, OPERATOR = 8_001, 8_002, 8_999
GROUP = -1_008_000_000_001


def access_for(db: Database, tmp_path: Path, allowed_ids: tuple[int, ...] = ()) -> Access:
    return Access(db, Permissions(db, (OPERATOR,)), allowed_ids)


async def may_generate(
    permissions: Permissions, user_id: int, fetch: Callable[[], Awaitable[str]]
) -> bool:
    """Whether a member of GROUP may start paid work there (the one check that spends)."""
    try:
        await permissions.check_may_spend(Actor(user_id, GROUP, "supergroup"), fetch)
    except StudioError as refused:
        assert refused.key == "group.generate_admins_only"
        return False
    return True


async def test_without_a_list_everyone_is_admitted(database: Database, tmp_path: Path) -> None:
    access = access_for(database, tmp_path)
    assert await access.admit(ALICE, ALICE) is Verdict.ADMIT
    await access.set(BOB, False, OPERATOR)  # /deny works even with no list
    assert await access.admit(BOB, BOB) is Verdict.REFUSE
    assert await access.admit(BOB, BOB) is Verdict.SILENT


async def test_a_seeded_list_refuses_others_once_and_admins_change_it_at_run_time(
    database: Database, tmp_path: Path
) -> None:
    access = access_for(database, tmp_path, allowed_ids=(ALICE,))
    assert await access.admit(ALICE, ALICE) is Verdict.ADMIT
    assert await access.admit(OPERATOR, OPERATOR) is Verdict.ADMIT
    assert await access.admit(BOB, BOB) is Verdict.REFUSE  # told once…
    assert await access.admit(BOB, BOB) is Verdict.SILENT  # …then left alone
    await access.set(BOB, True, OPERATOR)
    assert await access.admit(BOB, BOB) is Verdict.ADMIT
    await access.set(ALICE, False, OPERATOR)  # /deny beats the seed
    assert await access.admit(ALICE, ALICE) is Verdict.REFUSE
    # A new Access (another instance, or after a restart) sees the same list.
    again = access_for(database, tmp_path, allowed_ids=(ALICE,))
    assert await again.admit(BOB, BOB) is Verdict.ADMIT
    assert await again.admit(ALICE, ALICE) is Verdict.SILENT


async def test_an_allowed_group_admits_all_its_members(database: Database, tmp_path: Path) -> None:
    access = access_for(database, tmp_path)
    await access.set(GROUP, True, OPERATOR)  # the first /allow switches the list on
    assert await access.admit(BOB, GROUP) is Verdict.ADMIT
    assert await access.admit(BOB, BOB) is Verdict.REFUSE  # but not in private
    await access.set(ALICE, False, OPERATOR)
    assert await access.admit(ALICE, GROUP) is Verdict.REFUSE


async def test_generate_policy_and_the_member_status_cache(database: Database) -> None:
    permissions = Permissions(database, (OPERATOR,))
    groups = Groups(database, permissions)
    async with database.unit_of_work() as uow:
        await uow.chats.upsert_chat(GROUP, type="supergroup", title="Clay club")
    lookups: list[str] = []

    def status(value: str):  # type: ignore[no-untyped-def]
        async def fetch() -> str:
            lookups.append(value)
            return value

        return fetch

    assert await groups.policy(GROUP) == "everyone"
    assert await may_generate(permissions, BOB, status("member"))
    assert lookups == []  # everyone may: nobody is looked up
    await groups.set_policy(GROUP, "admins")
    assert not await may_generate(permissions, BOB, status("member"))
    assert not await may_generate(permissions, BOB, status("administrator"))  # cached
    assert lookups == ["member"]
    assert await may_generate(permissions, ALICE, status("creator"))
    assert await may_generate(permissions, OPERATOR, status("member"))  # operators always
    short = Permissions(database, (OPERATOR,), member_ttl_s=0)
    assert await may_generate(short, BOB, status("administrator"))


async def test_denying_the_last_allowed_user_never_opens_the_bot(
    database: Database, tmp_path: Path
) -> None:
    stranger = 8_003
    access = access_for(database, tmp_path)
    await access.set(ALICE, True, OPERATOR)
    await access.set(ALICE, False, OPERATOR)  # the list is empty now
    assert await access.admit(stranger, stranger) is Verdict.REFUSE
    assert await access.admit(ALICE, ALICE) is Verdict.REFUSE
    assert await access.mode() == "allowlist"
    # Only an operator's explicit /access open lets everyone in…
    await access.set_mode("open", OPERATOR)
    assert await access.admit(BOB, BOB) is Verdict.ADMIT
    assert await access.admit(ALICE, ALICE) is Verdict.SILENT  # …except those denied
    # …and /access allowlist turns the (empty) list back on.
    await access.set_mode("allowlist", OPERATOR)
    assert await access.admit(BOB + 10, BOB + 10) is Verdict.REFUSE


async def test_a_seeded_list_stays_on_when_every_seeded_id_is_denied(
    database: Database, tmp_path: Path
) -> None:
    access = access_for(database, tmp_path, allowed_ids=(ALICE,))
    await access.set(ALICE, False, OPERATOR)
    assert await access.admit(BOB, BOB) is Verdict.REFUSE
    # The seed removed from the environment later: the stored mode keeps the list on.
    unseeded = access_for(database, tmp_path)
    assert await unseeded.admit(BOB + 1, BOB + 1) is Verdict.REFUSE


async def test_updates_arriving_together_are_judged_as_if_each_came_alone(
    database: Database, tmp_path: Path
) -> None:
    # The gate writes a burst's updates in one transaction: an attacker's flood of
    # updates, sent to land together, must get exactly what it would one by one.
    import asyncio

    from bot.domain.types import Sender
    from bot.files import DataFolders
    from bot.services.accounts import Accounts
    from bot.services.budget import Budget, Quotas, parse_costs
    from bot.services.capacity import HeavyWork

    access = access_for(database, tmp_path, allowed_ids=(ALICE,))
    await access.set(BOB, False, OPERATOR)
    budget = Budget(database, parse_costs(None), Quotas())
    accounts = Accounts(database, access, budget, {}, HeavyWork(1), DataFolders(tmp_path))
    mallory = 8_003

    def arrive(update_id: int, user_id: int) -> Awaitable[object]:
        sender = Sender(user_id, user_id, first_name=str(user_id))
        return accounts.admit_update(update_id, user_id, user_id, check_access=True, sender=sender)

    answers = await asyncio.gather(
        arrive(1, ALICE),
        arrive(2, mallory),  # a stranger: told once…
        arrive(3, mallory),  # …then left alone, though both were read together
        arrive(4, BOB),  # denied by an operator: refused, then silent
        arrive(4, BOB),  # the same update delivered twice: a redelivery
        arrive(5, BOB),
        arrive(6, OPERATOR),
    )
    assert [(a.duplicate, a.verdict) for a in answers] == [  # type: ignore[attr-defined]
        (False, Verdict.ADMIT),
        (False, Verdict.REFUSE),
        (False, Verdict.SILENT),
        (False, Verdict.REFUSE),
        (True, Verdict.ADMIT),
        (False, Verdict.SILENT),
        (False, Verdict.ADMIT),
    ]
    # Only those let in were recorded as users; nobody refused got a row or an actor.
    assert [a.actor is not None for a in answers] == [  # type: ignore[attr-defined]
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    async with database.unit_of_work() as uow:
        assert await uow.chats.get_user(ALICE) is not None
        assert await uow.chats.get_user(mallory) is None
        assert await uow.chats.get_user(BOB) is None
