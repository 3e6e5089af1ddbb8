"""Clay stills: before animating, a shot's photo can first be turned into a clay picture.

The film that inspired Claymate was made this way: each photo became a clay-style picture,
and the picture, not the photo, was animated. A still is much cheaper than a clip, so a
user can ask for another until one looks right, then 🎬 Animate it (or 📷 use the photo).

Makers, chosen by CLAYMATE_STILL_PROVIDER (auto: Kling when its keys are set, else offline):
- offline: the local clay look (bot/media/clay.py), free, no keys.
- kling: Kling image generation with the photo as the reference image.
- openai: the OpenAI images edit endpoint (gpt-image-1).

Candidates live on disk as `stills/<shot folder>/<n>.jpg`, the folder a random name kept on
the shot (never its row id); a button names the shot's draft and the number, so no extra
table is needed. The chosen one is written to Shot.still_path,
which the job runner sends to the video model instead of the photo.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
from PIL import Image, ImageOps

from bot.config import ConfigError, Settings
from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.types import Actor, StillChoice
from bot.files import write_private
from bot.media.clay import clay_still
from bot.services.budget import Budget
from bot.services.drafting import Drafting, PhotoIntake
from bot.slots import releasing_slot
from storage.db import Database
from storage.models import PromptRevision, Shot

log = logging.getLogger(__name__)

CLAY_STYLE = (
    "Turn this photo into a handmade claymation set: every surface sculpted from plasticine "
    "with soft rounded edges, visible fingerprints and tool marks, matte clay colours, "
    "warm studio lighting, miniature stop-motion look. Keep the composition, the places and "
    "the objects exactly where they are."
)
MAX_STILLS_PER_SHOT = 20

# What a still costs, in the same units as a clip's cost (Kling's: 1 unit ≈ $0.14).
# Kling images are priced per image at a fraction of a clip (providers.md 1.12, whose image
# prices are marked unverified); gpt-image-1 at medium quality is about $0.04 ≈ 0.3 units.
STILL_COST_UNITS: dict[str, float] = {"offline": 0.0, "kling": 0.25, "openai": 0.3}

KLING_IMAGE_PATH = "/v1/images/generations"
KLING_IMAGE_MODEL = "kling-v2"
OPENAI_IMAGE_MODEL = "gpt-image-1"


class StillMaker(Protocol):
    name: str

    async def make(self, photo: Path, seed: int) -> bytes:
        """A clay-style JPEG of `photo`; `seed` varies it (🔄 Another)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Still:
    shot: Shot
    revision: PromptRevision
    number: int
    path: Path
    maker: str
    cost_units: float


# --- makers -----------------------------------------------------------------------------


class OfflineStills:
    """The local clay look: free and instant-ish (about a second at 1080p)."""

    name = "offline"

    async def make(self, photo: Path, seed: int) -> bytes:
        return await asyncio.to_thread(_offline_still, photo, seed)

    async def aclose(self) -> None:
        return None


def _offline_still(photo: Path, seed: int) -> bytes:
    with Image.open(photo) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((1280, 1280))
    return _jpeg(clay_still(upright, seed=seed, fast=True))


class KlingStills:
    """Kling image generation with the photo as reference: create, poll, fetch the image."""

    name = "kling"

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        base_url: str,
        *,
        model: str = KLING_IMAGE_MODEL,
        poll_s: float = 2.0,
        deadline_s: float = 180.0,
    ) -> None:
        from bot.providers.kling import KlingJwt

        self._signer = KlingJwt(access_key, secret_key)
        self.model = model
        self._poll_s = poll_s
        self._deadline_s = deadline_s
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30.0)

    def __repr__(self) -> str:  # never show the keys
        return f"KlingStills(model={self.model!r})"

    async def make(self, photo: Path, seed: int) -> bytes:
        image = await asyncio.to_thread(_reference_jpeg, photo)
        body = {
            "model_name": self.model,
            "prompt": CLAY_STYLE,
            "image": base64.b64encode(image).decode(),
            "image_fidelity": 0.6,
            "n": 1,
            "aspect_ratio": _aspect(photo),
        }
        created = await self._call("POST", KLING_IMAGE_PATH, body)
        task_id = str(created.get("task_id") or "")
        if not task_id:
            raise ProviderError(ErrorKind.UNKNOWN, "kling image: no task_id")
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._deadline_s
        while loop.time() < give_up:
            task = await self._call("GET", f"{KLING_IMAGE_PATH}/{task_id}")
            state = task.get("task_status")
            if state == "succeed":
                images = (task.get("task_result") or {}).get("images") or []
                if not images or not images[0].get("url"):
                    raise ProviderError(ErrorKind.UNKNOWN, "kling image: succeed without url")
                resp = await self._http.get(images[0]["url"])
                if not resp.is_success:
                    raise ProviderError(ErrorKind.EXPIRED, f"kling image: HTTP {resp.status_code}")
                return await asyncio.to_thread(_as_jpeg, resp.content)
            if state == "failed":
                message = str(task.get("task_status_msg") or "")
                kind = ErrorKind.CONTENT if "risk" in message.lower() else ErrorKind.UNKNOWN
                raise ProviderError(kind, f"kling image failed: {message[:200]}")
            await asyncio.sleep(self._poll_s)
        raise ProviderError(ErrorKind.TIMEOUT, "kling image: not ready in time")

    async def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self._signer.token()}"}
        try:
            resp = await self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"kling image: {type(exc).__name__}"
            ) from None
        try:
            envelope = resp.json()
        except ValueError:
            envelope = {}
        if resp.is_success and envelope.get("code") == 0:
            return envelope.get("data") or {}
        code = envelope.get("code")
        kind = (
            ErrorKind.AUTH
            if resp.status_code == 401
            else ErrorKind.BALANCE
            if code in (1101, 1102)
            else ErrorKind.RATE_LIMITED
            if resp.status_code == 429
            else ErrorKind.INVALID
        )
        raise ProviderError(kind, f"kling image: HTTP {resp.status_code} code {code}", code=code)

    async def aclose(self) -> None:
        await self._http.aclose()


