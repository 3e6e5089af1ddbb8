"""`claymate`: the command line. `make` runs the whole pipeline on one photo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from bot.config import ConfigError, Settings, exit_on_config_error, load_settings
from bot.domain.aspect import ASPECTS
from bot.domain.states import TakeState
from bot.domain.types import CAMERA_MOVES, DURATIONS
from bot.i18n import t
from bot.logs import configure_logging, redact_active, run_redacted
from bot.media.film import MAX_CROSSFADE_S
from bot.services.projects import FILM_CROSSFADE_S
from bot.startup import ExitCode, StartupError

if TYPE_CHECKING:  # the commands import the use cases and storage only when they run
    from bot.domain.records import ProjectRecord, RevisionRecord, ShotRecord, TakeRecord
    from bot.domain.types import Delivery, ProgressUpdate

    ProjectHistory = tuple[ProjectRecord, list[tuple[ShotRecord, list[TakeRecord]]]]

CLI_CHAT_ID = 0  # the command line is one "chat" with one user, id 0
CLI_USER_ID = 0

log = logging.getLogger("claymate")


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        raise SystemExit(ExitCode.USAGE)
    try:
        settings = load_settings()
        level = _log_level(args)
        if args.command == "run" and level is not None:
            # The bot configures its own logging from its settings when it starts.
            settings = settings.model_copy(update={"log_level": logging.getLevelName(level)})
        configure_logging(settings, level=level)
        code = args.func(args, settings)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except ConfigError as error:
        exit_on_config_error(error)
        return
    except StartupError as error:
        print(f"claymate: {redact_active(str(error))}", file=sys.stderr)
        code = error.code
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        code = _reader_went_away()
    raise SystemExit(code or 0)


def _log_level(args: argparse.Namespace) -> int | None:
    """WARNING for a command unless -v (INFO) or -vv (DEBUG): its output is its answer.

    `run` is a service whose log is its output: CLAYMATE_LOG_LEVEL (INFO by default)
    unless -v or -vv says otherwise. None means "as the settings say".
    """
    verbosity = getattr(args, "verbose", 0)
    if verbosity >= 2:
        return logging.DEBUG
    if verbosity == 1:
        return logging.INFO
    return None if args.command == "run" else logging.WARNING


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("claymate")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


EXIT_CODES = """exit status:
  0    done
  1    failed (the message says why)
  2    usage: a wrong command, option or argument, or a setting that is not valid
  3    the Telegram token was refused
  4    Telegram could not be reached
  5    the database could not be reached
  6    the database could not be migrated (or its schema is newer than this version)
  130  interrupted (Ctrl-C)
  141  the reader of the output went away (`claymate history | head`)"""


def _reader_went_away() -> int:
    """`claymate history | head`: the reader closed the pipe; stop quietly, as `ls` would."""
    # Anything still buffered would fail again when Python flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # killed by SIGPIPE, as the shell reports it


def _caption(value: str) -> str:
    """A description must say something: blank would make a shot with nothing to draft."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _number_in(
    kind: Callable[[str], float], low: float, high: float, unit: str = ""
) -> Callable[[str], float]:
    """An argparse type: a `kind` number within [low, high], saying the range when not."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}{unit}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _music(value: str) -> Path | str:
    """`calm`, or an audio file that exists (whether it plays is checked when it is used)."""
    if value == "calm":
        return value
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"{value}: no such file (or 'calm' for the generated loop)"
        )
    return path


def _parser() -> argparse.ArgumentParser:
    # -v works before or after the command; SUPPRESS keeps a later default from undoing it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log more: -v for progress (INFO), -vv for everything (DEBUG)",
    )
    parser = argparse.ArgumentParser(
        prog="claymate",
        description="Turn a photo and one line of text into a clay-animation clip.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"claymate {_version()}")
    sub = parser.add_subparsers(dest="command")

    make = sub.add_parser(
        "make", help="photo + description → clay prompt → clip", parents=[common]
    )
    make.add_argument("photo", type=Path)
    make.add_argument("description", type=_caption)
    make.add_argument("--out", type=Path, help="where to write the clip (default: under data/)")
    make.add_argument("--project", help="project name (default: the current one)")
    make.add_argument("--duration", type=int, choices=(5, 10))
    make.add_argument("--mode", choices=("std", "pro"))
    make.add_argument("--camera", choices=CAMERA_MOVES)
    make.add_argument(
        "--aspect",
        choices=ASPECTS,
        help="the project's shape, set with its first shot (photos are cropped to it)",
    )
    make.set_defaults(func=_cmd_make)

    draft = sub.add_parser(
        "draft", help="photo + description → the clay prompt, without generating", parents=[common]
    )
    draft.add_argument("photo", type=Path)
    draft.add_argument("description", type=_caption)
    draft.add_argument("--camera", choices=CAMERA_MOVES)
    draft.add_argument("--duration", type=int, choices=DURATIONS)
    draft.add_argument("--json", action="store_true", help="print the draft as one JSON object")
    draft.set_defaults(func=_cmd_draft)

    film = sub.add_parser(
        "film", help="put a project's kept clips together into one MP4", parents=[common]
    )
    film.add_argument("project", help="project id or title")
    film.add_argument("--out", type=Path, help="where to write the film (default: under data/)")
    film.add_argument("--no-title", action="store_true", help="no title card")
    film.add_argument(
        "--crossfade",
        type=_number_in(float, 0, MAX_CROSSFADE_S, " seconds"),
        default=FILM_CROSSFADE_S,
        help=f"seconds, 0 to {MAX_CROSSFADE_S:g} (0: straight cuts)",
    )
    film.add_argument(
        "--music",
        type=_music,
        help="an audio file (mp3, m4a, ogg, wav) for the soundtrack, or 'calm' for the "
        "generated offline loop; fitted to the film at about -16 LUFS",
    )
    film.add_argument(
        "--subtitles",
        action="store_true",
        default=None,
        help="each shot's description as its words, burned in and as a soft subtitle track",
    )
    film.add_argument(
        "--narrate",
        action="store_true",
        default=None,
        help="each shot's description read aloud from its start, the music ducked under it "
        "(needs OPENAI_API_KEY: a speech model, CLAYMATE_TTS_MODEL and CLAYMATE_TTS_VOICE)",
    )
    film.set_defaults(func=_cmd_film)

    history = sub.add_parser("history", help="list projects, shots and takes", parents=[common])
    history.add_argument(
        "--json", action="store_true", help="print the projects as one JSON array, for scripts"
    )
    history.set_defaults(func=_cmd_history)

    db = sub.add_parser("db", help="database maintenance", parents=[common])
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations", parents=[common])
    upgrade.set_defaults(func=_cmd_db_upgrade)

    run = sub.add_parser("run", help="run the Telegram bot", parents=[common])
    run.set_defaults(func=_cmd_run)

    doctor = sub.add_parser(
        "doctor",
        help="check the configuration before going live: one line per check, with the fix",
        parents=[common],
    )
    doctor.add_argument("--lang", choices=("en", "zh"), default="en", help="report language")
    doctor.set_defaults(func=_cmd_doctor)
    return parser


def _cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every check passed, 1 when any failed (the ✗ lines say how to fix it)."""
    from bot.services.doctor import all_ok, render

    results = run_redacted(_doctor(settings))
    for line in render(results, args.lang):
        print(line)
    return 0 if all_ok(results) else 1


