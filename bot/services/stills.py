"""Clay stills: before animating, a shot's photo can first be turned into a clay picture.

The film that inspired Claymate was made this way: each photo became a clay-style picture,
and the picture, not the photo, was animated. A still is much cheaper than a clip, so a
user can ask for another until one looks right, then 🎬 Animate it (or 📷 use the photo).

Makers (StillMaker, in bot/providers/), chosen by CLAYMATE_STILL_PROVIDER (auto: Kling when
its keys are set, else offline):
- offline: the local clay look (bot/media/stills.py), free, no keys.
- kling: Kling image generation with the photo as the reference image.
- openai: the OpenAI images edit endpoint (the model is CLAYMATE_IMAGE_MODEL).

Candidates live on disk as `stills/<shot folder>/<n>.jpg`, the folder a random name kept on
the shot (never its row id); a button names the shot's draft and the number, so no extra
table is needed. The chosen one is written to Shot.still_path,
which the job runner sends to the video model instead of the photo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path

from bot.domain.aspect import shot_aspect
from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.ports import StillMaker
from bot.domain.types import Actor, Still, StillChoice
from bot.files import write_private
from bot.media.framing import fit_still, frame_photo
from bot.services.budget import Budget
from bot.services.drafting import Drafting, PhotoIntake
from bot.services.permissions import FetchStatus, Permissions
from bot.slots import releasing_slot
from storage.db import Database
from storage.models import PromptRevision, Shot

log = logging.getLogger(__name__)

MAX_STILLS_PER_SHOT = 20

# What a still costs, in the same units as a clip's cost (Kling's: 1 unit ≈ $0.14).
# Kling images are priced per image at a fraction of a clip (providers.md 1.12, whose image
# prices are marked unverified). An OpenAI still's price depends on the configured model and
# is not published for every one of them: 0.3 units is an estimate.
STILL_COST_UNITS: dict[str, float] = {"offline": 0.0, "kling": 0.25, "openai": 0.3}


class Stills:
    """🎨 Clay still → 🎬 Animate this / 🔄 Another / 📷 Use the original photo."""

    def __init__(
        self,
        db: Database,
        maker: StillMaker,
        *,
        drafting: Drafting,
        permissions: Permissions,
        budget: Budget,
        intake: PhotoIntake,
        folder: Path,
    ) -> None:
        self.db = db
        self.maker = maker
        self.drafting = drafting  # the draft and its shot, for this chat only
        self.permissions = permissions  # a still is paid work: the group's Generate rule
        self.budget = budget
        self.intake = intake  # an end frame is a photo: the same limits and cap
        self.folder = folder

    @property
    def cost_units(self) -> float:
        return STILL_COST_UNITS.get(self.maker.name, 0.0)

    def shot_folder(self, shot: Shot) -> Path:
        """The shot's stills and end frames: its random folder (older shots: their id)."""
        return self.folder / (shot.files_id or str(shot.id))

    async def make(
        self, actor: Actor, revision_id: int, *, fetch_status: FetchStatus | None = None
    ) -> Still:
        """A new clay still of the draft's photo (the next number for this shot)."""
        await self.permissions.check_may_spend(actor, fetch_status)
        async with self.db.unit_of_work() as uow:
            revision, _shot = await self.permissions.spendable_revision(uow, actor, revision_id)
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
                # Moderation (Kling 1300/1301, a risk-control failure) is about the photo:
                # say so, instead of inviting the same refusal with "try again".
                key = "still.refused" if error.kind is ErrorKind.CONTENT else "still.failed"
                raise StudioError(key) from None
            if aspect := shot_aspect(shot.facts):
                # Image models draw at their nearest size (2:3 for 9:16): the still, and
                # so the clip animated from it, keeps the shot's exact shape.
                jpeg = await asyncio.to_thread(fit_still, jpeg, aspect)
            path = folder / f"{number}.jpg"
            await asyncio.to_thread(write_private, path, jpeg)
            made = await self._shot_still_exists(shot.id, path)
        finally:
            # Charged once the still exists; refunded when it failed (or was interrupted).
            await asyncio.shield(self.budget.settle(entry, charged=made))
        if not made:  # /forget took the shot while the still was made
            raise StudioError("draft.not_found")
        return Still(shot.id, revision.id, number, path, self.maker.name, self.cost_units)

    async def _shot_still_exists(self, shot_id: int, path: Path) -> bool:
        """After writing a still: if /forget removed its shot meanwhile, the file goes too."""
        async with self.db.unit_of_work() as uow:
            if await uow.shots.get_shot(shot_id) is not None:
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
            shot = await uow.shots.get_shot(choice.shot_id)
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

        The end frame wins over a camera move (Kling takes one or the other), and the mode
        becomes one the model takes an end frame in (`Drafting.fit_end_frame`), so the new
        revision, and the price shown with it, say what Generate will send; ↩️ Undo goes
        back to the draft without it.
        """
        revision = await self.drafting.revision_by_id(actor, revision_id)
        params = self.drafting.fit_end_frame(dict(revision.params))  # refused before storing
        prepared = await self.intake.prepare(photo)
        shot = await self.drafting.shot_by_id(actor, revision.shot_id)
        jpeg = prepared.jpeg
        if aspect := shot_aspect(shot.facts):
            # The clip cannot end in another shape than it starts: cut it like the shot's photo.
            framed = await asyncio.to_thread(frame_photo, jpeg, aspect)
            jpeg = framed.jpeg if framed is not None else jpeg
        path = self.shot_folder(shot) / f"end-{uuid.uuid4().hex[:12]}.jpg"
        await asyncio.to_thread(write_private, path, jpeg)
        params["image_tail_path"] = str(path)
        async with self.db.unit_of_work() as uow:
            stored = await uow.shots.get_shot(revision.shot_id)
            if stored is None:
                raise StudioError("draft.not_found")
            return await uow.shots.revise_params(stored, revision, params, actor.user_id)


def _remove_orphan(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: someone else's files are there too
        path.parent.rmdir()
