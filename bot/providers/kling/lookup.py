"""Finding a Kling task by our own `external_task_id` after a crash or a lost answer.

Every Kling create is paid for, so before creating again we must know whether an earlier
attempt already made the task. What Kling answers for an unknown id is undocumented
(providers.md 1.3), so the lookup walks the documented forms in turn and only says
"no task" when the listing, which needs no support for our id at all, has been read to
its end without finding it:

1. path form  `GET {sub}/{external_task_id}` (KDOC, KDOC26);
2. query form `GET {sub}?external_task_id=<id>` (KDEMO). A server that ignores the
   parameter answers with the plain list, so items are matched, never taken on trust;
3. listing    `GET {sub}?pageNum=N&pageSize=500`, paging on while pages come back full.

An answer meaning "unknown task" (HTTP 404, codes 1201/1203/1202, a task that is not
ours) moves on to the next form. Any other failure is raised: a failed lookup must never
read as "not created", or the runner would pay for a second task. A listing longer than
`MAX_PAGES` is ambiguous too and raises UNKNOWN with may_have_created, which the runner
treats as final rather than create again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode

from bot.domain.errors import ErrorKind, ProviderError
from bot.providers.http import JsonApi
from bot.providers.kling.errors import NOT_FOUND_CODES

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # KDOC: pageSize in [1, 500]
MAX_PAGES = 20  # 10,000 recent tasks; an account busier than that is checked by hand
UNKNOWN_TASK_STATUSES = frozenset({404})


def _means_unknown(err: ProviderError) -> bool:
    if err.code in NOT_FOUND_CODES:
        return True
    return err.code is None and err.extra.get("http_status") in UNKNOWN_TASK_STATUSES


def _items(data: Any) -> list[dict[str, Any]]:
    """The task objects in an answer's data: one object or a list of them."""
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    return []


def _external_id(item: dict[str, Any]) -> str | None:
    info = item.get("task_info")
    value = info.get("external_task_id") if isinstance(info, dict) else None
    return value if isinstance(value, str) and value else None


def _task_id(item: dict[str, Any]) -> str | None:
    value = item.get("task_id")
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def match(items: Iterable[dict[str, Any]], external_id: str, *, exact: bool) -> str | None:
    """The task id among `items` made for `external_id`.

    `exact=False` (the path form, which looked the id up itself) also accepts a task that
    does not echo its external id; a list answer must name it.
    """
    for item in items:
        found = _external_id(item)
        if found == external_id or (found is None and not exact):
            task_id = _task_id(item)
            if task_id:
                return task_id
    return None


class TaskLookup:
    """Looks tasks up by external id under one task type's sub-path (video or image)."""

    def __init__(self, api: JsonApi, subpath: str, label: str = "find") -> None:
        self._api = api
        self._subpath = subpath.rstrip("/")
        self._label = label

    async def find(self, external_id: str) -> str | None:
        """The task id for `external_id`, None when the listing proves there is none.

        Raises ProviderError when no form could answer either way.
        """
        for form in (self._by_path, self._by_query):
            try:
                found = await form(external_id)
            except ProviderError as err:
                if not _means_unknown(err):
                    raise
                continue
            if found:
                return found
        return await self._by_listing(external_id)

    async def _get(self, path: str, op: str) -> Any:
        return await self._api.retrying(op, lambda: self._api.call("GET", path, op))

    async def _by_path(self, external_id: str) -> str | None:
        data = await self._get(
            f"{self._subpath}/{quote(external_id, safe='')}", f"{self._label} (path)"
        )
        return match(_items(data), external_id, exact=False)

    async def _by_query(self, external_id: str) -> str | None:
        query = urlencode({"external_task_id": external_id, "pageNum": 1, "pageSize": PAGE_SIZE})
        data = await self._get(f"{self._subpath}?{query}", f"{self._label} (query)")
        return match(_items(data), external_id, exact=True)

    async def _by_listing(self, external_id: str) -> str | None:
        for page in range(1, MAX_PAGES + 1):
            query = urlencode({"pageNum": page, "pageSize": PAGE_SIZE})
            data = await self._get(f"{self._subpath}?{query}", f"{self._label} (list)")
            if not isinstance(data, list):
                raise ProviderError(
                    ErrorKind.UNKNOWN,
                    f"{self._label}: task list is not a list; cannot tell whether "
                    f"{external_id} exists",
                    may_have_created=True,
                )
            found = match(data, external_id, exact=True)
            if found:
                return found
            if len(data) < PAGE_SIZE:
                return None  # read to the end: the task was never created
        log.warning(
            "kling %s: %s not among %d recent tasks",
            self._label,
            external_id,
            PAGE_SIZE * MAX_PAGES,
        )
        raise ProviderError(
            ErrorKind.UNKNOWN,
            f"{self._label}: {external_id} not among the {PAGE_SIZE * MAX_PAGES} most recent "
            "tasks; not created again",
            may_have_created=True,
        )
