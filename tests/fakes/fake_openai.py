"""A fake OpenAI-compatible chat server on 127.0.0.1, for testing the real `openai` client.

Tests talk to it through the genuine `AsyncOpenAI` client over HTTP, so request shapes,
error mapping, retries and timeouts are the library's own, not a mock's idea of them.

It refuses what the real service refuses for the requests Claymate sends (providers.md 5):
- a parameter Chat Completions does not have ("Unrecognized request argument supplied");
- on reasoning models (o1/o3/o4, gpt-5*): `max_tokens` and a `temperature` other than 1;
  on the others: `reasoning_effort`;
- a `json_schema` response format whose name breaks `^[a-zA-Z0-9_-]{1,64}$`, or whose schema
  strict mode cannot take: every object needs `additionalProperties: false` and every
  property in `required`, arrays need `items`, and keywords strict mode does not support
  (minLength, maxLength, default, uniqueItems...) are refused;
- `json_object` without the word "json" in the messages;
- a model it does not serve: 404 `model_not_found`, as OpenAI answers a retired model
  (`gpt-image-1`, `o4-mini`...). It serves the pinned SDK's chat and image models that are
  not shut down, plus `extra_models` (names other OpenAI-compatible servers use).

`POST /v1/audio/transcriptions` and `POST /v1/audio/speech` refuse what the real ones do
(tests/fakes/fake_openai_audio.py); `push_transcript(...)` queues what the next voice
notes "said" (else DEFAULT_TRANSCRIPT, or DEFAULT_TRANSCRIPT_ZH when the hint is zh), and
speech answers a short real tone in the format asked.

`GET /v1/models` and `/v1/models/{id}` list the models served (404 `model_not_found` for
any other), behind the same key check.

`POST /v1/images/edits` (multipart, as `client.images.edit` sends it) refuses what the
real endpoint refuses (providers.md 5.3): an unknown field, `response_format` on GPT image
models, a `quality` or `size` the model does not take (any WxH only on gpt-image-2 and 2.5,
multiples of 16, 1:3 to 3:1, at most 3840x2160), `input_fidelity` on models without it,
more than 16 images, a prompt over 32 000 characters. It answers one `b64_json` picture of
the size asked for (1024x1024 for `auto`); `push_image(...)` queues error replies, and mode
"moderate" refuses every edit as the safety system does.

Behaviour is scripted per test:
- `push(...)` queues answers: a content string, a dict (sent as JSON content) or a `Reply`
  (an error status with an OpenAI-style body, a delay, custom usage...). An empty queue
  answers with `DEFAULT_DRAFT`, or `DEFAULT_DRAFT_ZH` when a user turn asks for Simplified
  Chinese, as a model following the request would.
- `modes` switch on endpoint quirks: "reject_json_schema", "reject_json_object",
  "reject_images", "echo_system" (answers with the system prompt as the main action), "blank"
  (DeepSeek's blank content), "slow" (waits `slow_seconds` before answering).
- Every request body and its headers are recorded; the Authorization header must carry the
  configured key, else 401.

Run on its own for end-to-end checks (prints the port, then serves until killed):
    python -m tests.fakes.fake_openai --port 0 [--api-key KEY]
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import io
import itertools
import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, get_args

from openai.types import ImageModel
from openai.types.shared import ChatModel
from PIL import Image

from tests.fakes import fake_openai_audio as audio
from tests.fakes.lifecycle import StopSignals

DEFAULT_KEY = "sk-fake-test-key-0123456789"
DEFAULT_DRAFT: dict[str, Any] = {
    "language": "en",
    "subject": "little clay boats",
    "main_action": "Little clay boats glide slowly along the river",
    "motions": ["The water ripples gently behind them"],
    "camera_move": "pan_right",
    "camera": "The camera pans right to follow them.",
    "lighting_change": "",
    "life_detail": "A pigeon hops along the railing.",
    "clay_look": "Hand-sculpted plasticine with visible fingerprints, clear-resin water, "
    "stop-motion at 12 fps.",
    "negative_terms": ["blurry", "distorted", "extra limbs", "photorealistic skin", "text"],
    "duration": 5,
    "summary": "Clay boats glide along the river",
}
DEFAULT_DRAFT_ZH: dict[str, Any] = {
    "language": "zh",
    "subject": "黏土小船",
    "main_action": "一条黏土小船慢慢滑过江面",
    "motions": ["船尾荡起一圈圈涟漪"],
    "camera_move": "static",
    "camera": "镜头固定不动。",
    "lighting_change": "",
    "life_detail": "一只鸽子落在岸边的栏杆上。",
    "clay_look": "手捏橡皮泥质感，可见指纹压痕，透明树脂做的水，每秒12帧定格动画。",
    "negative_terms": ["模糊", "变形", "多余的肢体", "写实皮肤", "文字"],
    "duration": 5,
    "summary": "黏土小船滑过江面",
}
# The prompt as LLMDrafter assembles DEFAULT_DRAFT: hero first, then the other parts.
DEFAULT_PROMPT = (
    "Little clay boats glide slowly along the river. The water ripples gently behind them. "
    "The camera pans right to follow them. A pigeon hops along the railing. Hand-sculpted "
    "plasticine with visible fingerprints, clear-resin water, stop-motion at 12 fps."
)
DEFAULT_TRANSCRIPT = "make the boats slower"
DEFAULT_TRANSCRIPT_ZH = "让小船慢一点"
IMAGE_ERROR = "Invalid content type. image_url is only supported by certain models."
JSON_SCHEMA_ERROR = "This response_format type is unavailable now"
JSON_OBJECT_ERROR = "response_format is not supported by this model"
UNKNOWN_PARAMETER_ERROR = "Unrecognized request argument supplied: {name}"
REASONING_MAX_TOKENS_ERROR = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead."
)
REASONING_TEMPERATURE_ERROR = (
    "Unsupported value: 'temperature' does not support {value} with this model. "
    "Only the default (1) value is supported."
)
REASONING_EFFORT_ERROR = (
    "Unsupported parameter: 'reasoning_effort' is not supported with this model."
)
SCHEMA_NAME_ERROR = (
    "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a "
    "string that matches the pattern '^[a-zA-Z0-9_-]+$'."
)
# Top-level Chat Completions parameters (openai 3.51 CompletionCreateParams, plus stream).
CHAT_PARAMETERS = frozenset(
    """audio frequency_penalty function_call functions logit_bias logprobs
    max_completion_tokens max_tokens messages metadata modalities model moderation n
    parallel_tool_calls prediction presence_penalty prompt_cache_key prompt_cache_options
    prompt_cache_retention reasoning_effort response_format safety_identifier seed
    service_tier stop store stream stream_options temperature tool_choice tools top_logprobs
    top_p user verbosity web_search_options""".split()
)
_REASONING_MODEL = re.compile(r"^(?:o\d|gpt-5)(?![0-9])", re.IGNORECASE)
# Keywords strict structured outputs refuse (OpenAI's "supported schemas" list).
STRICT_UNSUPPORTED = frozenset(
    {
        "minLength", "maxLength", "patternProperties", "unevaluatedProperties",
        "propertyNames", "minProperties", "maxProperties", "unevaluatedItems", "contains",
        "minContains", "maxContains", "uniqueItems", "default", "allOf", "not",
        "if", "then", "else", "dependentRequired", "dependentSchemas",
    }
)  # fmt: skip
_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
JSON_WORD_ERROR = (
    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
    "'json_object'."
)


# Shut down by the pinned SDK's own notes (openai 3.51 ChatModel and ImageModel docstrings):
# the real service answers them 404 model_not_found.
RETIRED_MODELS = frozenset(
    """gpt-image-1 dall-e-2 dall-e-3 gpt-4.1-nano gpt-4.1-nano-2025-04-14 o4-mini
    o4-mini-2025-04-16 o3-mini o3-mini-2025-01-31 o1 o1-2024-12-17 o1-preview
    o1-preview-2024-09-12 o1-mini o1-mini-2024-09-12 gpt-4o-2024-05-13 gpt-4-turbo
    gpt-4-turbo-2024-04-09 gpt-4-1106-preview gpt-4 gpt-4-0613 gpt-4-0314 gpt-4-0125-preview
    gpt-4-turbo-preview gpt-4-vision-preview gpt-4-32k gpt-4-32k-0314 gpt-4-32k-0613
    gpt-3.5-turbo gpt-3.5-turbo-0125 gpt-3.5-turbo-16k gpt-3.5-turbo-0301 gpt-3.5-turbo-0613
    gpt-3.5-turbo-1106 gpt-3.5-turbo-16k-0613 chatgpt-4o-latest codex-mini-latest
    gpt-4o-audio-preview gpt-4o-audio-preview-2024-10-01 gpt-4o-audio-preview-2024-12-17
    gpt-4o-audio-preview-2025-06-03 gpt-4o-mini-audio-preview
    gpt-4o-mini-audio-preview-2024-12-17 gpt-5.1-codex gpt-5.1-chat-latest gpt-5-chat-latest
    gpt-5.3-chat-latest gpt-5.2-chat-latest gpt-5.1-mini gpt-4o-search-preview
    gpt-4o-mini-search-preview gpt-4o-search-preview-2025-03-11
    gpt-4o-mini-search-preview-2025-03-11""".split()
)
CHAT_MODELS = frozenset(get_args(ChatModel)) - RETIRED_MODELS
IMAGE_MODELS = frozenset(get_args(ImageModel)) - RETIRED_MODELS
MODEL_NOT_FOUND_ERROR = "The model `{model}` does not exist or you do not have access to it."
# Image edits (openai 3.51 ImageEditParams).
EDIT_FIELDS = frozenset(
    """image image[] prompt background complexity input_fidelity markup mask model n
    output_compression output_format partial_images quality response_format size stream
    user safety_identifier moderation""".split()
)
STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
FREE_SIZE_MODELS = frozenset(
    """gpt-image-2 gpt-image-2-2026-04-21 gpt-image-2.5-sunburst gpt-image-2.5-sunburst-2026-09-08
    gpt-image-2.5-flare gpt-image-2.5-flare-2026-09-08""".split()
)
FIDELITY = {"gpt-image-1.5": ("high", "low"), "gpt-image-1-mini": ("low",)}
MODERATION_ERROR = (
    "Your request was rejected by the safety system. If you believe this is an error, "
    "contact us through our help center."
)


@dataclass(slots=True)
class Reply:
    """One scripted answer: content on 200, or an OpenAI-style error body on other statuses."""

    content: str | dict[str, Any] | None = None
    status: int = 200
    message: str = ""  # error message for non-200 statuses
    error_type: str = "invalid_request_error"
    code: str | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens)


def error_reply(status: int, message: str, *, code: str | None = None, kind: str = "") -> Reply:
    kind = kind or ("invalid_request_error" if status < 500 else "server_error")
    return Reply(status=status, message=message, error_type=kind, code=code)


@dataclass
class FakeOpenAI:
    """The server and its script; use as a context manager or call start()/stop()."""

    api_key: str = DEFAULT_KEY
    host: str = "127.0.0.1"
    port: int = 0
    modes: set[str] = field(default_factory=set)
    slow_seconds: float = 5.0
    image_error: str = IMAGE_ERROR
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # Image edits as received: the form fields, and "images" (how many files came).
    edits: list[dict[str, Any]] = field(default_factory=list)
    extra_models: frozenset[str] = frozenset({"qwen-plus", "deepseek-chat"})
    # Audio requests as received: transcriptions' form fields (plus the file's name and
    # size), and speech requests' JSON bodies.
    transcriptions: list[dict[str, Any]] = field(default_factory=list)
    speeches: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[Reply] = deque()
        self._image_queue: deque[Reply] = deque()
        self._transcripts: deque[str | Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in "slow" mode
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # --- script ----------------------------------------------------------------------------

    def push(self, *replies: Reply | str | dict[str, Any]) -> None:
        with self._lock:
            for reply in replies:
                self._queue.append(reply if isinstance(reply, Reply) else Reply(content=reply))

    def push_image(self, *replies: Reply) -> None:
        """Queue answers for the next image edits (an error reply each)."""
        with self._lock:
            self._image_queue.extend(replies)

    def push_transcript(self, *replies: str | Reply) -> None:
        """Queue what the next voice notes said (a string), or an error reply."""
        with self._lock:
            self._transcripts.extend(replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    # --- answering (called on the server's threads) ------------------------------------------

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> audio.Answer:
        route = path.rstrip("/").removeprefix("/v1")
        routes = ("/chat/completions", "/images/edits", "/audio/transcriptions", "/audio/speech")
        if route not in routes:
            return _error(404, f"Unknown request URL: POST {path}", "invalid_request_error")
        if refused := self._refused_key(headers):
            return refused
        if route == "/images/edits":
            return self._edit(headers, body)
        if route == "/audio/transcriptions":
            return self._transcribe(headers, body)
        if route == "/audio/speech":
            return self._speak(body)
        return self._chat(headers, body)

    def _transcribe(self, headers: dict[str, str], body: bytes) -> audio.Answer:
        content_type = headers.get("content-type", "")
        fields, files = audio.parse_form(content_type, body)
        name, data = files.get("file", ("", b""))
        with self._lock:
            self.transcriptions.append({**fields, "filename": name, "bytes": len(data)})
        if refusal := audio.transcription_refusal(content_type, fields, files):
            return refusal
        if missing := self._model_missing(fields.get("model"), audio.TRANSCRIBE_MODELS):
            return missing
        with self._lock:
            reply = self._transcripts.popleft() if self._transcripts else None
        if isinstance(reply, Reply):
            return _error(reply.status, reply.message, reply.error_type, reply.code)
        if reply is None:
            chinese = fields.get("language") == "zh"
            reply = DEFAULT_TRANSCRIPT_ZH if chinese else DEFAULT_TRANSCRIPT
        return audio.transcript(reply, fields.get("response_format", "json"))

    def _speak(self, body: bytes) -> audio.Answer:
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid")
        with self._lock:
            self.speeches.append(request)
        if missing := self._model_missing(request.get("model"), audio.SPEECH_MODELS):
            return missing
        if refusal := audio.speech_refusal(request):
            return refusal
        return audio.speech(request["input"], request.get("response_format", "mp3"))

    def _listing(self, path: str, headers: dict[str, str]) -> tuple[int, dict]:
        """GET /v1/models and /v1/models/{id}: the cheap authenticated call a check makes."""
        route = path.rstrip("/").removeprefix("/v1")
        if route != "/models" and not route.startswith("/models/"):
            return _error(404, f"Unknown request URL: GET {path}", "invalid_request_error")
        if refused := self._refused_key(headers):
            return refused
        served = CHAT_MODELS | IMAGE_MODELS | self.extra_models
        served |= audio.TRANSCRIBE_MODELS | audio.SPEECH_MODELS
        if route == "/models":
            return 200, {"object": "list", "data": [_model(name) for name in sorted(served)]}
        name = route.removeprefix("/models/")
        return self._model_missing(name, served) or (200, _model(name))

    def _refused_key(self, headers: dict[str, str]) -> tuple[int, dict] | None:
        presented = headers.get("authorization", "")
        if presented != f"Bearer {self.api_key}":
            # Echo what was presented, as a careless server might: the client must not log it.
            shown = presented.removeprefix("Bearer ")
            return _error(
                401,
                f"Incorrect API key provided: {shown}",
                "invalid_request_error",
                "invalid_api_key",
            )
        return None

    def _model_missing(self, model: object, served: frozenset[str]) -> tuple[int, dict] | None:
        if isinstance(model, str) and model in served | self.extra_models:
            return None
        message = MODEL_NOT_FOUND_ERROR.format(model=model)
        return _error(404, message, "invalid_request_error", "model_not_found")

    def _chat(self, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid")
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            modes = set(self.modes)
        if missing := self._model_missing(request.get("model"), CHAT_MODELS):
            return missing
        if refusal := _refused_parameters(request):
            return _error(400, refusal, "invalid_request_error")
        fmt = (request.get("response_format") or {}).get("type")
        if fmt == "json_schema" and (problem := _schema_problem(request["response_format"])):
            return _error(400, problem, "invalid_request_error")
        if "reject_images" in modes and _has_image(request):
            return _error(400, self.image_error, "invalid_request_error")
        if "reject_json_schema" in modes and fmt == "json_schema":
            return _error(400, JSON_SCHEMA_ERROR, "invalid_request_error")
        if "reject_json_object" in modes and fmt in ("json_schema", "json_object"):
            return _error(400, JSON_OBJECT_ERROR, "invalid_request_error")
        if fmt == "json_object" and "json" not in json.dumps(request.get("messages")).lower():
            return _error(400, JSON_WORD_ERROR, "invalid_request_error")
        if "slow" in modes:
            self._stopping.wait(self.slow_seconds)
        with self._lock:
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            default = DEFAULT_DRAFT_ZH if _asks_for_chinese(request) else DEFAULT_DRAFT
            if "echo_system" in modes:
                echo = _system_text(request)[:2400]
                reply = Reply(content={**default, "main_action": echo})
            elif "blank" in modes:
                reply = Reply(content="  \n ")
            else:
                reply = Reply(content=default)
        if reply.delay:
            self._stopping.wait(reply.delay)
        if reply.status != 200:
            return _error(reply.status, reply.message, reply.error_type, reply.code)
        content = reply.content
        if isinstance(content, dict):
            content = json.dumps(content, ensure_ascii=False)
        prompt_tokens, completion_tokens = reply.usage or (
            100 + 10 * len(request.get("messages", [])),
            max(1, len(content or "") // 4),
        )
        return 200, {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _edit(self, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        fields, images = _form(headers.get("content-type", ""), body)
        with self._lock:
            self.edits.append({**fields, "images": len(images)})
            modes = set(self.modes)
            reply = self._image_queue.popleft() if self._image_queue else None
        model = fields.get("model", "")
        if missing := self._model_missing(model, IMAGE_MODELS):
            return missing
        if refusal := _refused_edit(model, fields, images):
            return refusal
        if "moderate" in modes:
            return _error(
                400, MODERATION_ERROR, "image_generation_user_error", "moderation_blocked"
            )
        if reply is not None:
            return _error(reply.status, reply.message, reply.error_type, reply.code)
        size = fields.get("size", "auto")
        width, height = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        picture = io.BytesIO()
        kind = {"jpeg": "JPEG", "webp": "WEBP"}.get(fields.get("output_format", ""), "PNG")
        Image.new("RGB", (width, height), (200, 120, 80)).save(picture, kind)
        data = base64.b64encode(picture.getvalue()).decode("ascii")
        return 200, {"created": int(time.time()), "data": [{"b64_json": data}]}


def _error(
    status: int, message: str, kind: str, code: str | None = None, param: str | None = None
) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}


def _form(content_type: str, body: bytes) -> tuple[dict[str, str], list[bytes]]:
    """A multipart/form-data body: its text fields, and the files sent as `image`."""
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    images: list[bytes] = []
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            if name in ("image", "image[]"):
                images.append(payload)
            else:
                fields[str(name)] = f"<file {len(payload)} bytes>"
        else:
            fields[str(name)] = payload.decode("utf-8")
    return fields, images


def _invalid_value(param: str, value: str, allowed: tuple[str, ...]) -> tuple[int, dict]:
    listed = ", ".join(f"'{a}'" for a in allowed)
    message = f"Invalid value: '{value}'. Supported values are: {listed}."
    return _error(400, message, "invalid_request_error", "invalid_value", param)


def _refused_edit(
    model: str, fields: dict[str, str], images: list[bytes]
) -> tuple[int, dict] | None:
    """What the images edit endpoint says about a request it does not take from `model`."""
    for name in fields:
        if name not in EDIT_FIELDS or name == "response_format":
            message = f"Unknown parameter: '{name}'."
            return _error(400, message, "invalid_request_error", "unknown_parameter", name)
    if not images or len(images) > 16:
        message = "'image' must be between 1 and 16 images."
        return _error(400, message, "invalid_request_error", "invalid_value", "image")
    if not fields.get("prompt") or len(fields["prompt"]) > 32000:
        message = "'prompt' must be between 1 and 32000 characters."
        return _error(400, message, "invalid_request_error", "invalid_value", "prompt")
    qualities: tuple[str, ...] = ("low", "medium", "high", "auto")
    if model.startswith("gpt-image-2.5-"):
        qualities += ("xhigh", "max")
    if (quality := fields.get("quality", "auto")) not in qualities:
        return _invalid_value("quality", quality, qualities)
    size = fields.get("size", "auto")
    if size not in STANDARD_SIZES and not (model in FREE_SIZE_MODELS and _free_size_ok(size)):
        return _invalid_value("size", size, STANDARD_SIZES)
    if "input_fidelity" in fields:
        allowed = FIDELITY.get(model, ())
        if not allowed:
            message = "Unsupported parameter: 'input_fidelity' is not supported with this model."
            return _error(
                400, message, "invalid_request_error", "unsupported_parameter", "input_fidelity"
            )
        if fields["input_fidelity"] not in allowed:
            return _invalid_value("input_fidelity", fields["input_fidelity"], allowed)
    formats = ("png", "webp", "jpeg")
    if (output := fields.get("output_format", "png")) not in formats:
        return _invalid_value("output_format", output, formats)
    if not 1 <= int(fields.get("n", "1")) <= 10:
        return _invalid_value("n", fields["n"], ("1", "10"))
    return None


def _free_size_ok(size: str) -> bool:
    """A WxH gpt-image-2/2.5 take: multiples of 16, ratio 1:3..3:1, at most 3840x2160."""
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if not match:
        return False
    width, height = int(match[1]), int(match[2])
    return (
        width % 16 == 0
        and height % 16 == 0
        and 1 / 3 <= width / height <= 3
        and max(width, height) <= 3840
        and min(width, height) <= 2160
    )


def _refused_parameters(request: dict[str, Any]) -> str | None:
    """What the real service says about a parameter it does not take from this model."""
    for name in request:
        if name not in CHAT_PARAMETERS:
            return UNKNOWN_PARAMETER_ERROR.format(name=name)
    model = str(request.get("model", "")).rsplit("/", 1)[-1]
    if _REASONING_MODEL.match(model):
        if "max_tokens" in request:
            return REASONING_MAX_TOKENS_ERROR
        if request.get("temperature", 1) != 1:
            return REASONING_TEMPERATURE_ERROR.format(value=request["temperature"])
    elif "reasoning_effort" in request:
        return REASONING_EFFORT_ERROR
    return None


def _schema_problem(response_format: dict[str, Any]) -> str | None:
    """Why strict structured outputs would refuse this json_schema, in the service's words."""
    spec = response_format.get("json_schema") or {}
    name = spec.get("name", "")
    if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        return SCHEMA_NAME_ERROR
    schema = spec.get("schema")
    prefix = f"Invalid schema for response_format '{name}': "
    if not isinstance(schema, dict) or schema.get("type") != "object":
        got = schema.get("type") if isinstance(schema, dict) else None
        return prefix + f"schema must be a JSON Schema of 'type: \"object\"', got '{got}'."
    if spec.get("strict") is not True:
        return None  # without strict, the service takes any schema and follows it loosely
    problem = _strict_problem(schema, ())
    return prefix + problem if problem else None


