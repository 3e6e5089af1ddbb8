"""The still makers: offline and Kling image generation (a small local fake).

OpenAI images edit is tested against tests/fakes/fake_openai.py in test_openai_models.py.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import numpy as np
import pytest
from PIL import Image

from bot.config import ConfigError
from bot.domain.errors import ErrorKind, ProviderError
from bot.media.sample import sample_photo
from bot.media.stills import CLAY_STYLE
from bot.providers.kling.stills import KlingStills
from bot.providers.offline.stills import OfflineStills
from bot.providers.registry import build_still_maker
from tests.conftest import make_settings
from tests.fakes.fake_kling import FAKE_ACCESS_KEY, FAKE_SECRET_KEY


def png_bytes(size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 80)).save(out, "PNG")
    return out.getvalue()


class ImageFake:
    """Kling's /v1/images/generations, just enough of it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.polls = 0
        self.fail_kling = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, payload: Any) -> None:
                self._send(status, json.dumps(payload).encode())

            def _kling_auth(self) -> bool:
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                try:
                    claims = jwt.decode(token, FAKE_SECRET_KEY, algorithms=["HS256"])
                except jwt.PyJWTError:
                    return False
                return claims.get("iss") == FAKE_ACCESS_KEY

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append((self.path, dict(self.headers), body))
                if self.path == "/v1/images/generations":
                    if not self._kling_auth():
                        return self._json(401, {"code": 1000, "message": "auth failed"})
                    return self._json(200, {"code": 0, "data": {"task_id": "img-1"}})
                self._json(404, {})

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/files/img-1.png":
                    return self._send(200, png_bytes(), "image/png")
                if self.path == "/v1/images/generations/img-1":
                    fake.polls += 1
                    if fake.polls < 2:
                        task = {"task_id": "img-1", "task_status": "processing"}
                    elif fake.fail_kling:
                        task = {"task_status": "failed", "task_status_msg": "Failure to pass risk"}
                    else:
                        url = f"{fake.url}/files/img-1.png"
                        task = {
                            "task_status": "succeed",
                            "task_result": {"images": [{"url": url}]},
                        }
                    return self._json(200, {"code": 0, "data": task})
                self._json(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def images() -> Iterator[ImageFake]:
    fake = ImageFake()
    yield fake
    fake.stop()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(sample_photo(width=480, height=360))
    return path


def decoded(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image.convert("RGB")


async def test_the_offline_still_is_a_clay_version_of_the_photo(photo: Path) -> None:
    maker = OfflineStills()
    first, second = await maker.make(photo, seed=1), await maker.make(photo, seed=2)
    a, b = decoded(first), decoded(second)
    assert a.size == (480, 360)  # same shape as the photo
    original = np.asarray(Image.open(photo).convert("RGB"), dtype=float)
    assert np.abs(np.asarray(a, dtype=float) - original).mean() > 3  # restyled
    assert np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean() > 0.5


async def test_kling_image_generation_uses_the_photo_as_reference(
    images: ImageFake, photo: Path
) -> None:
    maker = KlingStills(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, images.url, poll_s=0.01)
    try:
        still = decoded(await maker.make(photo, seed=1))
    finally:
        await maker.aclose()
    assert still.size == (640, 480)
    path, _, raw = images.requests[0]
    body = json.loads(raw)
    assert path == "/v1/images/generations"
    assert body["model_name"] == "kling-v2-1" and body["prompt"] == CLAY_STYLE
    assert body["aspect_ratio"] == "4:3"
    assert "negative_prompt" not in body  # Kling refuses it together with an image
    reference = Image.open(io.BytesIO(base64.b64decode(body["image"])))  # raw base64
    assert reference.format == "JPEG" and min(reference.size) >= 300
    assert images.polls == 2


async def test_a_kling_still_refused_by_moderation_is_a_content_error(
    images: ImageFake, photo: Path
) -> None:
    images.fail_kling = True
    maker = KlingStills(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, images.url, poll_s=0.01)
    try:
        with pytest.raises(ProviderError) as error:
            await maker.make(photo, seed=1)
    finally:
        await maker.aclose()
    assert error.value.kind is ErrorKind.CONTENT


def test_configuration_picks_the_still_maker(tmp_path: Path) -> None:
    assert build_still_maker(make_settings(tmp_path)).name == "offline"
    keys = {"kling_access_key": FAKE_ACCESS_KEY, "kling_secret_key": FAKE_SECRET_KEY}
    assert build_still_maker(make_settings(tmp_path, **keys)).name == "kling"
    assert (
        build_still_maker(make_settings(tmp_path, still_provider="offline", **keys)).name
        == "offline"
    )
    chosen = build_still_maker(
        make_settings(tmp_path, still_provider="openai", openai_api_key="sk-x")
    )
    assert chosen.name == "openai"
    with pytest.raises(ConfigError):
        build_still_maker(make_settings(tmp_path, still_provider="openai"))
