"""A fake Vidu API: a real HTTP server on 127.0.0.1, strict where the contract is strict.

Serves `POST /ent/v2/img2video` (Token auth, exactly one image as a data URI with its
prefix, a known model) and `POST /ent/v2/start-end2video` (exactly two, aspects within
0.8–1.25 of each other), refusing what VDOC says Vidu refuses: a prompt over the model's
limit, an image decoding to 10 MB or more, outside 1:4–4:1 or under 128 px, a duration
the model does not take. Also `GET /ent/v2/tasks/{id}/creations` (created → queueing →
processing → success over `task_seconds`), `GET /ent/v2/tasks` (newest first, paged by
`pager.pagesz` ≤ 100 and `pager.page_token`, each task with the `payload` its create
carried), and the result files. It misbehaves on demand: a status code on the next
creates or lists, a failed task with an err_code, an expired result, a list without payloads.

    with FakeVidu(task_seconds=0.3) as fake: ... fake.url, fake.creates
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from tests.fakes.fake_kling import sample_mp4

FAKE_VIDU_KEY = "vda_fake-key-DO-NOT-LEAK-0123456789"
BASE_PATH = "/ent/v2"
KNOWN_MODELS = frozenset(
    {
        "viduq3-pro",
        "viduq3-turbo",
        "viduq3-pro-fast",
        "viduq2-pro",
        "viduq2-pro-fast",
        "viduq2-turbo",
        "viduq1",
        "viduq1-classic",
        "vidu2.0",
    }
)
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # a base64 image must decode to under this
CREATE_PATHS = {f"{BASE_PATH}/img2video": 1, f"{BASE_PATH}/start-end2video": 2}


def prompt_limit(model: str) -> int:
    """VDOC's limit for the model's generation: q1 / 2.0 1500, q2 2000, q3 5000."""
    if model.startswith("viduq3"):
        return 5000
    if model.startswith("viduq2"):
        return 2000
    return 1500


@dataclass
class FakeViduTask:
    task_id: str
    body: dict[str, Any]
    created_at: float
    endpoint: str = "img2video"
    fail_code: str | None = None
    expired: bool = False


@dataclass
class FakeVidu:
    task_seconds: float = 0.3
    tasks: dict[str, FakeViduTask] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)  # accepted create bodies
    auth_headers: list[str] = field(default_factory=list)
    polls: int = 0
    cancelled: list[str] = field(default_factory=list)  # task ids asked to stop
    endpoints: list[str] = field(default_factory=list)  # the path of each accepted create
    lists: list[dict[str, list[str]]] = field(default_factory=list)  # task-list queries
    list_shows_payload: bool = True
    _list_failures: list[int] = field(default_factory=list)
    _create_failures: list[tuple[int, str]] = field(default_factory=list)
    _fail_tasks: list[str] = field(default_factory=list)
    _expire_results: bool = False
    create_answer_delay_s: float = 0.0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _mp4: bytes = b""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeVidu:
        self._mp4 = sample_mp4()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeVidu:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """What VIDU_API_URL is set to."""
        return self.root + BASE_PATH

    # --- misbehaviour on demand -----------------------------------------------------------

    def fail_next_creates(self, status: int, reason: str, times: int = 1) -> None:
        with self._lock:
            self._create_failures.extend([(status, reason)] * times)

    def fail_next_lists(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._list_failures.extend([status] * times)

    def fail_next_tasks(self, err_code: str = "AuditSubmitIllegal", times: int = 1) -> None:
        with self._lock:
            self._fail_tasks.extend([err_code] * times)

    def expire_results(self) -> None:
        self._expire_results = True

    # --- behaviour ------------------------------------------------------------------------

    def create(
        self, auth: str | None, body: Any, path: str = f"{BASE_PATH}/img2video"
    ) -> tuple[int, dict[str, Any]]:
        self.auth_headers.append(auth or "")
        if auth != f"Token {FAKE_VIDU_KEY}":
            return 401, {"reason": "Unauthorized", "message": "invalid api key"}
        with self._lock:
            if self._create_failures:
                status, reason = self._create_failures.pop(0)
                return status, {"reason": reason}
        problem = validate_create(body, CREATE_PATHS[path])
        if problem:
            return 400, {"reason": "BadRequest", "message": problem}
        endpoint = path.rsplit("/", 1)[-1]
        task = FakeViduTask(uuid.uuid4().hex[:16], body, time.monotonic(), endpoint)
        with self._lock:
            if self._fail_tasks:
                task.fail_code = self._fail_tasks.pop(0)
            task.expired = self._expire_results
            self.tasks[task.task_id] = task
            self.creates.append(body)
            self.endpoints.append(endpoint)
        return 200, {
            "task_id": task.task_id,
            "state": "created",
            "model": body["model"],
            "duration": body["duration"],
            "credits": 10,
            "payload": body.get("payload", ""),
        }

    def creations(self, auth: str | None, task_id: str) -> tuple[int, dict[str, Any]]:
        self.polls += 1
        if auth != f"Token {FAKE_VIDU_KEY}":
            return 401, {"reason": "Unauthorized"}
        task = self.tasks.get(task_id)
        if task is None:
            return 404, {"reason": "TaskNotFound"}
        return 200, self.task_view(task)

    def task_view(self, task: FakeViduTask) -> dict[str, Any]:
        """A task as the poll and the list show it."""
        task_id = task.task_id
        age = (time.monotonic() - task.created_at) / max(self.task_seconds, 1e-6)
        state = (
            "created"
            if age < 0.2
            else "queueing"
            if age < 0.4
            else "processing"
            if age < 1
            else "failed"
            if task.fail_code
            else "success"
        )
        answer: dict[str, Any] = {"id": task_id, "state": state, "credits": 10, "creations": []}
        if state == "failed":
            answer["err_code"] = task.fail_code
        if state == "success":
            answer["creations"] = [
                {
                    "id": f"c-{task_id}",
                    "url": f"{self.root}/_files/{task_id}.mp4",
                    "cover_url": f"{self.root}/_files/{task_id}.jpg",
                    "watermarked_url": "",
                }
            ]
        return answer

    def task_list(self, auth: str | None, query: dict[str, list[str]]) -> tuple[int, Any]:
        """`GET /tasks`: newest first, a page at a time, with each create's payload."""
        if auth != f"Token {FAKE_VIDU_KEY}":
            return 401, {"reason": "Unauthorized"}
        with self._lock:
            self.lists.append(query)
            if self._list_failures:
                return self._list_failures.pop(0), {"reason": "InternalError"}
            tasks = sorted(self.tasks.values(), key=lambda t: t.created_at, reverse=True)
        try:
            size = int(query.get("pager.pagesz", ["10"])[0])
            start = int(query.get("pager.page_token", ["0"])[0])
        except ValueError:
            return 400, {"reason": "BadRequest", "message": "pager fields are numbers"}
        if not 1 <= size <= 100:
            return 400, {"reason": "BadRequest", "message": "pager.pagesz must be 1-100"}
        page = []
        for task in tasks[start : start + size]:
            view = self.task_view(task)
            view["model"] = task.body.get("model")
            if self.list_shows_payload:
                view["payload"] = task.body.get("payload", "")
            page.append(view)
        more = start + size < len(tasks)
        return 200, {"tasks": page, "next_page_token": str(start + size) if more else ""}

    def cancel(self, auth: str | None, task_id: str) -> tuple[int, dict[str, Any]]:
        if auth != f"Token {FAKE_VIDU_KEY}":
            return 401, {"reason": "Unauthorized"}
        if task_id not in self.tasks:
            return 404, {"reason": "TaskNotFound"}
        with self._lock:
            self.cancelled.append(task_id)
        return 200, {}

    def result(self, task_id: str) -> tuple[int, bytes]:
        task = self.tasks.get(task_id)
        if task is None or task.expired:
            return 403, b"AccessDenied"
        return 200, self._mp4


