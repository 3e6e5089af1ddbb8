"""A fake Kling API: a real HTTP server on 127.0.0.1, in a thread or as its own process.

It is strict where the real API is strict (JWT, field types, image limits, camera_control
shape, unique external_task_id) so the client is tested against the contract in
/work/shared/providers.md, and it can misbehave on demand (error codes, a create that
happens but whose answer never arrives, moderation failures, expired or corrupt results).

In-process:   with FakeKling(task_seconds=0.5) as fake: ... fake.url, fake.stats()
As a process: python -m tests.fakes.fake_kling --port 0 --task-seconds 3 --state-file PATH
              (prints the port on the first stdout line; GET /_fake/stats, POST /_fake/config)

Query by external id follows KDOC: `GET /v1/videos/image2video/{task_id or external id}`;
the KDEMO list form `GET /v1/videos/image2video?external_task_id=` is served too. An unknown
id answers HTTP 404 with code 1203 (what real Kling answers is undocumented). The
`lookup_forms` switch ("path", "query", "list") turns each way of finding a task by
external id off, as a server that lacks it would behave: without "path" the path form
knows task ids only; without "query" the parameter is ignored and the plain list comes
back; without "list" a GET on the collection without the parameter answers 1202.
Finished tasks carry `final_unit_deduction` (a string, as KDOC26 shows).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import functools
import io
import json
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.fakes.lifecycle import StopSignals

FAKE_ACCESS_KEY = "fake-access-key-0123456789abcdef"
FAKE_SECRET_KEY = "fake-secret-key-DO-NOT-LEAK-0123456789abcdef"

API_PATH = "/v1/videos/image2video"
FAKE_API_KEY = "api-key-kling-fake-0123456789abcdef-DO-NOT-LEAK"
IMAGE_PATH = "/v1/images/generations"
# KDOC26 image map: Image 3.0 and 2.1; v1, v1-5, v2, v2-new are retired (providers.md 1.11).
IMAGE_MODELS = frozenset({"kling-v3", "kling-v2-1"})
IMAGE_ASPECTS = frozenset({"16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"})
# providers.md 1.4: only these answer image-to-video today; the rest of the doc's enum
# (and anything else) gets HTTP 404 / 1203, as Kling answers a retired model.
LIVE_MODELS = frozenset({"kling-v2-5-turbo", "kling-v2-6", "kling-v3"})
RETIRED_MODELS = frozenset(
    {
        "kling-v1",
        "kling-v1-5",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1",
        "kling-v2-1-master",
    }
)
# The KDOC26 capability map, written out here on its own (not imported from the bot) so a
# mistake in the client's rules shows up as a refusal. model -> mode -> durations.
MODES_OF = {
    "kling-v2-5-turbo": ("std", "pro"),
    "kling-v2-6": ("std", "pro"),
    "kling-v3": ("std", "pro", "4k"),
}
DURATIONS_OF = {
    "kling-v2-5-turbo": ("5", "10"),
    "kling-v2-6": ("5", "10"),
    "kling-v3": tuple(str(n) for n in range(3, 16)),
}
# (model, mode) that take image_tail; v2-6 only while silent.
TAIL_ALLOWED = frozenset(
    {
        ("kling-v2-5-turbo", "pro"),
        ("kling-v2-6", "pro"),
        ("kling-v3", "std"),
        ("kling-v3", "pro"),
        ("kling-v3", "4k"),
    }
)
SOUND_ALLOWED = frozenset(
    {("kling-v2-6", "pro"), ("kling-v3", "std"), ("kling-v3", "pro"), ("kling-v3", "4k")}
)
CAMERA_TYPES = frozenset(
    {"simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"}
)
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
# KDOC capability map: camera control for image-to-video only on kling-v1-5 pro 5 s.
CAMERA_ALLOWED = frozenset({("kling-v1-5", "pro", "5")})
PROMPT_LIMIT = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024

# HTTP status Kling uses with each business code (KDOC error table).
HTTP_FOR_CODE = {
    1000: 401, 1001: 401, 1002: 401, 1003: 401, 1004: 401,
    1100: 429, 1101: 429, 1102: 429, 1103: 403,
    1200: 400, 1201: 400, 1202: 404, 1203: 404,
    1300: 400, 1301: 400, 1302: 429, 1303: 429, 1304: 429,
    5000: 500, 5001: 503, 5002: 504,
}  # fmt: skip
MESSAGE_FOR_CODE = {
    1000: "Authentication failed",
    1001: "Authorization is empty",
    1002: "Authorization is invalid",
    1003: "Authorization is not yet valid",
    1004: "Authorization has expired",
    1102: "Account balance not enough: resource pack depleted",
    1301: "Trigger the content security policy of the platform",
    1302: "The API request is too fast, please slow down",
    1303: "parallel task over resource pack limit",
    5000: "Server internal error",
    5001: "Server temporarily unavailable",
    5002: "Server timeout",
}
RISK_MESSAGE = "Failure to pass the risk control system"
LOOKUP_FORMS = frozenset({"path", "query", "list"})


def units_for(mode: str, duration: str) -> str:
    """Resource-pack units a finished clip costs (IGRID: 2.5 Turbo / 2.6 silent)."""
    per_5s = 2.5 if mode == "pro" else 1.5
    return f"{per_5s * int(duration) / 5:g}"


@dataclass
class Injection:
    """Answer the next `times` matching requests with `code`. `created`: on create, make
    the task anyway (what a 5000/5002 may do in real life)."""

    code: int
    times: int = 1
    created: bool = False
    http_status: int | None = None
    message: str | None = None


@dataclass
class Hang:
    """The next `times` creates make the task, then answer late (`delay`) or never (`drop`)."""

    mode: str = "delay"  # "delay" | "drop"
    seconds: float = 5.0
    times: int = 1


@dataclass
class FakeTask:
    task_id: str
    external_task_id: str | None
    model_name: str
    mode: str
    duration: str
    created_at: float  # fake clock, seconds
    callback_url: str | None = None
    fail_message: str | None = None
    notified_state: str | None = None


class KlingError(Exception):
    def __init__(self, code: int, message: str | None = None, http_status: int | None = None):
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGE_FOR_CODE.get(code, "error")
        self.http_status = http_status or HTTP_FOR_CODE.get(code, 400)


@functools.lru_cache(maxsize=1)
def sample_mp4() -> bytes:
    """A small valid H.264 MP4 (320x240, 1 s at 10 fps), made once with PyAV."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(10):
            frame = np.zeros((240, 320, 3), dtype=np.uint8)
            frame[:, :, 0] = 120 + i * 10
            frame[:, : 32 * (i + 1), 1] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


