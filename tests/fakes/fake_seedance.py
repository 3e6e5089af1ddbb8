"""A fake Seedance (BytePlus ModelArk) API: a real HTTP server on 127.0.0.1, strict where Ark is.

Serves `POST /api/v3/contents/generations/tasks` (Bearer auth, a known model, a `content`
array with one `first_frame` data URL with its prefix and at most one `last_frame` where the
model takes one, durations and ratios and resolutions the model allows, `generate_audio`
only on models that make sound), `GET .../tasks/{id}` (queued → running → succeeded over
`task_seconds`, with `content.last_frame_url` when `return_last_frame` was asked),
`GET .../tasks?page_num=&page_size=` (newest first), and the result files. Errors are Ark's
shape: HTTP status plus `{"error": {"code", "message"}}`. It misbehaves on demand.

    with FakeSeedance(task_seconds=0.3) as fake: ... fake.url, fake.creates
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

FAKE_SEEDANCE_KEY = "ark-fake-key-DO-NOT-LEAK-0123456789"
BASE_PATH = "/api/v3"
TASKS = f"{BASE_PATH}/contents/generations/tasks"
# model id: (shortest s, longest s, takes a last frame, makes sound, best resolution)
MODELS: dict[str, tuple[int, int, bool, bool, str]] = {
    "seedance-1-0-lite-i2v-250428": (2, 12, True, False, "1080p"),
    "seedance-1-0-pro-250528": (2, 12, True, False, "1080p"),
    "seedance-1-0-pro-fast-251015": (2, 12, False, False, "1080p"),
    "seedance-1-5-pro-251215": (4, 12, True, True, "1080p"),
    "dreamina-seedance-2-0-260128": (4, 15, True, True, "1080p"),
    "dreamina-seedance-2-0-fast-260128": (4, 15, True, True, "720p"),
    "dreamina-seedance-2-5-260628": (4, 15, True, True, "1080p"),
}
RATIOS = frozenset({"16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"})
RESOLUTIONS = ("480p", "720p", "1080p")
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass
class FakeSeedanceTask:
    id: str
    body: dict[str, Any]
    created_at: float
    fail_code: str | None = None


@dataclass
class FakeSeedance:
    task_seconds: float = 0.3
    list_reports_seed: bool = True  # False: a listing without seeds (older API answers)
    tasks: dict[str, FakeSeedanceTask] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)  # accepted create bodies
    auth_headers: list[str] = field(default_factory=list)
    polls: int = 0
    lists: int = 0
    create_answer_delay_s: float = 0.0
    returns_last_frame: bool = True  # False: like a model that offers no last frame
    _create_failures: list[tuple[int, str]] = field(default_factory=list)
    _fail_tasks: list[str] = field(default_factory=list)
    _get_failures: list[tuple[int, str]] = field(default_factory=list)
    _lose_create_answers: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _mp4: bytes = b""
    _png: bytes = b""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeSeedance:
        self._mp4 = sample_mp4()
        frame = io.BytesIO()
        Image.new("RGB", (64, 64), (180, 120, 90)).save(frame, "PNG")
        self._png = frame.getvalue()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeSeedance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """What SEEDANCE_API_URL is set to."""
        return self.root + BASE_PATH

    # --- misbehaviour on demand -----------------------------------------------------------

    def fail_next_creates(self, status: int, code: str, times: int = 1) -> None:
        """The next creates answer `status` with `error.code` `code`, making nothing."""
        with self._lock:
            self._create_failures.extend([(status, code)] * times)

    def lose_next_create_answers(self, times: int = 1) -> None:
        """The next creates make their task, then answer 500 as if the answer was lost."""
        with self._lock:
            self._lose_create_answers += times

    def fail_next_gets(self, status: int, code: str, times: int = 1) -> None:
        """The next task queries answer `status` with `error.code` `code`."""
        with self._lock:
            self._get_failures.extend([(status, code)] * times)

    def fail_next_tasks(self, code: str = "OutputVideoSensitiveContentDetected") -> None:
        with self._lock:
            self._fail_tasks.append(code)

    # --- behaviour ------------------------------------------------------------------------

    def _authorised(self, auth: str | None) -> bool:
        self.auth_headers.append(auth or "")
        return auth == f"Bearer {FAKE_SEEDANCE_KEY}"

    def create(self, auth: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        if not self._authorised(auth):
            return error(401, "AuthenticationError", "the API key is missing or invalid")
        with self._lock:
            if self._create_failures:
                status, code = self._create_failures.pop(0)
                return error(status, code, "failed on demand")
        if isinstance(body, dict) and body.get("model") not in MODELS:
            return error(
                404,
                "InvalidEndpointOrModel.NotFound",
                f"The model or endpoint {body.get('model')} does not exist",
            )
        problem = validate_create(body)
        if problem:
            return error(400, "InvalidParameter", problem)
        task = FakeSeedanceTask(f"cgt-{uuid.uuid4().hex[:20]}", body, time.monotonic())
        with self._lock:
            if self._fail_tasks:
                task.fail_code = self._fail_tasks.pop(0)
            self.tasks[task.id] = task
            self.creates.append(body)
            lose = self._lose_create_answers > 0
            self._lose_create_answers -= 1 if lose else 0
        if lose:
            return error(500, "InternalServiceError", "the service encountered an error")
        return 200, {"id": task.id}

    def task_json(self, task: FakeSeedanceTask) -> dict[str, Any]:
        age = (time.monotonic() - task.created_at) / max(self.task_seconds, 1e-6)
        state = (
            "queued"
            if age < 0.3
            else "running"
            if age < 1
            else "failed"
            if task.fail_code
            else "succeeded"
        )
        answer: dict[str, Any] = {
            "id": task.id,
            "model": task.body["model"],
            "status": state,
            "created_at": int(time.time()),
            "seed": task.body.get("seed", 42),
            "duration": task.body.get("duration", 5),
            "ratio": task.body.get("ratio", "adaptive"),
            "resolution": task.body.get("resolution", "720p"),
        }
        if state == "failed":
            answer["error"] = {"code": task.fail_code, "message": "the output was refused"}
        if state == "succeeded":
            content = {"video_url": f"{self.root}/_files/{task.id}.mp4"}
            if task.body.get("return_last_frame") and self.returns_last_frame:
                content["last_frame_url"] = f"{self.root}/_files/{task.id}.png"
            answer["content"] = content
            answer["usage"] = {"completion_tokens": 108900, "total_tokens": 108900}
        return answer

    def get(self, auth: str | None, task_id: str) -> tuple[int, dict[str, Any]]:
        self.polls += 1
        if not self._authorised(auth):
            return error(401, "AuthenticationError", "the API key is missing or invalid")
        with self._lock:
            if self._get_failures:
                status, code = self._get_failures.pop(0)
                return error(status, code, "failed on demand")
        task = self.tasks.get(task_id)
        if task is None:
            return error(404, "ResourceNotFound", f"task {task_id} not found")
        return 200, self.task_json(task)

    def list(self, auth: str | None, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.lists += 1
        if not self._authorised(auth):
            return error(401, "AuthenticationError", "the API key is missing or invalid")
        try:
            page = int(query.get("page_num", ["1"])[0])
            size = int(query.get("page_size", ["10"])[0])
        except ValueError:
            return error(400, "InvalidParameter", "page_num and page_size must be integers")
        if not (1 <= page <= 500 and 1 <= size <= 500):
            return error(400, "InvalidParameter", "page_num and page_size must be 1-500")
        newest = sorted(self.tasks.values(), key=lambda t: t.created_at, reverse=True)
        items = [self.task_json(t) for t in newest[(page - 1) * size : page * size]]
        if not self.list_reports_seed:
            for item in items:
                item.pop("seed", None)
        return 200, {"items": items, "total": len(self.tasks)}

    def result(self, name: str) -> tuple[int, bytes, str]:
        task_id, _, ext = name.rpartition(".")
        if task_id not in self.tasks:
            return 404, b"NoSuchKey", "text/plain"
        if ext == "png":
            return 200, self._png, "image/png"
        return 200, self._mp4, "video/mp4"


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message, "type": "BadRequest"}}


def _image_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return "image_url.url must be a string"
    if url.startswith(("http://", "https://", "asset://")):
        return None
    if not url.startswith("data:image/"):
        return "a base64 image needs the data:image/<format>;base64, prefix"
    head, _, data = url.partition(",")
    if not head.endswith(";base64"):
        return "data URL must be base64"
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as decoded:
            if decoded.format not in ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"):
                return "image format not supported"
            if min(decoded.size) < 14:
                return "image too small"
    except (binascii.Error, OSError):
        return "image does not decode"
    return None


def validate_create(body: Any) -> str | None:
    """What Ark would refuse, as a short reason (None: accepted). The model is known."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    low, high, takes_last, makes_sound, best = MODELS[body["model"]]
    content = body.get("content")
    if not isinstance(content, list) or not content:
        return "content must be a non-empty array"
    roles: list[str] = []
    for item in content:
        if not isinstance(item, dict) or item.get("type") not in ("text", "image_url"):
            return "content items are text or image_url"
        if item["type"] == "text" and not isinstance(item.get("text"), str):
            return "text must be a string"
        if item["type"] == "image_url":
            role = item.get("role", "first_frame")
            if role not in ("first_frame", "last_frame", "reference_image"):
                return f"unknown image role {role!r}"
            problem = _image_problem((item.get("image_url") or {}).get("url"))
            if problem:
                return problem
            roles.append(role)
    if roles.count("first_frame") != 1:
        return "image-to-video takes exactly one first_frame image"
    if "last_frame" in roles and not takes_last:
        return f"{body['model']} does not support last_frame"
    if roles.count("last_frame") > 1 or "reference_image" in roles:
        return "at most one last_frame; reference images do not combine with frames"
    duration = body.get("duration", 5)
    if not isinstance(duration, int) or isinstance(duration, bool) or not low <= duration <= high:
        return f"duration must be an integer from {low} to {high} on {body['model']}"
    if body.get("ratio", "adaptive") not in RATIOS:
        return f"ratio {body.get('ratio')!r} is not supported"
    resolution = body.get("resolution", "720p")
    if resolution not in RESOLUTIONS or RESOLUTIONS.index(resolution) > RESOLUTIONS.index(best):
        return f"resolution {resolution!r} is not supported on {body['model']}"
    audio = body.get("generate_audio", False)
    if not isinstance(audio, bool):
        return "generate_audio must be a boolean"
    if audio and not makes_sound:
        return f"{body['model']} does not generate audio"
    for flag in ("return_last_frame", "watermark", "camera_fixed"):
        if not isinstance(body.get(flag, False), bool):
            return f"{flag} must be a boolean"
    seed = body.get("seed", -1)
    if not isinstance(seed, int) or not -1 <= seed <= 2**32 - 1:
        return "seed must be an integer from -1 to 4294967295"
    return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSeedance/1"

    @property
    def fake(self) -> FakeSeedance:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(
        self, status: int, payload: Any = None, raw: bytes | None = None, kind: str = ""
    ) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        path = parts.path
        auth = self.headers.get("Authorization")
        if path.startswith("/_files/"):
            status, data, kind = self.fake.result(path.rsplit("/", 1)[-1])
            return self._send(status, raw=data, kind=kind)
        if path == TASKS:
            return self._send(*self.fake.list(auth, parse_qs(parts.query)))
        if path.startswith(TASKS + "/"):
            return self._send(*self.fake.get(auth, path[len(TASKS) + 1 :]))
        self._send(*error(404, "NotFound", "no such route"))

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self._send(*error(413, "RequestEntityTooLarge", "body too large"))
        raw = self.rfile.read(length) if length else b""
        if path != TASKS:
            return self._send(*error(404, "NotFound", "no such route"))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._send(*error(400, "InvalidParameter", "body is not JSON"))
        answer = self.fake.create(self.headers.get("Authorization"), body)
        time.sleep(self.fake.create_answer_delay_s)  # the task exists; the answer is late
        self._send(*answer)
