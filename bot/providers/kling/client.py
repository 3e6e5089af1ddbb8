"""Kling image-to-video client (the official API, `/v1/videos/image2video`).

Why it looks the way it does (details in /work/shared/providers.md, sections 1, 2 and 7):

* Every Kling create costs money and is not idempotent. Each create carries our
  `external_task_id`; when a create fails in a way that may have made the task anyway
  (timeout, dropped connection, 5000/5002, bare 5xx) we look the task up by that id before
  trying again, and a 1201 on create (which is also what a duplicate external id gives)
  triggers the same look-up. A retry can therefore never pay for a second task.
* Kling answers HTTP 429 for both "out of money" and "slow down", so errors are classified
  by the business `code` in ONE table, `KLING_TABLE` in errors.py, whose kinds also say
  what is retried; retries, backoff and Retry-After are the shared ones in http.py.
* Each create is checked against the model's rules (capabilities.py) first: a retired
  model, a duration or mode the model lacks, sound where it makes none, or an end frame
  in a mode that drops it is refused here and never sent (and never paid for).
* Credentials: the console's API key as `Bearer <key>` (every model), or the AK/SK pair,
  whose JWT (auth.py) is signed with the secret key and cached until shortly before it
  expires. Neither key nor token is ever put into a log line, an exception or a
  user-facing string; error details are additionally scrubbed of both in case the server
  ever echoed them.
* Result URLs are downloaded at once into a temp file next to `dest`, checked with PyAV,
  then renamed, so a half-written or undecodable file is never handed to the bot.

Uncertain contract points and the choice made here:

* Query by external id: KDOC allows `GET /v1/videos/image2video/{external_task_id}`; KDEMO
  uses `?external_task_id=` on the list endpoint instead. What Kling answers for an unknown
  id is undocumented, so lookup.py tries both and then reads the task list; only the list
  read to its end says "not created". A create with an external id Kling already has is
  refused as a duplicate anyway, never paid twice.
* Camera control: only where KDOC's capability map allows it (camera.py); elsewhere the
  prompt's camera words carry the move.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from pydantic import SecretStr

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError
from bot.domain.health import ModelAccess
from bot.domain.types import (
    PROMPT_LIMIT,
    ClipInfo,
    ProgressCallback,
    TaskStatus,
    VideoRequest,
)
from bot.providers.http import Credentials, JsonApi, RetryPolicy
from bot.providers.kling import capabilities as caps
from bot.providers.kling.auth import kling_credentials
from bot.providers.kling.camera import CameraControl, camera_control_for, supports_cfg_scale
from bot.providers.kling.errors import KLING_TABLE
from bot.providers.kling.images import prepare_image
from bot.providers.kling.lookup import TaskLookup
from bot.providers.kling.wire import Image2VideoBody, read_answer, task_of, task_status_from

log = logging.getLogger(__name__)

IMAGE2VIDEO_PATH = "/v1/videos/image2video"
DEFAULT_MODEL = caps.DEFAULT_VIDEO_MODEL


class KlingVideoProvider:
    """VideoProvider for Kling's official API. One HTTP client per instance."""

    name = "kling"

    def __init__(
        self,
        access_key: str | None,
        secret_key: str | None,
        base_url: str,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        download_timeout: float = 120.0,
        max_attempts: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        max_concurrent: int = 5,
        max_download_bytes: int = 1024 * 1024 * 1024,
    ) -> None:
        credentials: Credentials = kling_credentials(access_key, secret_key, api_key, clock)
        self.model = model
        self._create_slots = asyncio.Semaphore(max_concurrent)
        self._api = JsonApi(
            "Kling",
            base_url,
            credentials=credentials,
            errors=KLING_TABLE,
            read_answer=read_answer,
            can_look_up=True,
            retry=RetryPolicy(max_attempts, backoff_base_s, backoff_max_s),
            timeout=timeout,
            download_timeout=download_timeout,
            max_download_bytes=max_download_bytes,
            logger=log,
        )
        self._lookup = TaskLookup(self._api, IMAGE2VIDEO_PATH)

    @classmethod
    def from_settings(cls, settings: Settings) -> KlingVideoProvider:
        """The provider the operator configured: the API key, else both AK and SK; a
        retired or unknown model stops start-up with one line naming the setting."""
        if not settings.kling_enabled:
            raise ConfigError("KLING_API_KEY (or KLING_ACCESS_KEY and KLING_SECRET_KEY): required")
        if problem := caps.model_problem(settings.kling_model):
            raise ConfigError(f"KLING_MODEL: {problem}")
        if problem := caps.request_problem(
            settings.kling_model, settings.kling_mode, settings.kling_duration
        ):
            raise ConfigError(f"KLING_MODE/KLING_DURATION: {problem}")

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value else None

        return cls(
            secret(settings.kling_access_key),
            secret(settings.kling_secret_key),
            settings.kling_api_url,
            settings.kling_model,
            api_key=secret(settings.kling_api_key),
            max_concurrent=settings.kling_max_concurrent,
        )

    def __repr__(self) -> str:
        return f"KlingVideoProvider(base_url={self._api.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()

    async def check_access(self) -> ModelAccess:
        """List one task (free, authenticated): proves the keys; the model is checked by name."""
        await self._api.call("GET", f"{IMAGE2VIDEO_PATH}?pageNum=1&pageSize=1", "check")
        return ModelAccess(self.model, tuple(caps.VIDEO_MODELS))

    # --- VideoProvider ------------------------------------------------------------------

    async def submit(self, request: VideoRequest) -> str:
        """Create the task. Retries throttling and transient errors, but after any failure
        that may have created the task it first looks it up by external id, so a retry can
        never make (and pay for) a second task."""
        body = (await self._build_body(request)).wire()
        ambiguous = False  # an attempt failed in a way that may have made the task

        async def look_up() -> str | None:
            if not ambiguous:
                return None
            try:
                found = await self.find(request)
            except ProviderError as err:
                err.may_have_created = True  # still unknown whether the task exists
                raise
            if found:
                log.info(
                    "kling: create for %s had gone through as task %s",
                    request.external_id,
                    found,
                )
            return found or None

        async def create() -> str:
            nonlocal ambiguous
            try:
                async with self._create_slots:
                    data = await self._api.call(
                        "POST", IMAGE2VIDEO_PATH, "create", body, creates=True
                    )
                return task_of(data, "create").task_id
            except ProviderError as err:
                ambiguous = ambiguous or err.may_have_created
                if err.code == 1201:  # also what a duplicate external_task_id gets
                    found = await self._find_quietly(request)
                    if found:
                        log.info(
                            "kling: create for %s refused as duplicate; task %s exists",
                            request.external_id,
                            found,
                        )
                        return found
                err.may_have_created = ambiguous
                raise

        return await self._api.retrying("create", create, look_up=look_up)

    async def find(self, request: VideoRequest) -> str | None:
        """Task id for request.external_id: path form, query form, then the task list
        (lookup.py); None only when the list proves the task was never created."""
        return await self._lookup.find(request.external_id)

    async def status(self, request: VideoRequest, task_id: str) -> TaskStatus:
        """Poll the task once (retrying blips)."""
        path = f"{IMAGE2VIDEO_PATH}/{quote(task_id, safe='')}"
        data = await self._api.retrying("status", lambda: self._api.call("GET", path, "status"))
        return task_status_from(task_of(data, "status"))

    async def download(
        self,
        request: VideoRequest,
        task_id: str,
        status: TaskStatus,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> ClipInfo:
        """Fetch the result now (the URL is not ours to keep) and prove it decodes.

        A file that does not decode is fetched again (a cut-off transfer is the likely
        cause) within the attempt budget; if it still fails it is INVALID, not retried:
        the same URL would serve the same bad bytes. 403/404/410 on the URL is EXPIRED.
        """
        try:
            return await self._api.download_result(
                status,
                lambda: self.status(request, task_id),
                dest,
                on_progress,
                task=f"task {task_id}",
            )
        except ProviderError as err:
            if err.extra.get("corrupt_clip"):
                raise ProviderError(
                    ErrorKind.INVALID, err.detail, extra={**err.extra, "task_id": task_id}
                ) from err
            raise

    # --- What the models take (bot.domain.ports.ModelRules) ------------------------------

    def end_frame_mode(self, model: str, mode: str, sound: bool = False) -> str | None:
        """The mode an end frame needs on `model` (pro on 2.5 Turbo and 2.6); None: none."""
        return caps.end_frame_mode(self.live_model(model), mode, sound)

    def takes_sound(self, model: str, mode: str) -> bool:
        """Whether `model` makes native sound in `mode` (2.6 in pro, 3.0 in every mode)."""
        return caps.takes_sound(self.live_model(model), mode)

    def durations(self, model: str) -> tuple[int, ...]:
        """5 and 10 s on 2.5 Turbo and 2.6; every second from 3 to 15 on 3.0."""
        rules = caps.rules_for(self.live_model(model))
        return rules.durations if rules else (5, 10)

    def modes(self, model: str) -> tuple[str, ...]:
        """std and pro, and 4k on 3.0."""
        rules = caps.rules_for(self.live_model(model))
        return rules.modes if rules else ("std", "pro")

    def live_model(self, model: str) -> str:
        """The model a take is sent to. Drafts keep the model they were made with, so after
        Kling retired one (and the operator moved KLING_MODEL on) old drafts name it: they
        go to the configured model instead of failing with 1203. Unknown names stay, to be
        refused with the reason."""
        if not model or model in caps.RETIRED_VIDEO_MODELS:
            return self.model
        return model

    # --- Building the request -----------------------------------------------------------

    async def _build_body(self, request: VideoRequest) -> Image2VideoBody:
        model = self.live_model(request.model)
        if model != (request.model or model):
            log.info(
                "kling: %s names retired %s; sent to %s", request.external_id, request.model, model
            )
        has_tail = request.image_tail_path is not None
        # Refused here, never sent: Kling would answer 1201/1203, or take the money and
        # drop the end frame (std on 2.5 Turbo / 2.6).
        if problem := caps.request_problem(
            model, request.mode, request.duration, end_frame=has_tail, sound=request.sound
        ):
            raise ProviderError(ErrorKind.INVALID, f"Kling: {problem}")
        image = await asyncio.to_thread(prepare_image, request.image_path)
        tail = None
        if request.image_tail_path is not None:
            tail = await asyncio.to_thread(prepare_image, request.image_tail_path)
        camera = None
        if tail is None:
            camera = camera_control_for(request.camera_move, model, request.mode, request.duration)
        elif request.camera_move != "static":
            # KDOC: image+image_tail and camera_control are mutually exclusive. The end
            # frame is the stronger instruction, so it wins and the camera move is dropped.
            log.info(
                "kling: %s has an end frame; camera move %s dropped",
                request.external_id,
                request.camera_move,
            )
        cfg = None
        if request.cfg_scale is not None and supports_cfg_scale(model):
            cfg = min(1.0, max(0.0, request.cfg_scale))
        return Image2VideoBody(
            model_name=model,
            mode=request.mode,  # type: ignore[arg-type]  # checked above
            duration=str(request.duration),
            sound=("on" if request.sound else "off") if caps.sends_sound_field(model) else None,
            image=image.b64,
            image_tail=tail.b64 if tail else None,
            prompt=request.prompt[:PROMPT_LIMIT] or None,
            negative_prompt=request.negative_prompt[:PROMPT_LIMIT] or None,
            cfg_scale=cfg,
            camera_control=CameraControl.model_validate(camera) if camera else None,
            callback_url=request.callback_url or None,
            external_task_id=request.external_id,
        )

    async def _find_quietly(self, request: VideoRequest) -> str | None:
        try:
            return await self.find(request)
        except ProviderError:
            return None