class FakeKling:
    """The fake's state and behaviour; `start()` serves it over HTTP."""

    def __init__(
        self,
        *,
        access_key: str = FAKE_ACCESS_KEY,
        secret_key: str = FAKE_SECRET_KEY,
        api_key: str = FAKE_API_KEY,
        task_seconds: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        state_file: Path | None = None,
        tick_s: float = 0.05,
    ) -> None:
        self.access_key, self.secret_key = access_key, secret_key
        self.api_key = api_key
        self.task_seconds = task_seconds
        self.clock = clock
        self.clock_offset = 0.0
        self.state_file = state_file
        self._host, self._port = host, port
        self._tick_s = tick_s
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self.reset()
        if state_file is not None and state_file.exists():
            self._load(state_file)

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> FakeKling:
        sample_mp4()  # build the clip before the first request needs it
        server = ThreadingHTTPServer((self._host, self._port), _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._stop.clear()
        serve = functools.partial(server.serve_forever, poll_interval=0.05)
        for name, target in (("http", serve), ("ticker", self._tick_forever)):
            thread = threading.Thread(target=target, daemon=True, name=f"fake-kling-{name}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()

    def __enter__(self) -> FakeKling:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def now(self) -> float:
        return self.clock() + self.clock_offset

    # --- behaviour switches (also reachable via POST /_fake/config) -------------------

    def reset(self) -> None:
        with self._lock:
            self.tasks: dict[str, FakeTask] = {}
            self.create_requests = 0
            self.create_requests_by_external_id: Counter[str] = Counter()
            self.creates_by_external_id: Counter[str] = Counter()
            self.queries = 0
            self.downloads = 0
            self.callbacks_sent = 0
            self.creates_in_flight = 0
            self.max_creates_in_flight = 0
            self.auth_failures: Counter[str] = Counter()
            self.api_key_calls = 0
            self.tokens_seen: list[dict[str, int]] = []
            self.create_bodies: list[dict[str, Any]] = []
            self.inject_create_queue: list[Injection] = []
            self.inject_query_queue: list[Injection] = []
            self.inject_auth_queue: list[Injection] = []
            self.hangs: list[Hang] = []
            self.fail_next: list[str] = []  # failure messages for the next created tasks
            self.result_status: int | None = None
            self.corrupt_results = False
            self.lookup_forms: frozenset[str] = LOOKUP_FORMS
            self.image_tasks: dict[str, FakeTask] = {}
            self.image_create_requests = 0
            self.image_create_bodies: list[dict[str, Any]] = []  # accepted, summarised
            self.image_creates_by_external_id: Counter[str] = Counter()
            self.inject_image_create_queue: list[Injection] = []
            self.lookups: Counter[str] = Counter()  # "path", "query", "list": how found

    def configure(self, config: dict[str, Any]) -> None:
        """Apply a JSON-able config; see the keys below."""
        with self._lock:
            if config.get("reset"):
                self.reset()
            if "task_seconds" in config:
                self.task_seconds = float(config["task_seconds"])
            if "clock_offset" in config:
                self.clock_offset = float(config["clock_offset"])
            for key, queue in (
                ("inject_create", self.inject_create_queue),
                ("inject_query", self.inject_query_queue),
                ("inject_auth", self.inject_auth_queue),
                ("inject_image_create", self.inject_image_create_queue),
            ):
                items = config.get(key) or []
                for item in items if isinstance(items, list) else [items]:
                    queue.append(Injection(**item))
            hangs = config.get("hang_create") or []
            for item in hangs if isinstance(hangs, list) else [hangs]:
                self.hangs.append(Hang(**item))
            if "fail_next_tasks" in config:
                spec = config["fail_next_tasks"]
                self.fail_next.extend([spec.get("message", RISK_MESSAGE)] * int(spec["times"]))
            if "result_status" in config:
                self.result_status = config["result_status"]
            if "corrupt_results" in config:
                self.corrupt_results = bool(config["corrupt_results"])
            if "lookup_forms" in config:
                self.lookup_forms = frozenset(config["lookup_forms"]) & LOOKUP_FORMS

    def inject_create(self, code: int, times: int = 1, *, created: bool = False) -> None:
        self.configure({"inject_create": {"code": code, "times": times, "created": created}})

    def inject_image_create(self, code: int, times: int = 1, *, created: bool = False) -> None:
        self.configure({"inject_image_create": {"code": code, "times": times, "created": created}})

    def inject_query(self, code: int, times: int = 1) -> None:
        self.configure({"inject_query": {"code": code, "times": times}})

    def inject_auth(self, code: int, times: int = 1) -> None:
        self.configure({"inject_auth": {"code": code, "times": times}})

    def hang_create(self, mode: str = "delay", seconds: float = 5.0, times: int = 1) -> None:
        self.configure({"hang_create": {"mode": mode, "seconds": seconds, "times": times}})

    def fail_next_tasks(self, message: str = RISK_MESSAGE, times: int = 1) -> None:
        self.configure({"fail_next_tasks": {"message": message, "times": times}})

    # --- state ------------------------------------------------------------------------

    def state_of(self, task: FakeTask) -> str:
        elapsed = self.now() - task.created_at
        if elapsed < self.task_seconds * 0.2:
            return "submitted"
        if elapsed < self.task_seconds:
            return "processing"
        return "failed" if task.fail_message else "succeed"

    def task_json(self, task: FakeTask) -> dict[str, Any]:
        state = self.state_of(task)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": state,
            "task_status_msg": task.fail_message if state == "failed" else "",
            "task_info": {"external_task_id": task.external_task_id},
            "created_at": int(task.created_at * 1000),
            "updated_at": int(self.now() * 1000),
        }
        if state == "succeed" and task.task_id in self.image_tasks:
            data["final_unit_deduction"] = "8"  # Image 2.1 image-to-image (IGRID)
            url = f"{self.url}/_fake/results/{task.task_id}.png"
            data["task_result"] = {"images": [{"index": 0, "url": url}]}
        elif state == "succeed":
            data["final_unit_deduction"] = units_for(task.mode, task.duration)
            data["task_result"] = {
                "videos": [
                    {
                        "id": f"v{task.task_id}",
                        "url": f"{self.url}/_fake/results/{task.task_id}.mp4",
                        "duration": task.duration,
                    }
                ]
            }
        return data

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "creates": len(self.tasks),
                "create_requests": self.create_requests,
                "creates_by_external_id": dict(self.creates_by_external_id),
                "create_requests_by_external_id": dict(self.create_requests_by_external_id),
                "queries": self.queries,
                "downloads": self.downloads,
                "callbacks_sent": self.callbacks_sent,
                "max_creates_in_flight": self.max_creates_in_flight,
                "auth_failures": dict(self.auth_failures),
                "lookups": dict(self.lookups),
                "image_creates": len(self.image_tasks),
                "image_create_requests": self.image_create_requests,
                "image_creates_by_external_id": dict(self.image_creates_by_external_id),
                "tokens_seen": list(self.tokens_seen),
                "tasks": {
                    tid: {
                        "external_task_id": t.external_task_id,
                        "state": self.state_of(t),
                        "model_name": t.model_name,
                        "mode": t.mode,
                        "duration": t.duration,
                    }
                    for tid, t in self.tasks.items()
                },
            }

    def _save(self) -> None:
        if self.state_file is None:
            return
        payload = {
            "tasks": [asdict(t) for t in self.tasks.values()],
            "create_requests": self.create_requests,
            "create_requests_by_external_id": dict(self.create_requests_by_external_id),
            "creates_by_external_id": dict(self.creates_by_external_id),
        }
        tmp = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, self.state_file)

    def _load(self, path: Path) -> None:
        payload = json.loads(path.read_text() or "{}")
        for item in payload.get("tasks", []):
            task = FakeTask(**item)
            self.tasks[task.task_id] = task
        self.create_requests = payload.get("create_requests", 0)
        self.create_requests_by_external_id.update(
            payload.get("create_requests_by_external_id", {})
        )
        self.creates_by_external_id.update(payload.get("creates_by_external_id", {}))

    def _tick_forever(self) -> None:
        """Send callbacks (flat task object, as one copy of the docs shows) on state changes."""
        while not self._stop.wait(self._tick_s):
            due: list[tuple[str, dict[str, Any]]] = []
            with self._lock:
                for task in self.tasks.values():
                    if not task.callback_url:
                        continue
                    state = self.state_of(task)
                    if state != task.notified_state:
                        task.notified_state = state
                        due.append((task.callback_url, self.task_json(task)))
            for url, body in due:
                self._post_callback(url, body)

    def _post_callback(self, url: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(request, timeout=2):
                pass
            with self._lock:
                self.callbacks_sent += 1

    # --- API handlers (called from the HTTP thread; return (status, json)) -------------

    def check_auth(self, header: str | None) -> None:
        with self._lock:
            if self.inject_auth_queue:
                injection = self._pop(self.inject_auth_queue)
                self.auth_failures[str(injection.code)] += 1
                raise KlingError(injection.code, injection.message, injection.http_status)
        try:
            self._verify_jwt(header)
        except KlingError as err:
            with self._lock:
                self.auth_failures[str(err.code)] += 1
            raise

    def _verify_jwt(self, header: str | None) -> None:
        if not header:
            raise KlingError(1001)
        scheme, sep, token = header.partition(" ")
        if scheme != "Bearer" or not sep or not token or " " in token or token != token.strip():
            raise KlingError(1002, "Authorization must be 'Bearer <token>' with one space")
        if token == self.api_key:  # the console's API key: valid for every model
            with self._lock:
                self.api_key_calls += 1
            return
        try:
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                raise KlingError(1002, "alg must be HS256")
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "require": ["iss", "exp"]},
            )
        except jwt.PyJWTError:
            raise KlingError(1002) from None
        if claims.get("iss") != self.access_key:
            raise KlingError(1000)
        now = self.now()
        with self._lock:
            seen = {"exp": int(claims["exp"]), "nbf": int(claims.get("nbf", 0))}
            if seen not in self.tokens_seen:
                self.tokens_seen.append(seen)
        if claims["exp"] <= now:
            raise KlingError(1004)
        if claims.get("nbf", 0) > now:
            raise KlingError(1003)

    @contextlib.contextmanager
    def create_in_flight(self) -> Iterator[None]:
        """Track how many creates are being handled at once (for the concurrency cap)."""
        with self._lock:
            self.creates_in_flight += 1
            self.max_creates_in_flight = max(self.max_creates_in_flight, self.creates_in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.creates_in_flight -= 1

    def record_create_request(self, body: Any) -> None:
        """Count every create that reaches us, even ones refused for auth or validity."""
        external_id = body.get("external_task_id") if isinstance(body, dict) else None
        with self._lock:
            self.create_requests += 1
            if isinstance(external_id, str):
                self.create_requests_by_external_id[external_id] += 1
            self.create_bodies.append(_summarise(body) if isinstance(body, dict) else {})
            self._save()

    def create(self, body: Any) -> tuple[dict[str, Any], Hang | None]:
        if not isinstance(body, dict):
            raise KlingError(1200, "body must be a JSON object")
        external_id = body.get("external_task_id")
        model, mode, duration = validate_create(body)
        with self._lock:
            injection = self._pop(self.inject_create_queue)
            if injection is not None and not injection.created:
                raise KlingError(injection.code, injection.message, injection.http_status)
            if external_id is not None and any(
                t.external_task_id == external_id for t in self.tasks.values()
            ):
                raise KlingError(1201, f"external_task_id {external_id} already exists")
            task = FakeTask(
                task_id=str(random.randrange(10**17, 10**18)),
                external_task_id=external_id,
                model_name=model,
                mode=mode,
                duration=duration,
                created_at=self.now(),
                callback_url=body.get("callback_url"),
                fail_message=self.fail_next.pop(0) if self.fail_next else None,
            )
            self.tasks[task.task_id] = task
            if external_id is not None:
                self.creates_by_external_id[external_id] += 1
            self._save()
            if injection is not None:  # created, but the answer is an error
                raise KlingError(injection.code, injection.message, injection.http_status)
            hang = self._pop(self.hangs)
            data = self.task_json(task)
            data.pop("task_status_msg", None)
            return data, hang

    def query(self, ident: str, images: bool = False) -> dict[str, Any]:
        with self._lock:
            self.queries += 1
            injection = self._pop(self.inject_query_queue)
            if injection is not None:
                raise KlingError(injection.code, injection.message, injection.http_status)
            collection = self.image_tasks if images else self.tasks
            task = collection.get(ident)
            if task is None:
                self.lookups["path"] += 1
            if task is None and "path" in self.lookup_forms:
                task = next((t for t in collection.values() if t.external_task_id == ident), None)
            if task is None:
                raise KlingError(1203, "task not found")
            return self.task_json(task)

    def list_tasks(
        self, params: dict[str, list[str]], images: bool = False
    ) -> list[dict[str, Any]]:
        page = int(params.get("pageNum", ["1"])[0])
        size = int(params.get("pageSize", ["30"])[0])
        if not (1 <= page <= 1000 and 1 <= size <= 500):
            raise KlingError(1201, "pageNum/pageSize out of range")
        wanted = params.get("external_task_id", [None])[0]
        with self._lock:
            if "query" not in self.lookup_forms:
                wanted = None  # an unknown parameter is ignored: the plain list
            elif wanted is not None:
                self.lookups["query"] += 1
            if wanted is None and "list" not in self.lookup_forms:
                raise KlingError(1202, "invalid request method or path")
            if wanted is None:
                self.lookups["list"] += 1
            self.queries += 1
            tasks = [  # newest first, as Kling lists them
                self.task_json(t)
                for t in sorted(
                    (self.image_tasks if images else self.tasks).values(),
                    key=lambda t: -t.created_at,
                )
                if wanted is None or t.external_task_id == wanted
            ]
        return tasks[(page - 1) * size : page * size]

    def create_image(self, body: Any) -> dict[str, Any]:
        """POST /v1/images/generations (KDOC26 rules, providers.md 1.11)."""
        with self._lock:
            self.image_create_requests += 1
        if not isinstance(body, dict):
            raise KlingError(1200, "body must be a JSON object")
        model = validate_image_create(body)
        external_id = body.get("external_task_id")
        with self._lock:
            self.image_create_bodies.append(_summarise(body))
            injection = self._pop(self.inject_image_create_queue)
            if injection is not None and not injection.created:
                raise KlingError(injection.code, injection.message, injection.http_status)
            if external_id is not None and any(
                t.external_task_id == external_id for t in self.image_tasks.values()
            ):
                raise KlingError(1201, f"external_task_id {external_id} already exists")
            task = FakeTask(
                task_id=str(random.randrange(10**17, 10**18)),
                external_task_id=external_id,
                model_name=model,
                mode="std",
                duration="0",
                created_at=self.now(),
                fail_message=self.fail_next.pop(0) if self.fail_next else None,
            )
            self.image_tasks[task.task_id] = task
            if external_id is not None:
                self.image_creates_by_external_id[external_id] += 1
            if injection is not None:  # created, but the answer is an error
                raise KlingError(injection.code, injection.message, injection.http_status)
            data = self.task_json(task)
            data.pop("task_status_msg", None)
            return data

    def result(self, task_id: str) -> tuple[int, bytes, str]:
        if task_id in self.image_tasks:
            with self._lock:
                self.downloads += 1
                done = self.state_of(self.image_tasks[task_id]) == "succeed"
            return (200, sample_png(), "image/png") if done else (404, b"not found", "text/plain")
        with self._lock:
            self.downloads += 1
            task = self.tasks.get(task_id)
            if self.result_status is not None:
                return self.result_status, b"<Error>AccessDenied</Error>", "application/xml"
            if task is None or self.state_of(task) != "succeed":
                return 404, b"not found", "text/plain"
            if self.corrupt_results:
                return 200, b"\x00\x00\x00\x18notreallyanmp4" * 512, "video/mp4"
        return 200, sample_mp4(), "video/mp4"

    @staticmethod
    def _pop(queue: list[Any]) -> Any:
        if not queue:
            return None
        item = queue[0]
        item.times -= 1
        if item.times <= 0:
            queue.pop(0)
        return item


@functools.lru_cache(maxsize=1)
def sample_png() -> bytes:
    """A 640x480 PNG standing in for a generated still."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 80)).save(out, "PNG")
    return out.getvalue()


def validate_image_create(body: dict[str, Any]) -> str:
    """KDOC26 field rules for POST /v1/images/generations; raises KlingError(1201)."""
    model = body.get("model_name", "kling-v3")
    if model not in IMAGE_MODELS:
        raise KlingError(1201, f"model_name {model!r} is invalid")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt or len(prompt) > PROMPT_LIMIT:
        raise KlingError(1201, "prompt is required, at most 2500 characters")
    if body.get("image") is not None:
        _decode_image(body["image"], "image")
        if body.get("negative_prompt") is not None:
            raise KlingError(1201, "negative_prompt is not supported with image")
    for key in ("image_fidelity", "human_fidelity"):
        if key in body:
            if model != "kling-v2-1":
                raise KlingError(1201, f"{key} is only supported by kling-v2-1")
            if not isinstance(body[key], int | float) or not 0 <= body[key] <= 1:
                raise KlingError(1201, f"{key} must be within [0, 1]")
    n = body.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 9:
        raise KlingError(1201, "n must be within [1, 9]")
    if body.get("aspect_ratio", "16:9") not in IMAGE_ASPECTS:
        raise KlingError(1201, "aspect_ratio is invalid")
    if body.get("external_task_id") is not None and not isinstance(body["external_task_id"], str):
        raise KlingError(1201, "external_task_id must be a string")
    return model


def _decode_image(value: Any, name: str) -> dict[str, Any]:
    """Check an image field the way KDOC describes it; return facts for tests."""
    from PIL import Image

    if not isinstance(value, str) or not value:
        raise KlingError(1201, f"{name} must be a non-empty string")
    if value.startswith(("http://", "https://")):
        return {"url": True}
    if value.startswith("data:"):
        raise KlingError(1201, f"{name}: base64 must not carry a data: prefix")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KlingError(1201, f"{name} is not valid base64") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise KlingError(1201, f"{name} larger than 10MB")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            fmt, (w, h) = img.format, img.size
    except OSError:
        raise KlingError(1201, f"{name} is not an image") from None
    if fmt not in ("JPEG", "PNG"):
        raise KlingError(1201, f"{name} format {fmt} not supported")
    if min(w, h) < 300:
        raise KlingError(1201, f"{name} must be at least 300px")
    if max(w, h) > 2.5 * min(w, h):
        raise KlingError(1201, f"{name} aspect ratio outside 1:2.5 ~ 2.5:1")
    return {"format": fmt, "width": w, "height": h, "bytes": len(raw)}


def validate_create(body: dict[str, Any]) -> tuple[str, str, str]:
    """KDOC field rules for POST /v1/videos/image2video; raises KlingError(1201)."""
    model = body.get("model_name", "kling-v1")  # the doc's default is a retired model
    if model not in LIVE_MODELS:
        raise KlingError(1203, f"model_name {model!r} not found")
    mode = body.get("mode", "std")
    if mode not in MODES_OF[model]:
        raise KlingError(1201, f"mode {mode!r} is not supported by {model}")
    duration = body.get("duration", "5")
    if duration not in DURATIONS_OF[model]:  # a string; an int 5 is rejected
        raise KlingError(1201, f"duration {duration!r} is not supported by {model}")
    sound = body.get("sound", "off")
    if sound not in ("on", "off"):
        raise KlingError(1201, "sound must be 'on' or 'off'")
    if sound == "on" and (model, mode) not in SOUND_ALLOWED:
        raise KlingError(1201, f"sound is not supported by {model} in {mode} mode")
    if body.get("image_tail") is not None:
        if (model, mode) not in TAIL_ALLOWED:
            raise KlingError(1201, f"image_tail is not supported by {model} in {mode} mode")
        if sound == "on" and model == "kling-v2-6":
            raise KlingError(1201, "image_tail is not supported together with sound")
    if body.get("multi_shot"):
        raise KlingError(1201, "multi_shot needs multi_prompt")  # never sent by the bot
    for key in ("prompt", "negative_prompt"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > PROMPT_LIMIT):
            raise KlingError(1201, f"{key} must be a string of at most 2500 characters")
    if "cfg_scale" in body:
        cfg = body["cfg_scale"]
        if model in LIVE_MODELS:
            raise KlingError(1201, f"cfg_scale is not supported by {model}")
        if not isinstance(cfg, int | float) or not 0 <= cfg <= 1:
            raise KlingError(1201, "cfg_scale must be within [0, 1]")
    if "image" not in body:
        raise KlingError(1201, "image is required")
    _decode_image(body["image"], "image")
    if body.get("image_tail") is not None:
        _decode_image(body["image_tail"], "image_tail")
    camera = body.get("camera_control")
    if camera is not None:
        _validate_camera(camera, model, mode, duration)
        if body.get("image_tail") is not None:
            raise KlingError(1201, "image_tail and camera_control cannot be used together")
    for key in ("external_task_id", "callback_url"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise KlingError(1201, f"{key} must be a string")
    return model, mode, duration


def _validate_camera(camera: Any, model: str, mode: str, duration: str) -> None:
    if not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES:
        raise KlingError(1201, "camera_control.type is invalid")
    config = camera.get("config")
    if camera["type"] == "simple":
        if not isinstance(config, dict) or set(config) - set(CAMERA_AXES):
            raise KlingError(1201, "camera_control.config is invalid")
        values = [config.get(axis, 0) for axis in CAMERA_AXES]
        if any(not isinstance(v, int | float) or not -10 <= v <= 10 for v in values):
            raise KlingError(1201, "camera_control.config values must be within [-10, 10]")
        if sum(1 for v in values if v != 0) != 1:
            raise KlingError(1201, "camera_control.config needs exactly one non-zero value")
    elif config is not None:
        raise KlingError(1201, "camera_control.config must be empty for this type")
    if (model, mode, duration) not in CAMERA_ALLOWED:
        raise KlingError(1201, f"camera_control not supported for {model} {mode} {duration}s")


def _summarise(body: dict[str, Any]) -> dict[str, Any]:
    """The create body as tests want to see it: images replaced by a few facts."""
    summary = dict(body)
    for key in ("image", "image_tail"):
        value = body.get(key)
        if isinstance(value, str):
            facts: dict[str, Any] = {
                "length": len(value),
                "data_prefix": value.startswith("data:"),
            }
            with contextlib.suppress(KlingError):
                facts.update(_decode_image(value, key))
            summary[key] = facts
    return summary


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeKling/1"

    @property
    def fake(self) -> FakeKling:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(
        self,
        status: int,
        payload: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _ok(self, data: Any) -> None:
        self._send(200, {"code": 0, "message": "SUCCEED", "request_id": _rid(), "data": data})

    def _fail(self, err: KlingError) -> None:
        payload = {"code": err.code, "message": err.message, "request_id": _rid(), "data": None}
        self._send(err.http_status, payload)

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise KlingError(1200, "body is not JSON") from None

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        try:
            if parts.path == "/_fake/stats":
                return self._send(200, self.fake.stats())
            if parts.path.startswith("/_fake/results/"):
                task_id = parts.path.rsplit("/", 1)[-1].removesuffix(".mp4").removesuffix(".png")
                status, body, ctype = self.fake.result(task_id)
                return self._send(status, raw=body, content_type=ctype)
            if parts.path == API_PATH:
                self.fake.check_auth(self.headers.get("Authorization"))
                return self._ok(self.fake.list_tasks(parse_qs(parts.query)))
            if parts.path.startswith(API_PATH + "/"):
                self.fake.check_auth(self.headers.get("Authorization"))
                return self._ok(self.fake.query(parts.path[len(API_PATH) + 1 :]))
            if parts.path == IMAGE_PATH:
                self.fake.check_auth(self.headers.get("Authorization"))
                return self._ok(self.fake.list_tasks(parse_qs(parts.query), images=True))
            if parts.path.startswith(IMAGE_PATH + "/"):
                self.fake.check_auth(self.headers.get("Authorization"))
                return self._ok(self.fake.query(parts.path[len(IMAGE_PATH) + 1 :], images=True))
            raise KlingError(1202, "invalid request method or path")
        except KlingError as err:
            self._fail(err)

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        try:
            if path == "/_fake/config":
                self.fake.configure(self._json_body() or {})
                return self._send(200, {"ok": True})
            if path == "/_fake/reset":
                self.fake.reset()
                return self._send(200, {"ok": True})
            if path == IMAGE_PATH:
                self.fake.check_auth(self.headers.get("Authorization"))
                return self._ok(self.fake.create_image(self._json_body()))
            if path != API_PATH:
                raise KlingError(1202, "invalid request method or path")
            body = self._json_body()
            self.fake.record_create_request(body)
            self.fake.check_auth(self.headers.get("Authorization"))
        except KlingError as err:
            return self._fail(err)
        with self.fake.create_in_flight():
            answer = self._create(body)
        # Answered only once it no longer counts as in flight: a client holding one slot
        # sends its next create the moment it reads this answer, and that create must not
        # find this one still counted.
        answer()

    def _create(self, body: Any) -> Callable[[], None]:
        """Carry out a create; what to answer, sent by the caller."""
        try:
            data, hang = self.fake.create(body)
        except KlingError as err:
            return functools.partial(self._fail, err)
        if hang is not None and hang.mode == "drop":
            self.close_connection = True  # the task exists, but no answer ever comes
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return lambda: None
        if hang is not None:
            time.sleep(hang.seconds)  # the client has usually given up by now
        return functools.partial(self._ok, data)


def _rid() -> str:
    return f"fake-{random.randrange(16**12):012x}"


class CallbackReceiver:
    """A tiny HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._cond:
                    receiver.bodies.append(body)
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=functools.partial(self._server.serve_forever, 0.05), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/kling/callback"

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.bodies), timeout=timeout)

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake Kling API for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--task-seconds", type=float, default=3.0)
    parser.add_argument("--state-file", type=Path, default=None)
    parser.add_argument("--access-key", default=FAKE_ACCESS_KEY)
    parser.add_argument("--secret-key", default=FAKE_SECRET_KEY)
    args = parser.parse_args(argv)
    stop = StopSignals()  # first: a signal from now on stops the fake cleanly
    fake = FakeKling(
        access_key=args.access_key,
        secret_key=args.secret_key,
        task_seconds=args.task_seconds,
        host=args.host,
        port=args.port,
        state_file=args.state_file,
    )
    fake.start()
    print(fake.port, flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