class OpenAIStills:
    """The OpenAI images edit endpoint: the photo in, a clay picture (base64) out."""

    name = "openai"

    def __init__(self, api_key: str, base_url: str | None, model: str = OPENAI_IMAGE_MODEL):
        from openai import AsyncOpenAI

        self.model = model
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=1)

    def __repr__(self) -> str:
        return f"OpenAIStills(model={self.model!r})"

    async def make(self, photo: Path, seed: int) -> bytes:
        import openai

        image = await asyncio.to_thread(_reference_jpeg, photo)
        wide = _aspect(photo) in ("16:9", "4:3", "3:2")
        try:
            result = await self._client.images.edit(
                model=self.model,
                image=("photo.jpg", image, "image/jpeg"),
                prompt=CLAY_STYLE,
                size="1536x1024" if wide else "1024x1536",
                n=1,
            )
        except openai.AuthenticationError:
            raise ProviderError(ErrorKind.AUTH, "openai images: authentication") from None
        except openai.RateLimitError:
            raise ProviderError(ErrorKind.RATE_LIMITED, "openai images: rate limited") from None
        except openai.BadRequestError as exc:
            kind = ErrorKind.CONTENT if "safety" in str(exc).lower() else ErrorKind.INVALID
            raise ProviderError(kind, "openai images: request refused") from None
        except openai.APIError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"openai images: {type(exc).__name__}"
            ) from None
        data = result.data[0].b64_json if result.data else None
        if not data:
            raise ProviderError(ErrorKind.UNKNOWN, "openai images: no image in the answer")
        return await asyncio.to_thread(_as_jpeg, base64.b64decode(data))

    async def aclose(self) -> None:
        await self._client.close()


def build_still_maker(settings: Settings) -> StillMaker:
    """CLAYMATE_STILL_PROVIDER: auto (Kling when configured, else offline), or one by name."""
    choice = settings.still_provider
    if choice == "auto":
        choice = "kling" if settings.kling_enabled else "offline"
    if choice == "kling":
        if not (settings.kling_access_key and settings.kling_secret_key):
            raise ConfigError("CLAYMATE_STILL_PROVIDER: kling needs KLING_ACCESS_KEY/SECRET_KEY")
        return KlingStills(
            settings.kling_access_key.get_secret_value(),
            settings.kling_secret_key.get_secret_value(),
            settings.kling_api_url,
        )
    if choice == "openai":
        if not settings.openai_api_key:
            raise ConfigError("CLAYMATE_STILL_PROVIDER: openai needs OPENAI_API_KEY")
        return OpenAIStills(settings.openai_api_key.get_secret_value(), settings.openai_base_url)
    return OfflineStills()


# --- the workflow -----------------------------------------------------------------------


