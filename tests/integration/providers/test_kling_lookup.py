"""Finding a Kling task by our external id after a crash, through each documented form.

The fake can serve any subset of the three forms (path, query, list), so each fallback is
exercised on its own; an id Kling has never seen must come back "not created" (and be
created once), and anything the lookup cannot decide must fail instead of paying twice.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.errors import ErrorKind, ProviderError
from bot.providers.http import JsonApi, StaticKey
from bot.providers.kling.errors import KLING_TABLE
from bot.providers.kling.lookup import PAGE_SIZE, TaskLookup
from bot.providers.kling.wire import read_answer
from tests.fakes.fake_kling import FakeKling
from tests.integration.providers.test_kling import make_request, provider_for


@pytest.fixture
def fake() -> Any:
    with FakeKling(task_seconds=0.3) as server:
        yield server


async def _create_then_forget(fake: FakeKling, tmp_path: Path) -> tuple[Any, str]:
    """A take whose create went through while the bot crashed before saving the id."""
    request = make_request(tmp_path)
    provider = provider_for(fake)
    try:
        task_id = await provider.submit(request)
    finally:
        await provider.aclose()
    return request, task_id


@pytest.mark.parametrize(
    ("forms", "found_by"),
    [
        ({"path", "query", "list"}, "path"),
        ({"query", "list"}, "query"),
        ({"list"}, "list"),
    ],
)
async def test_a_crashed_create_is_found_through_each_lookup_form(
    fake: FakeKling, tmp_path: Path, forms: set[str], found_by: str
) -> None:
    request, task_id = await _create_then_forget(fake, tmp_path)
    fake.configure({"lookup_forms": sorted(forms)})
    provider = provider_for(fake)
    try:
        assert await provider.find(request) == task_id
    finally:
        await provider.aclose()
    lookups = fake.stats()["lookups"]
    assert lookups.get(found_by, 0) >= 1
    later = {"path": ("query", "list"), "query": ("list",), "list": ()}[found_by]
    assert all(lookups.get(form, 0) == 0 for form in later)  # stopped when found
    assert fake.stats()["creates_by_external_id"] == {request.external_id: 1}


async def test_an_ignored_query_parameter_is_not_mistaken_for_a_match(
    fake: FakeKling, tmp_path: Path
) -> None:
    # Someone else's task is first in the plain list the server sends back when it
    # ignores ?external_task_id=: it must not be taken for ours.
    await _create_then_forget(fake, tmp_path)
    fake.configure({"lookup_forms": ["list"]})
    provider = provider_for(fake)
    try:
        assert await provider.find(make_request(tmp_path)) is None
    finally:
        await provider.aclose()


async def test_unknown_task_is_not_created_and_submit_creates_it_once(
    fake: FakeKling, tmp_path: Path
) -> None:
    request = make_request(tmp_path)
    provider = provider_for(fake)
    try:
        assert await provider.find(request) is None  # path 1203, query empty, list read
        assert set(fake.stats()["lookups"]) == {"path", "query", "list"}
        task_id = await provider.submit(request)
        assert await provider.find(request) == task_id
    finally:
        await provider.aclose()
    assert fake.stats()["creates_by_external_id"] == {request.external_id: 1}


async def test_a_lookup_that_cannot_list_fails_instead_of_saying_not_created(
    fake: FakeKling, tmp_path: Path
) -> None:
    fake.configure({"lookup_forms": ["path"]})  # no query form, no listing
    provider = provider_for(fake)
    try:
        with pytest.raises(ProviderError) as error:
            await provider.find(make_request(tmp_path))
    finally:
        await provider.aclose()
    assert error.value.code == 1202 and not error.value.retryable


async def test_a_lookup_that_errors_is_raised_not_read_as_missing(
    fake: FakeKling, tmp_path: Path
) -> None:
    fake.inject_query(1102, times=1)  # out of money while looking: say so, don't guess
    provider = provider_for(fake)
    try:
        with pytest.raises(ProviderError) as error:
            await provider.find(make_request(tmp_path))
    finally:
        await provider.aclose()
    assert error.value.kind is ErrorKind.BALANCE


async def test_crash_recovery_in_the_runner_uses_the_list_fallback(
    fake: FakeKling, tmp_path: Path
) -> None:
    # The runner's _submit calls find() when an earlier attempt may have created the task.
    request, task_id = await _create_then_forget(fake, tmp_path)
    fake.configure({"lookup_forms": ["list"]})
    provider = provider_for(fake)
    try:
        found = await provider.find(request)
        again = await provider.submit(request) if found is None else found
    finally:
        await provider.aclose()
    assert again == task_id
    assert fake.stats()["create_requests_by_external_id"] == {request.external_id: 1}


class _Pages(httpx.AsyncBaseTransport):
    """A Kling whose list is long: full pages of other tasks, ours on page `ours_on`."""

    def __init__(self, ours_on: int | None, pages: int) -> None:
        self.ours_on, self.pages = ours_on, pages
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url.params))
        if "external_task_id" in request.url.params or request.url.path.count("/") > 3:
            return httpx.Response(404, json={"code": 1203, "message": "task not found"})
        page = int(request.url.params["pageNum"])
        items: list[dict[str, Any]] = []
        if page <= self.pages:
            items = [
                {"task_id": f"{page}-{i}", "task_info": {"external_task_id": f"other-{i}"}}
                for i in range(PAGE_SIZE)
            ]
            if page == self.ours_on:
                items[-1] = {"task_id": "ours", "task_info": {"external_task_id": "take-x"}}
        return httpx.Response(200, json={"code": 0, "data": items})


def _api(transport: httpx.AsyncBaseTransport) -> JsonApi:
    return JsonApi(
        "Kling",
        "http://kling.invalid",
        credentials=StaticKey("Bearer", "k"),
        errors=KLING_TABLE,
        read_answer=read_answer,
        can_look_up=True,
        transport=transport,
    )


async def test_the_list_is_paged_while_pages_come_back_full() -> None:
    transport = _Pages(ours_on=3, pages=5)
    api = _api(transport)
    try:
        assert await TaskLookup(api, "/v1/videos/image2video").find("take-x") == "ours"
    finally:
        await api.aclose()
    assert sum("pageNum=" in seen and "external" not in seen for seen in transport.seen) == 3


async def test_a_list_too_long_to_read_is_ambiguous_and_never_not_created() -> None:
    api = _api(_Pages(ours_on=None, pages=10_000))
    try:
        with pytest.raises(ProviderError) as error:
            await TaskLookup(api, "/v1/videos/image2video").find(f"take-{uuid.uuid4()}")
    finally:
        await api.aclose()
    assert error.value.kind is ErrorKind.UNKNOWN and error.value.may_have_created
