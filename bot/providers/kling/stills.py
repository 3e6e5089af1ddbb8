"""Clay stills from Kling's image generation, with the photo as the reference image.

It shares the video client's signing, its one error table (`KLING_TABLE`, so 1301 is
moderation and 1100/1304 are the operator's, whatever their HTTP status) and the HTTP
plumbing. Each create carries our `external_task_id`, so a create that failed in a way
that may have made the task (5000/5002, a lost answer) is looked up (lookup.py) before
it is sent again: throttling and outages are retried without ever paying twice.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.domain.errors import ErrorKind, ProviderError
from bot.media.stills import CLAY_STYLE, as_jpeg, aspect_ratio, reference_jpeg
from bot.providers.http import JsonApi, RetryPolicy
from bot.providers.kling.auth import kling_credentials
from bot.providers.kling.errors import KLING_TABLE
from bot.providers.kling.lookup import TaskLookup
from bot.providers.kling.wire import image_task_of, is_content_rejection, read_answer

log = logging.getLogger(__name__)

KLING_IMAGE_PATH = "/v1/images/generations"
# Kling Image 2.1: the current model that takes `image_fidelity` (kling-v2 is retired).
KLING_IMAGE_MODEL = "kling-v2-1"
MAX_STILL_BYTES = 50 * 1024 * 1024  # a generated picture is a few MB; this is a guard


class KlingStills:
    """Kling image generation with the photo as reference: create, poll, fetch the image."""

    name = "kling"

    def __init__(
        self,
        access_key: str | None,
        secret_key: str | None,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = KLING_IMAGE_MODEL,
        poll_s: float = 2.0,
        deadline_s: float = 180.0,
        max_attempts: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.model = model
        self._poll_s = poll_s
        self._deadline_s = deadline_s
        self._api = JsonApi(
            "Kling",
            base_url,
            credentials=kling_credentials(access_key, secret_key, api_key),
            errors=KLING_TABLE,
            read_answer=read_answer,
            can_look_up=True,
            retry=RetryPolicy(max_attempts, backoff_base_s, backoff_max_s),
            logger=log,
        )
        self._lookup = TaskLookup(self._api, KLING_IMAGE_PATH, "image find")

    def __repr__(self) -> str:  # never show the keys
        return f"KlingStills(model={self.model!r})"

    async def make(self, photo: Path, seed: int) -> bytes:
        """A clay JPEG of `photo`; Kling's image endpoint has no seed, so 🔄 Another asks again."""
        image = await asyncio.to_thread(reference_jpeg, photo)
        body = {
            "model_name": self.model,
            "prompt": CLAY_STYLE,
            "image": base64.b64encode(image).decode(),
            "image_fidelity": 0.6,
            "n": 1,
            "aspect_ratio": aspect_ratio(photo),
            "external_task_id": f"still-{uuid.uuid4().hex}",
        }
        task_id = await self._create(body)
        path = f"{KLING_IMAGE_PATH}/{quote(task_id, safe='')}"
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._deadline_s
        while loop.time() < give_up:
            data = await self._api.retrying(
                "image status", lambda: self._api.call("GET", path, "image status")
            )
            task = image_task_of(data, "image status")
            if task.task_status == "succeed":
                url = task.image_url
                if not url:
                    raise ProviderError(ErrorKind.UNKNOWN, "kling image: succeed without url")
                picture = await self._api.download_bytes(url, MAX_STILL_BYTES)
                return await asyncio.to_thread(as_jpeg, picture)
            if task.task_status == "failed":
                message = task.task_status_msg or ""
                kind = ErrorKind.CONTENT if is_content_rejection(message) else ErrorKind.UNKNOWN
                raise ProviderError(kind, f"kling image failed: {message[:200]}")
            await asyncio.sleep(self._poll_s)
        raise ProviderError(ErrorKind.TIMEOUT, "kling image: not ready in time")

    async def _create(self, body: dict[str, Any]) -> str:
        """Create the image task; before any retry after a failure that may have made it,
        look it up by external id, so a repeat can never pay for a second image."""
        external_id = body["external_task_id"]
        ambiguous = False

        async def look_up() -> str | None:
            if not ambiguous:
                return None
            try:
                return await self._lookup.find(external_id)
            except ProviderError as err:
                err.may_have_created = True  # still unknown whether the task exists
                raise

        async def create() -> str:
            nonlocal ambiguous
            try:
                data = await self._api.call(
                    "POST", KLING_IMAGE_PATH, "image create", body, creates=True
                )
            except ProviderError as err:
                ambiguous = ambiguous or err.may_have_created
                err.may_have_created = ambiguous
                raise
            task_id = image_task_of(data, "image create").task_id
            if not task_id:
                raise ProviderError(ErrorKind.UNKNOWN, "kling image: no task_id")
            return task_id

        return await self._api.retrying("image create", create, look_up=look_up)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()
