"""The storyboard Mini App's API on a real database and a real tornado server.

Init data is computed here from a test token, as Telegram would make it; group membership
is what a getChatMember stand-in answers; "Make film" is recorded, not sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.types import Actor, Sender
from bot.services.miniapp import MiniApp
from bot.web import Route, WebServer, WebState
from bot.webapp.api import AppDeps, app_routes
from bot.wiring import Wiring, build_services
from storage.db import Database
from tests.conftest import make_settings
from tests.fakes.webapp import init_data
from tests.integration.test_storyboard import deliver_take, shots_of
from tests.unit.test_film import make_clip

TOKEN = "424242:miniapp-test-token"
LIN, MEI, KAI = 7, 8, 9  # Lin owns things; Mei is in Lin's group; Kai is not
GROUP = -1001


@dataclass
class Studio:
    """A server with Lin's private project (3 shots, one with a delivered clip) and a
    group project, and what was asked of Telegram."""

    client: httpx.AsyncClient
    db: Database
    own_project: int
    group_project: int
    shots: list[int]
    take: int
    statuses: dict[tuple[int, int], str]
    films: list[tuple[Actor, int]] = field(default_factory=list)
    now: Callable[[], float] = time.time

    def auth(self, user_id: int, **kwargs: Any) -> dict[str, str]:
        user = {"id": user_id, "first_name": f"u{user_id}", "language_code": "en"}
        return {"Authorization": "tma " + init_data(TOKEN, user, **kwargs)}

    async def order(self, project_id: int) -> list[int]:
        async with self.db.unit_of_work() as uow:
            return [s.id for s in await uow.shots.project_shots(project_id)]


@pytest.fixture
async def studio(tmp_path: Path, database_url: str) -> AsyncIterator[Studio]:
    settings = make_settings(tmp_path, database_url=database_url, preview_height=240)
    wired: Wiring = await build_services(settings, migrate=False)
    services = wired.services
    lin = await services.accounts.enter(Sender(user_id=LIN, chat_id=LIN, first_name="Lin"))
    shots = await shots_of(services, lin, 3)
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    take = await deliver_take(wired.db, shots[0], clip)
    own = (await services.projects.current_project(lin)).id
    in_group = await services.accounts.enter(
        Sender(user_id=LIN, chat_id=GROUP, chat_type="supergroup", chat_title="Clay club")
    )
    await shots_of(services, in_group, 2)
    group_project = (await services.projects.current_project(in_group)).id

    statuses = {(GROUP, LIN): "creator", (GROUP, MEI): "member", (GROUP, KAI): "left"}

    def status_in_for(user_id: int) -> Any:
        def in_chat(chat_id: int) -> Any:
            async def fetch() -> str:
                return statuses.get((chat_id, user_id), "left")

            return fetch

        return in_chat

    films: list[tuple[Actor, int]] = []

    async def send_film(actor: Actor, project_id: int) -> None:
        films.append((actor, project_id))

    state = WebState(db=wired.db, metrics=None)
    miniapp = MiniApp(
        wired.db,
        services.permissions,
        services.projects,
        services.generation,
        services.soundtracks,
    )
    deps = AppDeps(
        miniapp=miniapp,
        bot_token=TOKEN,
        max_age_s=3600,
        status_in_for=status_in_for,
        send_film=send_film,
        spawn=state.background.spawn,
    )
    server = WebServer("127.0.0.1", 0, [Route(p, h, kw) for p, h, kw in app_routes(deps)], state)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield Studio(client, wired.db, own, group_project, shots, take, statuses, films)
        await state.background.aclose()
    finally:
        await server.stop()
        await wired.aclose()


def no_private_details(text: str) -> None:
    for leak in ("/work", "/tmp", "data/", "clip.mp4", ".jpg", "external_id", "task"):
        assert leak not in text, leak


async def test_a_user_sees_their_projects_and_their_groups_but_nothing_of_others(
    studio: Studio,
) -> None:
    listed = await studio.client.get("/app/api/projects", headers=studio.auth(LIN))
    assert listed.status_code == 200
    assert listed.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in listed.headers
    projects = listed.json()["projects"]
    assert {p["id"] for p in projects} == {studio.own_project, studio.group_project}
    assert next(p for p in projects if p["id"] == studio.group_project)["chat_title"] == (
        "Clay club"
    )

    # Kai left the group (getChatMember says so): neither project, by list or by id.
    kai = await studio.client.get("/app/api/projects", headers=studio.auth(KAI))
    assert kai.status_code == 200 and kai.json() == {"projects": []}
    for project in (studio.own_project, studio.group_project):
        refused = await studio.client.get(f"/app/api/projects/{project}", headers=studio.auth(KAI))
        assert refused.status_code == 404
    kai_moves = await studio.client.post(
        f"/app/api/projects/{studio.own_project}/order",
        headers=studio.auth(KAI),
        json={"shots": studio.shots[::-1]},
    )
    assert kai_moves.status_code == 404
    assert await studio.order(studio.own_project) == studio.shots
    # Mei is a member: the group's project opens by id, Lin's private one never does.
    mei = await studio.client.get(
        f"/app/api/projects/{studio.group_project}", headers=studio.auth(MEI)
    )
    assert mei.status_code == 200 and len(mei.json()["shots"]) == 2
    private = await studio.client.get(
        f"/app/api/projects/{studio.own_project}", headers=studio.auth(MEI)
    )
    assert private.status_code == 404


async def test_a_project_card_has_shots_stills_and_the_clip_by_signed_links_only(
    studio: Studio,
) -> None:
    answer = await studio.client.get(
        f"/app/api/projects/{studio.own_project}", headers=studio.auth(LIN)
    )
    assert answer.status_code == 200
    body = answer.json()
    assert [s["id"] for s in body["shots"]] == studio.shots
    assert [s["number"] for s in body["shots"]] == [1, 2, 3]
    assert body["may_change"] is True and body["group"] is None
    first = body["shots"][0]
    assert first["summary"] and first["still"].startswith("/app/media/still/")
    (take,) = first["takes"]
    assert take["id"] == studio.take and take["state"] == "delivered"
    assert take["clip"].startswith("/app/media/clip/")
    no_private_details(answer.text)

    still = await studio.client.get(first["still"])
    assert still.status_code == 200 and still.headers["Content-Type"] == "image/jpeg"
    assert still.content[:2] == b"\xff\xd8"


async def test_clips_stream_with_range_requests(studio: Studio, tmp_path: Path) -> None:
    body = (
        await studio.client.get(
            f"/app/api/projects/{studio.own_project}", headers=studio.auth(LIN)
        )
    ).json()
    url = body["shots"][0]["takes"][0]["clip"]
    whole = (tmp_path / "clip.mp4").read_bytes()

    full = await studio.client.get(url)
    assert full.status_code == 200 and full.content == whole
    assert full.headers["Accept-Ranges"] == "bytes"

    part = await studio.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"

    tail = await studio.client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole[-50:]
    open_ended = await studio.client.get(url, headers={"Range": f"bytes={len(whole) - 10}-"})
    assert open_ended.status_code == 206 and open_ended.content == whole[-10:]

    beyond = await studio.client.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"

    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    assert (await studio.client.get(forged)).status_code == 403
    other_row = url.replace(f"/clip/{studio.take}/", f"/clip/{studio.take + 1}/")
    assert (await studio.client.get(other_row)).status_code == 403


async def test_forged_expired_and_missing_init_data_get_401_with_nothing_said(
    studio: Studio,
) -> None:
    user = {"id": LIN, "first_name": "Lin"}
    attempts = {
        "none": {},
        "bearer": {"Authorization": "Bearer abc"},
        "garbage": {"Authorization": "tma not-init-data"},
        "other bot": {"Authorization": "tma " + init_data("1:other-bot", user)},
        "expired": studio.auth(LIN, auth_date=int(time.time()) - 3601),
        "future": studio.auth(LIN, auth_date=int(time.time()) + 7200),
    }
    forged = init_data(TOKEN, user).replace(f"%22id%22%3A{LIN}", f"%22id%22%3A{KAI}")
    attempts["user swapped"] = {"Authorization": "tma " + forged}
    for name, headers in attempts.items():
        for method, path in (
            ("GET", "/app/api/projects"),
            ("GET", f"/app/api/projects/{studio.own_project}"),
            ("POST", f"/app/api/projects/{studio.own_project}/order"),
        ):
            answer = await studio.client.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (name, path)
            assert answer.json() == {}, name
    assert await studio.order(studio.own_project) == studio.shots


async def test_reordering_is_saved_in_the_order_the_film_uses(studio: Studio) -> None:
    new_order = [studio.shots[2], studio.shots[0], studio.shots[1]]
    answer = await studio.client.post(
        f"/app/api/projects/{studio.own_project}/order",
        headers=studio.auth(LIN),
        json={"shots": new_order},
    )
    assert answer.status_code == 200
    assert [s["id"] for s in answer.json()["shots"]] == new_order
    assert [s["number"] for s in answer.json()["shots"]] == [1, 2, 3]
    assert await studio.order(studio.own_project) == new_order

    for bad in ({"shots": new_order[:2]}, {"shots": [*new_order, 999]}, {"shots": "1,2"}, {}):
        refused = await studio.client.post(
            f"/app/api/projects/{studio.own_project}/order", headers=studio.auth(LIN), json=bad
        )
        assert refused.status_code == 400, bad
    assert await studio.order(studio.own_project) == new_order


async def test_an_admins_only_group_lets_its_members_look_but_not_change(studio: Studio) -> None:
    async with studio.db.unit_of_work() as uow:
        await uow.chats.set_chat_setting(GROUP, "generate", "admins")
    before = await studio.order(studio.group_project)
    path = f"/app/api/projects/{studio.group_project}"

    seen = await studio.client.get(path, headers=studio.auth(MEI))
    assert seen.status_code == 200 and seen.json()["may_change"] is False
    for change, body in (
        ("order", {"shots": before[::-1]}),
        ("music", {"music": "calm"}),
        ("aspect", {"aspect": "9:16"}),
        ("film", {}),
    ):
        refused = await studio.client.post(f"{path}/{change}", headers=studio.auth(MEI), json=body)
        assert refused.status_code == 403, change
        assert refused.json()["error"] == "group.generate_admins_only"
    assert await studio.order(studio.group_project) == before
    assert studio.films == []

    # The group's creator may; a film with no clip yet is refused at once, with the reason.
    empty = await studio.client.post(f"{path}/film", headers=studio.auth(LIN), json={})
    assert empty.status_code == 400 and empty.json()["error"] == "film.no_clips"
    assert studio.films == []
    moved = await studio.client.post(
        f"{path}/order", headers=studio.auth(LIN), json={"shots": before[::-1]}
    )
    assert moved.status_code == 200
    assert await studio.order(studio.group_project) == before[::-1]


async def test_keep_unkeep_music_drop_and_film(studio: Studio) -> None:
    path = f"/app/api/projects/{studio.own_project}"
    kept = await studio.client.post(
        f"{path}/keep", headers=studio.auth(LIN), json={"take": studio.take}
    )
    assert kept.status_code == 200
    assert kept.json()["shots"][0]["kept_take"] == studio.take
    assert kept.json()["shots"][0]["takes"][0]["kept"] is True

    unkept = await studio.client.post(
        f"{path}/unkeep", headers=studio.auth(LIN), json={"shot": studio.shots[0]}
    )
    assert unkept.status_code == 200 and unkept.json()["shots"][0]["kept_take"] is None

    calm = await studio.client.post(
        f"{path}/music", headers=studio.auth(LIN), json={"music": "calm"}
    )
    assert calm.status_code == 200 and calm.json()["music"] == "calm"
    loud = await studio.client.post(
        f"{path}/music", headers=studio.auth(LIN), json={"music": "loud"}
    )
    assert loud.status_code == 400 and "calm" in loud.json()["message"]

    # The shape, as /aspect sets it: the chat's project card shows the same.
    assert calm.json()["aspect"] is None
    vertical = await studio.client.post(
        f"{path}/aspect", headers=studio.auth(LIN), json={"aspect": "9:16"}
    )
    assert vertical.status_code == 200 and vertical.json()["aspect"] == "9:16"
    async with studio.db.unit_of_work() as uow:
        stored = await uow.projects.get_project(studio.own_project)
        assert stored is not None and stored.aspect == "9:16"
    odd = await studio.client.post(
        f"{path}/aspect", headers=studio.auth(LIN), json={"aspect": "4:3"}
    )
    assert odd.status_code == 400 and odd.json()["error"] == "aspect.usage"

    # Another project's take is not this project's to keep.
    foreign = await studio.client.post(
        f"/app/api/projects/{studio.group_project}/keep",
        headers=studio.auth(LIN),
        json={"take": studio.take},
    )
    assert foreign.status_code == 404

    dropped = await studio.client.post(
        f"{path}/drop", headers=studio.auth(LIN), json={"shot": studio.shots[1]}
    )
    assert dropped.status_code == 200
    assert [s["id"] for s in dropped.json()["shots"]] == [studio.shots[0], studio.shots[2]]
    assert await studio.order(studio.own_project) == [studio.shots[0], studio.shots[2]]

    film = await studio.client.post(f"{path}/film", headers=studio.auth(LIN), json={})
    assert film.status_code == 202
    for _ in range(50):
        if studio.films:
            break
        await asyncio.sleep(0.02)
    (actor, project_id), *_ = studio.films
    assert (actor.user_id, actor.chat_id, project_id) == (LIN, LIN, studio.own_project)


async def test_big_bodies_and_floods_are_refused(studio: Studio) -> None:
    path = f"/app/api/projects/{studio.own_project}/order"
    big = await studio.client.post(
        path, headers=studio.auth(LIN), json={"shots": list(range(5000))}
    )
    assert big.status_code == 413
    answers = [
        (await studio.client.get("/app/api/projects", headers=studio.auth(MEI))).status_code
        for _ in range(40)
    ]
    assert 429 in answers and answers[0] == 200
    # One user's flood is not another's problem.
    assert (
        await studio.client.get("/app/api/projects", headers=studio.auth(KAI))
    ).status_code == 200


async def test_the_page_and_its_files_are_served_without_a_login(studio: Studio) -> None:
    page = await studio.client.get("/app")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "frame-ancestors" not in page.headers["Content-Security-Policy"]
    assert "/app/static/app.js" in page.text
    script = await studio.client.get("/app/static/app.js")
    assert script.status_code == 200 and "tma " in script.text
    assert (await studio.client.get("/app/static/nope.js")).status_code == 404
    assert (await studio.client.get("/app/static/..%2Fapi.py")).status_code == 404


async def test_a_member_cannot_take_someone_elses_shot_out_of_the_story(studio: Studio) -> None:
    before = await studio.order(studio.group_project)
    refused = await studio.client.post(
        f"/app/api/projects/{studio.group_project}/drop",
        headers=studio.auth(MEI),
        json={"shot": before[0]},
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "shot.cancel_not_allowed"
    assert await studio.order(studio.group_project) == before