def validate_create(body: Any, image_count: int = 1) -> str | None:
    """What the real API would refuse, as a short reason (None: accepted)."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    model = body.get("model")
    if model not in KNOWN_MODELS:
        return f"model is not supported: {model!r}"
    images = body.get("images")
    if not isinstance(images, list) or len(images) != image_count:
        return f"images must hold exactly {image_count} image(s)"
    ratios = []
    for image in images:
        problem, ratio = validate_image(image)
        if problem:
            return problem
        ratios.append(ratio)
    if image_count == 2 and not 0.8 <= ratios[0] / ratios[1] <= 1.25:
        return "start and end frames must have similar aspect ratios (0.8-1.25)"
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        return "prompt must be a string"
    if len(prompt) > prompt_limit(model):
        return f"prompt exceeds {prompt_limit(model)} characters"
    duration = body.get("duration")
    if not isinstance(duration, int) or not 1 <= duration <= 16:
        return "duration must be an integer number of seconds"
    q2_max = 8 if image_count == 2 else 10
    if model.startswith("viduq2") and duration > q2_max:
        return f"viduq2 takes at most {q2_max} s here"
    if model.startswith("viduq1") and duration != 5:
        return "viduq1 takes 5 s"
    if model == "vidu2.0" and duration not in (4, 8):
        return "vidu2.0 takes 4 or 8 s"
    if "audio" in body and not isinstance(body["audio"], bool):
        return "audio must be a boolean"
    if body.get("movement_amplitude", "auto") not in ("auto", "small", "medium", "large"):
        return "movement_amplitude must be auto, small, medium or large"
    return None


def validate_image(image: Any) -> tuple[str | None, float]:
    """One image of a create: a problem, or None and its aspect (width / height)."""
    if not isinstance(image, str) or not image.startswith("data:image/"):
        return "image must be a URL or a data URI with its prefix", 0.0
    head, _, data = image.partition(",")
    if not head.endswith(";base64"):
        return "data URI must be base64", 0.0
    try:
        raw = base64.b64decode(data, validate=True)
        if len(raw) >= MAX_IMAGE_BYTES:
            return "image must decode to under 10 MB", 0.0
        with Image.open(io.BytesIO(raw)) as decoded:
            if decoded.format not in ("JPEG", "PNG", "WEBP"):
                return "image format not supported", 0.0
            width, height = decoded.size
    except (binascii.Error, OSError):
        return "image does not decode", 0.0
    if min(width, height) < 128:
        return "image smaller than 128x128", 0.0
    if not 0.25 <= width / height <= 4:
        return "image aspect ratio must be between 1:4 and 4:1", 0.0
    return None, width / height


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeVidu/1"

    @property
    def fake(self) -> FakeVidu:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any = None, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path.startswith("/_files/"):
            status, data = self.fake.result(path.rsplit("/", 1)[-1].removesuffix(".mp4"))
            return self._send(status, raw=data)
        prefix, suffix = f"{BASE_PATH}/tasks/", "/creations"
        if path.startswith(prefix) and path.endswith(suffix):
            task_id = path[len(prefix) : -len(suffix)]
            return self._send(*self.fake.creations(self.headers.get("Authorization"), task_id))
        if path == f"{BASE_PATH}/tasks":
            query = parse_qs(urlsplit(self.path).query)
            return self._send(*self.fake.task_list(self.headers.get("Authorization"), query))
        self._send(404, {"reason": "NotFound"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self._send(413, {"reason": "RequestEntityTooLarge"})
        raw = self.rfile.read(length) if length else b""
        prefix, suffix = f"{BASE_PATH}/tasks/", "/cancel"
        if path.startswith(prefix) and path.endswith(suffix):
            task_id = path[len(prefix) : -len(suffix)]
            return self._send(*self.fake.cancel(self.headers.get("Authorization"), task_id))
        if path not in CREATE_PATHS:
            return self._send(404, {"reason": "NotFound"})
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._send(400, {"reason": "BadRequest", "message": "not JSON"})
        answer = self.fake.create(self.headers.get("Authorization"), body, path)
        time.sleep(self.fake.create_answer_delay_s)  # the task exists; the answer is late
        self._send(*answer)
