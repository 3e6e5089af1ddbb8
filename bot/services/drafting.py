"""From a photo to a prompt worth paying for: shots, drafts, refinements, Undo, ⚙️, albums.

Handlers and the CLI call these and render the results; nothing here knows Telegram. Each
operation is one or a few short units of work: a drafter (an LLM may take seconds) is
never called with a transaction open.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.domain.errors import StudioError
from bot.domain.ports import (
    DraftRestager,
    ModelRules,
    PromptDrafter,
    VideoProvider,
    model_rules,
    take_sound,
)
from bot.domain.records import RevisionRecord
from bot.domain.states import ShotState
from bot.domain.types import (
    CAMERA_MOVES,
    DURATIONS,
    MODES,
    Actor,
    Draft,
    DraftRequest,
    DraftView,
    Origin,
    PhotoFacts,
    ProjectShape,
    Recaption,
    RefineStep,
    ShotOutcome,
    nearest_duration,
    offered_durations,
)
from bot.files import write_private
from bot.media.framing import frame_photo, preview
from bot.media.intake import (
    PreparedPhoto,
    llm_copy_path,
    llm_jpeg,
    llm_jpeg_of,
    prepare_photo,
    read_facts,
)
from bot.services.budget import Budget
from bot.services.capacity import INTAKE_SLOTS
from bot.services.permissions import FetchStatus, Permissions
from bot.services.projects import current_projects
from storage.db import Database
from storage.group_commit import GroupCommit
from storage.models import BotMessage, PromptRevision, Shot
from storage.repos.chats import MessageRefs
from storage.uow import UnitOfWork

MAX_DESCRIPTION_CHARS = 1000
MAX_INSTRUCTION_CHARS = 1000
STILL_FIRST = "still_first"  # chat setting: a new draft offers 🎨 Clay still before 🎬 Generate
SOUND = "sound"  # project setting: native sound where the model makes it


class PhotoIntake:
    """Photos in: checked, made video-ready (and the LLM's small copy) on worker threads."""

    def __init__(
        self, photos_dir: Path, *, max_side: int, max_bytes: int, slots: int = INTAKE_SLOTS
    ) -> None:
        self.photos_dir = photos_dir
        self.max_side = max_side
        self.max_bytes = max_bytes
        self._slots = asyncio.Semaphore(slots)

    async def store(
        self, photo: bytes, aspect: str | None | Callable[[], Awaitable[str | None]] = None
    ) -> tuple[PreparedPhoto, Path, bytes | None]:
        """The video-ready JPEG and the LLM's copy, written to disk: one trip to a thread.

        With a project shape, the photo is cut around its subject to it; the third value
        is then a small preview of the cut (None: nothing was cut). The shape may be a
        read, done once the photo's turn has come: photos enter intake in the order they
        came, not in the order their reads came back."""
        async with self._slots:
            shape = await aspect() if callable(aspect) else aspect
            return await asyncio.to_thread(self._store, photo, shape)

    async def prepare(self, photo: bytes) -> PreparedPhoto:
        """Intake without storing (an end frame): the same limits, inside the same cap."""
        async with self._slots:
            return await asyncio.to_thread(
                prepare_photo, photo, max_side=self.max_side, max_bytes=self.max_bytes
            )

    def _store(self, photo: bytes, aspect: str | None) -> tuple[PreparedPhoto, Path, bytes | None]:
        prepared = prepare_photo(
            photo, max_side=self.max_side, max_bytes=self.max_bytes, with_llm_jpeg=True
        )
        framed = frame_photo(prepared.jpeg, aspect) if aspect else None
        shown = None
        if framed is not None:
            # The drafter, the clips and the chat all see the same cut picture.
            prepared = replace(
                prepared,
                jpeg=framed.jpeg,
                width=framed.image.width,
                height=framed.image.height,
                cropped=True,
                facts=read_facts(framed.image),
                notes=(*prepared.notes, ("aspect.cropped", {"aspect": aspect})),
                llm_jpeg=llm_jpeg(framed.image),
            )
            shown = preview(framed.image)
        # One folder, like clips: the row knows which shot a file belongs to.
        path = self.photos_dir / f"{uuid.uuid4().hex}.jpg"
        if prepared.llm_jpeg is not None:  # first: a photo on disk always has its copy
            write_private(llm_copy_path(path), prepared.llm_jpeg)
        return prepared, write_private(path, prepared.jpeg), shown


class Drafting:
    """Shots and their drafts, for the chat that owns them."""

    def __init__(
        self,
        db: Database,
        drafter: PromptDrafter,
        providers: Mapping[str, VideoProvider],
        permissions: Permissions,
        budget: Budget,
        intake: PhotoIntake,
        *,
        default_provider: str,
        default_mode: str,
        restage: DraftRestager | None = None,
    ) -> None:
        self.db = db
        # Rewrites a draft's camera and timing words; None keeps the words as they are.
        self.restage = restage
        self.drafter = drafter
        self.providers = providers
        self.permissions = permissions
        self.budget = budget
        self.intake = intake
        self.default_provider = default_provider
        self.default_mode = default_mode
        # Every message the bot sends is remembered, each in a small transaction.
        self._remembered = GroupCommit(db, _remember_all, name="messages")
        # Under load the drafts of many photos come back together: their shots are
        # written together too (see `_write_shots`).
        self._new_shots = GroupCommit(db, self._write_shots, name="shots")

    @property
    def provider_names(self) -> tuple[str, ...]:
        """The video providers a draft's ⚙️ may switch between."""
        return tuple(self.providers)

    def rules_for(self, params: dict[str, Any]) -> tuple[ModelRules | None, str]:
        """The per-model rules of the draft's provider (None: it has none) and its model."""
        provider = self.providers.get(str(params.get("provider") or self.default_provider))
        rules = model_rules(provider)
        model = str(params.get("model") or (provider.model if provider else ""))
        return rules, model

    def fit_end_frame(self, params: dict[str, Any]) -> dict[str, Any]:
        """A draft's params once it ends on an end frame; the camera move gives way.

        A provider with per-model rules (Kling) says which mode takes an end frame: a std
        draft on 2.5 Turbo or 2.6 becomes pro here, so the draft shows pro's price before
        Generate, and 10 s stays where the model allows it. Others keep the old rule: 5 s.
        """
        fitted = {**params, "camera_move": "static"}
        name = str(params.get("provider") or self.default_provider)
        rules = model_rules(self.providers.get(name))
        if rules is None:
            fitted["duration"] = 5
            return fitted
        model = str(params.get("model") or rules.model)
        mode = rules.end_frame_mode(model, str(params.get("mode", "std")))
        if mode is None:
            raise StudioError("end_frame.unsupported", model=model)
        fitted["mode"] = mode
        return fitted

    # --- shots ----------------------------------------------------------------------------

    async def add_photo(
        self,
        actor: Actor,
        photo: bytes,
        description: str | None,
        origin: Origin = Origin(),
        *,
        draft: bool = True,
        shape: ProjectShape | None = None,
    ) -> ShotOutcome:
        """Intake a photo into the current project and, with a description, draft at once.

        The draft is made from the photo in memory before anything is stored (an LLM may
        take seconds, and no transaction waits for it); the shot in the chat's current
        project, its first revision and the draft's view are then one unit of work, shared
        with the photos whose drafts came back meanwhile (`_write_shots`).
        `shape`: the project's shape as the update's gate read it; without it, it is read.
        """
        aspect: str | None = shape.aspect if shape is not None else None

        async def read_shape() -> str | None:
            # The shape only: the project itself is made (if it is the chat's first photo)
            # in the same unit of work as the shot, after the draft.
            nonlocal aspect
            async with self.db.unit_of_work() as uow:
                aspect = await uow.chats.current_aspect(actor.chat_id)
            return aspect

        prepared, path, framed = await self.intake.store(
            photo, aspect if shape is not None else read_shape
        )
        description = _clean_text(description, MAX_DESCRIPTION_CHARS)
        drafted = None
        if description and draft:
            drafted = await self.drafter.draft(
                DraftRequest(
                    description=description,
                    facts=prepared.facts,
                    photo_llm_jpeg=prepared.llm_jpeg,
                )
            )
        fields = {
            "created_by": actor.user_id,
            "status": ShotState.DRAFTED if drafted else ShotState.AWAITING_DESCRIPTION,
            "description": description,
            "photo_path": str(path),
            "photo_width": prepared.width,
            "photo_height": prepared.height,
            "source_format": prepared.source_format,
            "facts": facts_to_json(prepared.facts, aspect),
            "intake_notes": {"notes": [[key, params] for key, params in prepared.notes]},
            "chat_id": origin.chat_id,
            "message_id": origin.message_id,
            "thread_id": origin.thread_id,
            "media_group_id": origin.media_group_id,
            "telegram_file_id": origin.file_id,
        }
        shot, view = await self._new_shots.run(_NewShot(actor, fields, drafted))
        return ShotOutcome(shot, view, prepared.notes, framed)

    async def _write_shots(
        self, uow: UnitOfWork, batch: list[_NewShot]
    ) -> list[tuple[Shot, DraftView | None]]:
        """Each photo's shot in its chat's current project, with its first revision and
        the draft's view: for a photo alone, or for all the photos whose drafts came back
        while the last such unit of work was being written.

        Every photo gets what it would have got alone: its chat's first photo opens the
        project that the rest of its album joins, and each shot takes the next place. But
        each step is one statement for the lot, since under load a statement costs about
        as much as the work it does and a transaction as much as two statements.
        """
        projects = await current_projects(uow, [new.actor for new in batch])
        shots = await uow.shots.add_shots(
            [{**new.fields, "project_id": projects[new.actor.chat_id].id} for new in batch]
        )
        drafted = [
            (new.actor, shot, new.draft)
            for new, shot in zip(batch, shots, strict=True)
            if new.draft is not None
        ]
        if not drafted:
            return [(shot, None) for shot in shots]
        revisions = await uow.shots.add_first_revisions(
            [
                (shot, await self._revision_fields(uow, actor, draft))
                for actor, shot, draft in drafted
            ]
        )
        # Every draft's price says what is left of its sender's (and group's) quota.
        subjects = {actor.user_id for actor, _, _ in drafted}
        subjects.update(actor.chat_id for actor, _, _ in drafted if actor.is_group)
        await uow.accounts.read_quota_overrides(*subjects)
        views = {
            shot.id: await self._view(uow, actor, revision, shot)
            for (actor, shot, _), revision in zip(drafted, revisions, strict=True)
        }
        return [(shot, views.get(shot.id)) for shot in shots]

    async def describe(
        self, actor: Actor, shot_id: int, description: str | None, *, follows: int | None = None
    ) -> PromptRevision:
        """Draft a shot that was waiting for its description ("" drafts from the photo).

        `follows`: the draft of the kept take this shot continues (➡️ Continue); its
        engine, model, mode and length carry over, so the story keeps one look and rhythm.
        """
        description = _clean_text(description, MAX_DESCRIPTION_CHARS) or ""
        async with self.db.unit_of_work() as uow:
            shot = await self.permissions.shot(uow, actor, shot_id)
            previous = None
            if follows is not None:
                previous, _ = await self.permissions.revision(uow, actor, follows)
            shot.description = description
            shot.status = ShotState.DRAFTED
        request = await self._draft_request(shot, None, description=description)
        if previous is not None:
            request = replace(request, duration=int(previous.params.get("duration", 5)))
        return await self._store_draft(
            actor,
            shot,
            await self.drafter.draft(request),
            parent=None,
            instruction=None,
            inherit=previous,
        )

    async def recaption(
        self, actor: Actor, chat_id: int, message_id: int, caption: str | None
    ) -> Recaption | None:
        """A photo's caption edited after it became a shot: never a new shot.

        The description follows the caption. While nothing has been generated from the
        shot, the draft follows too (a new revision, so Undo still works); after that the
        user decides whether a new draft is worth losing the one they generated from.
        None: the message is not a shot's photo in this chat.
        """
        async with self.db.unit_of_work() as uow:
            found = await uow.shots.shot_for_message(chat_id, message_id)
            if found is None:
                return None
            shot = await self.permissions.shot(uow, actor, found.id)
            generated = bool(await uow.takes.shot_takes(shot.id))
        description = _clean_text(caption, MAX_DESCRIPTION_CHARS)
        if not description or description == shot.description:
            return Recaption(shot, None, changed=False)
        if shot.status == ShotState.AWAITING_DESCRIPTION:
            return Recaption(shot, await self.describe(actor, shot.id, description), changed=True)
        async with self.db.unit_of_work() as uow:
            stored = await uow.shots.get_shot(shot.id)
            assert stored is not None
            stored.description = description
        shot.description = description
        if generated or shot.status == ShotState.CANCELLED:
            return Recaption(shot, None, changed=True)
        return Recaption(shot, await self.redraft(actor, shot.id), changed=True)

    async def cancel_shot(
        self, actor: Actor, shot_id: int, *, fetch_status: FetchStatus | None = None
    ) -> None:
        """✖ Cancel (or /drop): the shot leaves the project, by the cancel rule of takes."""
        shot = await self.shot_by_id(actor, shot_id)
        if actor.is_group and shot.created_by != actor.user_id:
            if not await self.permissions.may_remove_others(actor, fetch_status):
                raise StudioError("shot.cancel_not_allowed")
        async with self.db.unit_of_work() as uow:
            stored = await uow.shots.get_shot(shot.id)
            if stored is not None:
                stored.status = ShotState.CANCELLED

    async def shot_by_id(self, actor: Actor, shot_id: int) -> Shot:
        """The shot, if it is this chat's."""
        async with self.db.unit_of_work() as uow:
            return await self.permissions.shot(uow, actor, shot_id)

    # --- drafts ---------------------------------------------------------------------------

    async def draft_view(self, actor: Actor, revision: RevisionRecord) -> DraftView:
        """`revision` as its draft message shows it."""
        async with self.db.unit_of_work() as uow:
            shot = await self.permissions.shot(uow, actor, revision.shot_id)
            return await self._view(uow, actor, revision, shot)

    async def revision_by_id(self, actor: Actor, revision_id: int) -> PromptRevision:
        """The draft, if its shot is this chat's."""
        async with self.db.unit_of_work() as uow:
            revision, _shot = await self.permissions.revision(uow, actor, revision_id)
            return revision

    async def redraft(self, actor: Actor, shot_id: int) -> PromptRevision:
        """🔄 New draft: start again from the description, keeping the history."""
        async with self.db.unit_of_work() as uow:
            shot = await self.permissions.shot(uow, actor, shot_id)
            current = None
            if shot.current_revision_id:
                current, _ = await self.permissions.revision(uow, actor, shot.current_revision_id)
        request = await self._draft_request(shot, current)
        draft = await self.drafter.draft(request)
        return await self._store_draft(actor, shot, draft, parent=current, instruction=None)

    async def refine(self, actor: Actor, revision_id: int, instruction: str) -> DraftView:
        """A reply to a draft: rewrite its prompt following the user's words; the new draft
        as the chat is shown it, read in the unit of work that stores it (a reply is the
        most common update after a photo). The drafter is asked outside any transaction."""
        instruction = _clean_text(instruction, MAX_INSTRUCTION_CHARS) or ""
        if not instruction:
            raise StudioError("refine.empty")
        async with self.db.unit_of_work() as uow:
            revision, shot = await self.permissions.revision(uow, actor, revision_id)
            chain = await uow.shots.revision_chain(revision)
        history = tuple(
            RefineStep(instruction=r.instruction or "", prompt=r.prompt)
            for r in chain[1:]
            if r.instruction
        )
        request = await self._draft_request(shot, revision)
        draft = await self.drafter.refine(request, _as_draft(revision), instruction, history)
        async with self.db.unit_of_work() as uow:
            stored = await uow.shots.get_shot(shot.id)
            assert stored is not None
            refined = await self._add_revision(
                uow, actor, stored, draft, parent=revision, instruction=instruction
            )
            return await self._view(uow, actor, refined, stored)

    async def undo(self, actor: Actor, shot_id: int) -> PromptRevision | None:
        """↩️ Undo: the previous revision becomes current again (None: nothing to undo)."""
        async with self.db.unit_of_work() as uow:
            shot = await self.permissions.shot(uow, actor, shot_id)
            if shot.current_revision_id is None:
                return None
            current, _ = await self.permissions.revision(uow, actor, shot.current_revision_id)
            if current.parent_id is None:
                return None
            parent = await uow.shots.get_revision(current.parent_id)
            if parent is None:
                return None
            shot.current_revision_id = parent.id
            return parent

    async def change_setting(
        self,
        actor: Actor,
        revision_id: int,
        key: str,
        value: Any,
        *,
        fetch_status: FetchStatus | None = None,
    ) -> PromptRevision:
        """⚙️ Settings: a new revision with one parameter changed, so Undo still works;
        still first is the chat's own switch, so it changes the chat and keeps the revision.

        A new camera or duration also rewrites the prompt's camera sentence and the caption
        line, so the words and the setting never disagree.
        """
        async with self.db.unit_of_work() as uow:
            revision, shot = await self.permissions.revision(uow, actor, revision_id)
        durations, modes = self.choices(*self.rules_for(revision.params))
        valid: dict[str, tuple[Any, ...]] = {
            "duration": durations,
            "mode": modes,
            "camera_move": CAMERA_MOVES,
            "provider": tuple(self.providers),
            STILL_FIRST: (True, False),
            SOUND: (True, False),
        }
        # 1 == True in Python: only the on/off settings take a bool, and they take only one.
        if (
            key not in valid
            or value not in valid[key]
            or isinstance(value, bool) != (key in (STILL_FIRST, SOUND))
        ):
            raise StudioError("settings.invalid")
        # They set what a take costs, and the group's defaults: the Generate rule holds.
        await self.permissions.check_may_spend(actor, fetch_status)
        if key == STILL_FIRST:
            # How the chat works, not what this take is: no new revision to undo.
            async with self.db.unit_of_work() as uow:
                await uow.chats.set_chat_setting(actor.chat_id, key, value)
            return revision
        if key == SOUND:
            # The project's choice, for all its drafts: no new revision to undo.
            async with self.db.unit_of_work() as uow:
                project = await uow.projects.get_project(shot.project_id)
                if project is None:
                    raise StudioError("draft.not_found")
                project.sound = value
            return revision
        params = {**revision.params, key: value}
        if key == "provider":
            params["model"] = self.providers[value].model
            # Another engine may not take this length or mode: the nearest it offers.
            durations, modes = self.choices(*self.rules_for(params))
            params["duration"] = nearest_duration(int(params.get("duration", 5)), durations)
            if params.get("mode") not in modes:
                params["mode"] = modes[0]
        if params.get("image_tail_path") and key in ("mode", "provider"):
            fitted = self.fit_end_frame(params)
            if key == "mode" and fitted["mode"] != value:
                # std would drop the end frame (or be refused) after the user saw its price.
                raise StudioError(
                    "end_frame.needs_mode", model=params["model"], mode=fitted["mode"]
                )
            params = fitted
        async with self.db.unit_of_work() as uow:
            stored = await uow.shots.get_shot(shot.id)
            assert stored is not None
            words: tuple[str, str, str] | None = None
            if key in ("camera_move", "duration") and self.restage is not None:
                # The words must say what Generate will do.
                draft = self.restage(
                    _as_draft(revision), str(params["camera_move"]), int(params["duration"])
                )
                words = (draft.prompt, draft.negative_prompt, draft.summary)
            new = await uow.shots.revise_params(
                stored, revision, params, actor.user_id, words=words
            )
            if key in ("duration", "mode", "provider"):
                # Remember the choice for this chat's next drafts too.
                await uow.chats.set_chat_setting(actor.chat_id, key, value)
            return new

    # --- which message stands for which row -----------------------------------------------

    async def remember_message(
        self, chat_id: int, message_id: int, kind: str, **refs: Any
    ) -> None:
        """Record what a message we sent stands for, so replies and buttons find their row."""
        await self._remembered.run((chat_id, message_id, kind, refs))

    async def message_ref(self, chat_id: int, message_id: int) -> BotMessage | None:
        """What one of our messages stands for (None: not one we remember)."""
        async with self.db.unit_of_work() as uow:
            return await uow.chats.message_ref(chat_id, message_id)

    # --- internals ------------------------------------------------------------------------

    async def _draft_request(
        self, shot: Shot, revision: PromptRevision | None, description: str | None = None
    ) -> DraftRequest:
        photo_llm_jpeg = await asyncio.to_thread(_llm_copy, Path(shot.photo_path))
        params = revision.params if revision else {}
        return DraftRequest(
            description=description if description is not None else (shot.description or ""),
            facts=_facts_from_json(shot.facts),
            photo_llm_jpeg=photo_llm_jpeg,
            language=revision.language if revision else None,
            camera_move=params.get("camera_move"),
            duration=params.get("duration"),
        )

    async def _store_draft(
        self,
        actor: Actor,
        shot: Shot,
        draft: Draft,
        *,
        parent: PromptRevision | None,
        instruction: str | None,
        inherit: PromptRevision | None = None,
    ) -> PromptRevision:
        async with self.db.unit_of_work() as uow:
            stored = await uow.shots.get_shot(shot.id)
            assert stored is not None
            return await self._add_revision(
                uow, actor, stored, draft, parent=parent, instruction=instruction, inherit=inherit
            )

    async def _add_revision(
        self,
        uow: UnitOfWork,
        actor: Actor,
        shot: Shot,
        draft: Draft,
        *,
        parent: PromptRevision | None,
        instruction: str | None,
        inherit: PromptRevision | None = None,
    ) -> PromptRevision:
        """The shot's new current revision, with the settings this chat chose last (or
        those of `inherit`, the draft of the shot this one continues)."""
        revision = await uow.shots.add_revision(
            shot,
            **await self._revision_fields(
                uow, actor, draft, parent=parent, instruction=instruction, inherit=inherit
            ),
        )
        await uow.projects.touch_project(shot.project_id)
        return revision

    async def _revision_fields(
        self,
        uow: UnitOfWork,
        actor: Actor,
        draft: Draft,
        *,
        parent: PromptRevision | None = None,
        instruction: str | None = None,
        inherit: PromptRevision | None = None,
    ) -> dict[str, Any]:
        """A new revision's columns: the draft's words with the settings this chat chose
        last (or those of `parent` or `inherit`)."""
        chat = await uow.chats.get_chat(actor.chat_id)
        defaults = (chat.settings if chat else None) or {}
        source = parent or inherit
        inherited = source.params if source else {}
        wanted = str(inherited.get("provider") or defaults.get("provider") or "")
        provider_name = wanted if wanted in self.providers else self.default_provider
        params = {
            "provider": provider_name,
            "model": inherited.get("model") or self.providers[provider_name].model,
            "mode": inherited.get("mode") or defaults.get("mode") or self.default_mode,
            "duration": int(draft.duration),
            "camera_move": draft.camera_move,
        }
        return {
            "parent_id": parent.id if parent else None,
            "prompt": draft.prompt,
            "negative_prompt": draft.negative_prompt,
            "summary": draft.summary,
            "language": draft.language,
            "params": params,
            "instruction": instruction,
            "drafter": draft.drafter,
            "created_by": actor.user_id,
            "tokens_in": draft.tokens_in,
            "tokens_out": draft.tokens_out,
        }

    async def _view(
        self, uow: UnitOfWork, actor: Actor, revision: RevisionRecord, shot: Shot
    ) -> DraftView:
        project = await uow.projects.get_project(shot.project_id)
        assert project is not None
        group_id = actor.chat_id if actor.is_group else None
        rules, model = self.rules_for(revision.params)
        mode = str(revision.params.get("mode", "std"))
        sound = take_sound(
            rules,
            model,
            mode,
            end_frame=bool(revision.params.get("image_tail_path")),
            wanted=project.sound,
        )
        # The price shown is the take's: with sound where it will make sound.
        allowance = await self.budget.allowance(
            uow.accounts, actor.user_id, group_id, {**revision.params, "sound": sound}
        )
        chat = await uow.chats.get_chat(actor.chat_id)
        chosen = (chat.settings or {}).get(STILL_FIRST) if chat is not None else None
        # A group shares one budget, so by default it sees the free still before paying.
        still_first = chosen if isinstance(chosen, bool) else actor.is_group
        # A toggle only where some mode of the model makes sound (2.6: pro; 3.0: every mode).
        makes_sound = rules is not None and any(rules.takes_sound(model, m) for m in MODES)
        durations, modes = self.choices(rules, model)
        return DraftView(
            revision,
            shot,
            project,
            allowance,
            still_first,
            project.sound if makes_sound else None,
            durations,
            modes,
        )

    @staticmethod
    def choices(rules: ModelRules | None, model: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The durations and modes ⚙️ offers for `model`: its own where its provider says
        (Kling 3.0 runs to 15 s and has 4K), else the usual 5/10 s and std/pro."""
        if rules is None:
            return DURATIONS, MODES
        return offered_durations(rules.durations(model)), rules.modes(model)


@dataclass(frozen=True, slots=True)
class _NewShot:
    """A photo taken in and drafted, waiting for its shot to be written."""

    actor: Actor
    fields: dict[str, Any]  # the shot's columns, but its project and place
    draft: Draft | None  # None: the photo waits for its description


def _llm_copy(photo_path: Path) -> bytes | None:
    """The shot's small copy for a vision LLM; made once, and kept, for a shot without one."""
    copy_path = llm_copy_path(photo_path)
    try:
        return copy_path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        jpeg = llm_jpeg_of(photo_path.read_bytes())
    except FileNotFoundError:
        return None
    if jpeg is not None:
        write_private(copy_path, jpeg)
    return jpeg


def _clean_text(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return text or None


def _as_draft(revision: PromptRevision) -> Draft:
    return Draft(
        prompt=revision.prompt,
        negative_prompt=revision.negative_prompt,
        camera_move=revision.params.get("camera_move", "static"),
        duration=int(revision.params.get("duration", 5)),
        summary=revision.summary,
        language=revision.language,
        drafter=revision.drafter,
    )


def facts_to_json(facts: PhotoFacts, aspect: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "width": facts.width,
        "height": facts.height,
        "orientation": facts.orientation,
        "brightness": facts.brightness,
        "dominant_colours": list(facts.dominant_colours),
    }
    if aspect is not None:
        # The shot's own shape: a later change of the project's leaves this shot as cut.
        data["aspect"] = aspect
    return data


def _facts_from_json(data: dict[str, Any] | None) -> PhotoFacts | None:
    if not data:
        return None
    return PhotoFacts(
        width=int(data["width"]),
        height=int(data["height"]),
        orientation=data["orientation"],
        brightness=float(data["brightness"]),
        dominant_colours=tuple(data.get("dominant_colours", ())),
    )


async def _remember_all(uow: UnitOfWork, messages: list[MessageRefs]) -> list[None]:
    await uow.chats.remember_messages(messages)
    return [None] * len(messages)