class Stills:
    """🎨 Clay still → 🎬 Animate this / 🔄 Another / 📷 Use the original photo."""

    def __init__(
        self,
        db: Database,
        maker: StillMaker,
        *,
        drafting: Drafting,
        budget: Budget,
        intake: PhotoIntake,
        folder: Path,
    ) -> None:
        self.db = db
        self.maker = maker
        self.drafting = drafting  # the draft and its shot, for this chat only
        self.budget = budget
        self.intake = intake  # an end frame is a photo: the same limits and cap
        self.folder = folder

    @property
    def cost_units(self) -> float:
        return STILL_COST_UNITS.get(self.maker.name, 0.0)

    def shot_folder(self, shot: Shot) -> Path:
        """The shot's stills and end frames: its random folder (older shots: their id)."""
        return self.folder / (shot.files_id or str(shot.id))

    async def make(self, actor: Actor, revision_id: int) -> Still:
        """A new clay still of the draft's photo (the next number for this shot)."""
        revision = await self.drafting.revision_by_id(actor, revision_id)
        shot = await self.drafting.shot_by_id(actor, revision.shot_id)
        folder = self.shot_folder(shot)
        # End frames share the folder; only numbered stills count.
        stills = folder.glob("*.jpg") if folder.is_dir() else ()
        number = sum(1 for path in stills if path.stem.isdigit()) + 1
        if number > MAX_STILLS_PER_SHOT:
            raise StudioError("still.too_many", limit=MAX_STILLS_PER_SHOT)
        entry = await self._reserve(actor)  # paid work: quota-checked before the provider
        made = False
        try:
            try:
                async with releasing_slot():  # a provider (or a worker thread) takes seconds
                    jpeg = await self.maker.make(
                        Path(shot.photo_path), seed=shot.id * 100 + number
                    )
            except ProviderError as error:
                log.warning("still for shot %s failed: %s", shot.id, error)
                raise StudioError("still.failed") from None
            path = folder / f"{number}.jpg"
            await asyncio.to_thread(write_private, path, jpeg)
            made = await self._shot_still_exists(shot.id, path)
        finally:
            # Charged once the still exists; refunded when it failed (or was interrupted).
            await asyncio.shield(self.budget.settle(entry, charged=made))
        if not made:  # /forget took the shot while the still was made
            raise StudioError("draft.not_found")
        return Still(shot, revision, number, path, self.maker.name, self.cost_units)

    async def _shot_still_exists(self, shot_id: int, path: Path) -> bool:
        """After writing a still: if /forget removed its shot meanwhile, the file goes too."""
        async with self.db.unit_of_work() as uow:
            if await uow.projects.get_shot(shot_id) is not None:
                return True
        await asyncio.to_thread(_remove_orphan, path)
        return False

    async def _reserve(self, actor: Actor) -> int | None:
        """Reserve a still's cost under the user's (and group's) quotas, like a take's."""
        group_id = actor.chat_id if actor.is_group else None
        allowance, entry = await self.budget.reserve_units(
            self.cost_units, actor.user_id, group_id, kind="still"
        )
        if not allowance.enough:
            raise StudioError(
                "budget.exceeded", cost=f"{allowance.cost:g}", left=f"{allowance.left or 0:g}"
            )
        return entry

    async def choose(self, actor: Actor, revision_id: int, number: int | None) -> Shot:
        """🎬 Animate this (a still's number) or 📷 Use the original photo (None)."""
        choice = await self.choice(actor, revision_id, number)
        async with self.db.unit_of_work() as uow:
            shot = await uow.projects.get_shot(choice.shot_id)
            if shot is None:
                raise StudioError("draft.not_found")
            shot.still_path = choice.path
            return shot

    async def choice(self, actor: Actor, revision_id: int, number: int | None) -> StillChoice:
        """The picture a press chooses, checked but not yet set: the take request sets it,
        so a refused Generate leaves the shot's picture as it was."""
        revision = await self.drafting.revision_by_id(actor, revision_id)
        folder = self.shot_folder(await self.drafting.shot_by_id(actor, revision.shot_id))
        path = None if number is None else folder / f"{number}.jpg"
        if path is not None and not path.is_file():
            raise StudioError("still.gone")
        return StillChoice(revision.shot_id, str(path) if path else None)

    async def end_frame(self, actor: Actor, revision_id: int, photo: bytes) -> PromptRevision:
        """A second photo replying to a draft: the clip ends on it (Kling's image_tail).

        The end frame wins over a camera move (Kling takes one or the other) and forces 5 s,
        so the new revision says so; ↩️ Undo goes back to the draft without it.
        """
        revision = await self.drafting.revision_by_id(actor, revision_id)
        prepared = await self.intake.prepare(photo)
        folder = self.shot_folder(await self.drafting.shot_by_id(actor, revision.shot_id))
        path = folder / f"end-{uuid.uuid4().hex[:12]}.jpg"
        await asyncio.to_thread(write_private, path, prepared.jpeg)
        params = {
            **revision.params,
            "image_tail_path": str(path),
            "duration": 5,
            "camera_move": "static",
        }
        async with self.db.unit_of_work() as uow:
            shot = await uow.projects.get_shot(revision.shot_id)
            if shot is None:
                raise StudioError("draft.not_found")
            return await uow.projects.revise_params(shot, revision, params, actor.user_id)


def _remove_orphan(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: someone else's files are there too
        path.parent.rmdir()


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def _as_jpeg(data: bytes) -> bytes:
    """Whatever the service returned (PNG, WebP), as the JPEG the video models take."""
    with Image.open(io.BytesIO(data)) as image:
        return _jpeg(image)


def _reference_jpeg(photo: Path) -> bytes:
    with Image.open(photo) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((1536, 1536))
    return _jpeg(upright)


def _aspect(photo: Path) -> str:
    """The nearest aspect ratio Kling's image endpoint offers (clips come out the same way)."""
    with Image.open(photo) as image:
        width, height = image.size
    ratio = width / height
    options = {"16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1.0, "3:4": 3 / 4, "9:16": 9 / 16}
    return min(options, key=lambda name: abs(options[name] - ratio))