def _strict_problem(node: dict[str, Any], context: tuple[str, ...]) -> str | None:
    where = f"In context={context!r}, "
    for keyword in sorted(STRICT_UNSUPPORTED & set(node)):
        return where + f"'{keyword}' is not permitted."
    types = node.get("type")
    for t in types if isinstance(types, list) else [types]:
        if t is not None and t not in _JSON_TYPES:
            return where + f"type '{t}' is not supported."
    if "enum" in node and not isinstance(node["enum"], list):
        return where + "'enum' must be an array."
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    if is_object:
        if node.get("additionalProperties") is not False:
            return where + ("'additionalProperties' is required to be supplied and to be false.")
        properties = node.get("properties") or {}
        required = node.get("required")
        if not isinstance(required, list):
            return (
                where
                + "'required' is required to be supplied and to be an array "
                + ("including every key in properties.")
            )
        missing = [key for key in properties if key not in required]
        if missing:
            return where + (
                "'required' is required to be supplied and to be an array including every "
                f"key in properties. Missing '{missing[0]}'."
            )
        extra = [key for key in required if key not in properties]
        if extra:
            return where + f"Extra required key '{extra[0]}' supplied."
        for key, child in properties.items():
            if problem := _strict_problem(child, (*context, "properties", key)):
                return problem
    is_array = types == "array" or (isinstance(types, list) and "array" in types)
    if is_array:
        if not isinstance(node.get("items"), dict):
            return where + "array schema missing items."
        if problem := _strict_problem(node["items"], (*context, "items")):
            return problem
    for key in ("anyOf",):
        for i, child in enumerate(node.get(key) or []):
            if problem := _strict_problem(child, (*context, key, str(i))):
                return problem
    return None