async def _doctor(settings: Settings) -> list[Any]:
    from bot.wiring import build_doctor

    async with build_doctor(settings) as doctor:
        return await doctor.examine()


def _cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    run_redacted(_db_upgrade(settings))
    print("database is up to date")
    return 0


async def _db_upgrade(settings: Settings) -> None:
    from bot.startup import prepare_database
    from storage.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.from_url(settings.resolved_database_url)
    try:
        await prepare_database(db, settings)
    finally:
        await db.dispose()


def _cmd_run(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run_bot

    return run_bot(settings)


def _cmd_make(args: argparse.Namespace, settings: Settings) -> int:
    leftovers: list[Path] = []
    try:
        return run_redacted(_make(args, settings, leftovers))
    except KeyboardInterrupt:
        # asyncio.run has joined its worker threads by now, so a render that was under
        # way has finished writing: what it wrote can go.
        for pattern in leftovers:
            for path in pattern.parent.glob(pattern.name):
                path.unlink(missing_ok=True)
        raise


async def _make(args: argparse.Namespace, settings: Settings, leftovers: list[Path]) -> int:
    from bot.domain.errors import StudioError
    from bot.domain.types import Sender
    from bot.media.intake import IntakeError
    from bot.runner import RunnerPolicy
    from bot.wiring import build_runner, build_services

    if not args.photo.is_file():
        print(f"claymate: no such photo: {args.photo}", file=sys.stderr)
        return 1
    wiring = await build_services(settings)
    services = wiring.services
    try:
        clips_dir = wiring.folders.clips
        actor = await services.accounts.enter(
            Sender(user_id=CLI_USER_ID, chat_id=CLI_CHAT_ID, chat_type="cli")
        )
        if args.project:
            await services.projects.open_by_name(actor, args.project)
        if args.aspect:
            try:
                await services.projects.shape_first_shot(actor, args.aspect)
            except StudioError as error:
                # A usage error, not a failed take: the project's shots have their shape.
                print(f"claymate: {t(error.key, actor.lang, **error.params)}", file=sys.stderr)
                return 2
        try:
            outcome = await services.drafting.add_photo(
                actor, args.photo.read_bytes(), args.description
            )
        except IntakeError as error:
            print(f"claymate: {error.message(actor.lang)}", file=sys.stderr)
            return 1
        for key, params in outcome.notes:
            print(f"note: {t(key, actor.lang, **_localised(params, actor.lang))}")
        revision = outcome.revision
        if revision is None:  # the parser refuses a blank description; nothing else drafts none
            await services.drafting.cancel_shot(actor, outcome.shot.id)
            print(f"claymate: {t('cli.no_draft', actor.lang)}", file=sys.stderr)
            return 1
        for key, value in (
            ("duration", args.duration),
            ("mode", args.mode),
            ("camera_move", args.camera),
        ):
            if value is not None and revision.params.get(key) != value:
                revision = await services.drafting.change_setting(actor, revision.id, key, value)
        _print_draft(revision)
        request = await services.generation.request_take(actor, revision.id)
        observer = CliObserver(args.out)
        runner = build_runner(
            wiring.db,
            wiring.providers,
            observer,
            clips_dir=clips_dir,
            caps=wiring.caps,
            policy=RunnerPolicy(poll_interval_s=settings.kling_poll_interval_s, queue_recheck_s=1),
        )
        try:
            take = await runner.run_until_finished(request.take.id)
        except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels us, then re-raises it
            observer.close()
            leftovers.append(clips_dir / f"take-{request.take.id}-*")
            await services.generation.abandon_take(
                request.take.id, "interrupted on the command line"
            )
            raise
        observer.close()
        if take.status != TakeState.DELIVERED:
            key = f"error.{take.error_kind or 'unknown'}"
            print(f"claymate: {t(key, actor.lang)}", file=sys.stderr)
            return 1
        final = observer.written or Path(take.clip_path or "")
        label = f"  ({t('preview.label', actor.lang)})" if take.preview else ""
        print(f"clip: {final}{label}")
        print(f"      {take.clip_width}x{take.clip_height}, {take.clip_duration:.1f} s")
        return 0
    except StudioError as error:
        print(f"claymate: {t(error.key, None, **error.params)}", file=sys.stderr)
        return 1
    finally:
        await wiring.aclose()


def _localised(params: dict, lang: str) -> dict:
    """Note parameters that are themselves message keys (e.g. the crop's shape)."""
    return {
        k: t(v, lang) if isinstance(v, str) and v.startswith("intake.") else v
        for k, v in params.items()
    }


def _print_draft(revision: RevisionRecord) -> None:
    params = revision.params
    print(f"prompt ({revision.drafter}):")
    print(f"  {revision.prompt}")
    print(f"negative: {revision.negative_prompt}")
    print(
        f"settings: {params.get('provider')} {params.get('model')}, {params.get('mode')}, "
        f"{params.get('duration')} s, camera {params.get('camera_move')}"
    )


class CliObserver:
    """Shows a take's progress as a bar and copies the finished clip to --out."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.written: Path | None = None
        self._bar: tqdm | None = None
        self._phase = ""
        self.interactive = sys.stderr.isatty()

    async def on_progress(self, take: TakeRecord, update: ProgressUpdate) -> None:
        if update.phase != self._phase:
            self._phase = update.phase
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if update.progress is None or not self.interactive:
                print(f"{update.phase}…", file=sys.stderr, flush=True)
        # A bar redraws itself with carriage returns: in a pipe or a file that is noise.
        if update.progress is not None and self.interactive:
            if self._bar is None:
                self._bar = tqdm(total=100, desc=update.phase, unit="%", file=sys.stderr)
            self._bar.n = round(update.progress * 100)
            self._bar.refresh()

    async def deliver(self, take: TakeRecord) -> Delivery:
        from bot.domain.types import Delivery

        if self.out is not None and take.clip_path is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(take.clip_path, self.out)
            self.written = self.out
        return Delivery(message_id=None, file_id=None)

    async def on_finished(self, take: TakeRecord) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _cmd_draft(args: argparse.Namespace, settings: Settings) -> int:
    return run_redacted(_draft(args, settings))


async def _draft(args: argparse.Namespace, settings: Settings) -> int:
    """The prompt a photo and a line would get, from the drafter the bot uses; nothing stored."""
    import json

    from bot.domain.types import DraftRequest
    from bot.media.intake import IntakeError, prepare_photo
    from bot.providers.registry import build_drafter

    if not args.photo.is_file():
        print(f"claymate: no such photo: {args.photo}", file=sys.stderr)
        return 1
    try:
        prepared = await asyncio.to_thread(
            prepare_photo,
            args.photo.read_bytes(),
            max_side=settings.max_side_px,
            max_bytes=settings.max_upload_bytes,
            with_llm_jpeg=settings.llm_enabled,  # a vision LLM looks at the photo too
        )
    except IntakeError as error:
        print(f"claymate: {error.message(None)}", file=sys.stderr)
        return 1
    drafter = build_drafter(settings)
    try:
        draft = await drafter.draft(
            DraftRequest(
                description=args.description,
                facts=prepared.facts,
                photo_llm_jpeg=prepared.llm_jpeg,
                camera_move=args.camera,
                duration=args.duration,
            )
        )
    finally:
        if (close := getattr(drafter, "aclose", None)) is not None:
            await close()
    if args.json:
        fields = {
            "prompt": draft.prompt,
            "negative_prompt": draft.negative_prompt,
            "camera": draft.camera_move,
            "duration": draft.duration,
            "language": draft.language,
            "summary": draft.summary,
            "drafter": draft.drafter,
        }
        print(json.dumps(fields, ensure_ascii=False, indent=2))
        return 0
    print(f"prompt ({draft.drafter}):")
    print(f"  {draft.prompt}")
    print(f"negative: {draft.negative_prompt}")
    print(f"camera: {draft.camera_move}, {draft.duration} s, language {draft.language}")
    print(f"summary: {draft.summary}")
    return 0


def _cmd_film(args: argparse.Namespace, settings: Settings) -> int:
    return run_redacted(_film(args, settings))


async def _film(args: argparse.Namespace, settings: Settings) -> int:
    """`claymate film PROJECT [--out FILE]`: the same film /film sends, written to a file."""
    from bot.domain.errors import StudioError
    from bot.domain.types import Actor
    from bot.wiring import build_services

    wiring = await build_services(settings)
    try:
        projects = wiring.services.projects
        project = await projects.find_project(CLI_CHAT_ID, args.project)
        if project is None:
            print(f"claymate: {t('cli.no_such_project', name=args.project)}", file=sys.stderr)
            return 1
        actor = Actor(user_id=CLI_USER_ID, chat_id=project.chat_id, chat_type="cli")
        try:
            _, film = await projects.film(
                actor,
                title=not args.no_title,
                crossfade_s=args.crossfade,
                out=args.out,
                project_id=project.id,
                music=args.music,
                subtitles=args.subtitles,
                narrate=args.narrate,
            )
        except StudioError as error:
            print(f"claymate: {t(error.key, None, **error.params)}", file=sys.stderr)
            return 1
        print(f"film: {film.path}")
        extras = "".join(
            [
                ", music" if film.has_audio and not args.narrate else "",
                ", sound and narration" if args.narrate else "",
                ", subtitles" if film.subtitles else "",
            ]
        )
        print(
            f"      {film.clips} clips, {film.width}x{film.height}, {film.duration_s:.1f} s, "
            f"{film.size_bytes / 1e6:.1f} MB ({film.method}{extras})"
        )
        return 0
    finally:
        await wiring.aclose()


def _cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    return run_redacted(_history(settings, as_json=args.json))


async def _history(settings: Settings, *, as_json: bool = False) -> int:
    from bot.startup import prepare_database
    from storage.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.from_url(settings.resolved_database_url)
    try:
        await prepare_database(db, settings)
        async with db.unit_of_work() as uow:
            history: list[ProjectHistory] = [
                (
                    project,
                    [
                        (shot, list(await uow.takes.shot_takes(shot.id)))
                        for shot in await uow.shots.project_shots(
                            project.id, include_cancelled=True
                        )
                    ],
                )
                for project in await uow.projects.all_projects()
            ]
    finally:
        await db.dispose()
    if as_json:
        import json

        print(
            json.dumps([_history_json(entry) for entry in history], ensure_ascii=False, indent=2)
        )
        return 0
    if not history:
        print('no projects yet: try `claymate make PHOTO "description"`')
    for project, shots in history:
        print(f"project {project.id}: {project.title} (chat {project.chat_id})")
        for shot, takes in shots:
            desc = (shot.description or "(no description)")[:60]
            print(f"  shot {shot.position}: {desc} [{shot.status}]")
            for take in takes:
                kept = " ⭐" if take.id == shot.kept_take_id else ""
                clip = f" → {take.clip_path}" if take.clip_path else ""
                print(
                    f"    take {take.id}: {take.provider}/{take.model} {take.status}{kept}{clip}"
                )
    return 0


def _history_json(entry: ProjectHistory) -> dict[str, Any]:
    """One project as plain data: ids, titles, states and clip paths, nothing secret."""
    project, shots = entry
    return {
        "id": project.id,
        "title": project.title,
        "chat_id": project.chat_id,
        "shots": [
            {
                "position": shot.position,
                "description": shot.description,
                "status": str(shot.status),
                "kept_take_id": shot.kept_take_id,
                "takes": [
                    {
                        "id": take.id,
                        "provider": take.provider,
                        "model": take.model,
                        "status": str(take.status),
                        "kept": take.id == shot.kept_take_id,
                        "clip_path": str(take.clip_path) if take.clip_path else None,
                    }
                    for take in takes
                ],
            }
            for shot, takes in shots
        ],
    }