def _asks_for_chinese(request: dict[str, Any]) -> bool:
    """Whether a user turn asks for Simplified Chinese, as LLMDrafter says it does."""
    for message in request.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        if any("Simplified Chinese" in str(p.get("text") or "") for p in parts):
            return True
    return False


def _has_image(request: dict[str, Any]) -> bool:
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, list) and any(p.get("type") == "image_url" for p in content):
            return True
    return False


def _system_text(request: dict[str, Any]) -> str:
    for message in request.get("messages", []):
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = self.fake._answer(self.path, headers, body)
        self._send(status, payload)

    def do_GET(self) -> None:  # noqa: N802
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(*self.fake._listing(self.path, headers))

    def _send(self, status: int, payload: dict[str, Any] | audio.Binary) -> None:
        if isinstance(payload, audio.Binary):
            data, content_type = payload.data, payload.content_type
        else:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            content_type = "application/json"
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            if status >= 500 or status == 429:
                self.send_header("retry-after-ms", "10")  # keeps client retries fast in tests
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: tests read `requests`, not stderr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible chat and images server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=DEFAULT_KEY)
    args = parser.parse_args(argv)
    stop = StopSignals()  # first: a signal from now on stops the fake cleanly
    fake = FakeOpenAI(api_key=args.api_key, host=args.host, port=args.port).start()
    print(fake.port, flush=True)
    stop.wait()
    fake.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
