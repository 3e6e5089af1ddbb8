"""`make eval`: every drafter over an evaluation set, scored check by check.

Runs the offline drafter always, and the LLM director too when an OpenAI key is configured;
prints pass rates per check, per drafter and per language as a Markdown table, writes
eval/results/<drafter>.json, and exits 1 when the offline drafter falls below
eval/thresholds.toml. The offline run makes no network call and takes seconds.

`--cases eval/heldout.toml` scores the held-out set instead: its floors are in
eval/heldout_thresholds.toml and its results in eval/results/<drafter>-heldout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from bot.domain import script_checks as sc
from bot.domain.ports import PromptDrafter
from bot.domain.types import Draft, DraftRequest, PhotoFacts

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.toml"
THRESHOLDS = HERE / "thresholds.toml"
HELDOUT = HERE / "heldout.toml"  # never seen by the drafters' authors; see its header
RESULTS = HERE / "results"

# Check names, in the order the table prints them.
CHECKS: tuple[str, ...] = (
    "hero",
    "camera",
    "life_details",
    "negative",
    "negations",
    "language",
    "length",
    "no_echo",
)
LANGUAGES: tuple[str, ...] = ("en", "zh")
ALL = "all checks"  # every verdict pooled: the "≥ 90 % of checks passed"
MEAN = "mean of checks"  # each check weighs the same, however many cases it applies to

_CASE_KEYS = {"id", "kind", "caption", "photo", "facts", "choices", "target", "expect"}
_EXPECT_KEYS = {
    "hero",
    "camera",
    "camera_any",
    "life_details_max",
    "negative_must_not",
    "prompt_must_not",
    "language",
    "max_chars",
    "no_echo",
}


@dataclass(frozen=True, slots=True)
class Expect:
    """What a case's draft must get right; None: the check does not apply to the case."""

    language: str
    max_chars: int
    life_details_max: int
    hero: tuple[str, ...] | None = None
    camera: tuple[str, ...] | None = None  # the moves that fit
    negative_must_not: tuple[str, ...] | None = None
    prompt_must_not: tuple[str, ...] | None = None
    no_echo: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One photo and caption as a user sends them, with the user's settings and the target."""

    id: str
    kind: str
    caption: str
    photo: str
    facts: PhotoFacts
    target: str
    expect: Expect
    camera_choice: str | None = None
    duration_choice: int | None = None
    language_choice: str | None = None

    def request(self) -> DraftRequest:
        """The DraftRequest the bot would send: whitespace collapsed, settings as chosen."""
        return DraftRequest(
            description=" ".join(self.caption.split()),
            facts=self.facts,
            language=self.language_choice,
            camera_move=self.camera_choice,
            duration=self.duration_choice,
        )


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One drafted case and each applicable check's verdict."""

    case: Case
    draft: Draft
    checks: dict[str, sc.CheckResult]


@dataclass(slots=True)
class Tally:
    passed: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.passed += ok
        self.total += 1

    @property
    def rate(self) -> float:
        """Share passed, 0..100; a check that applied nowhere counts as passed."""
        return 100.0 * self.passed / self.total if self.total else 100.0


@dataclass(slots=True)
class Summary:
    """Pass counts of one drafter: per check, per check and language, and over all checks."""

    drafter: str
    by_check: dict[str, Tally] = field(default_factory=dict)
    by_language: dict[str, dict[str, Tally]] = field(default_factory=dict)
    fallbacks: int = 0  # cases an LLM director handed to its offline fallback

    def tally(self, check: str, language: str | None = None) -> Tally:
        if language is None:
            return self.by_check.setdefault(check, Tally())
        return self.by_language.setdefault(language, {}).setdefault(check, Tally())

    def mean(self, language: str | None = None) -> float:
        """The unweighted mean of the per-check pass rates, so rare checks are not drowned."""
        tallies = self.by_check if language is None else self.by_language.get(language, {})
        rates = [t.rate for k, t in tallies.items() if k in CHECKS and t.total]
        return sum(rates) / len(rates) if rates else 100.0

    def rate(self, key: str) -> float:
        """A threshold key's rate: a check's name, "all" or "mean"."""
        if key == "all":
            return self.tally(ALL).rate
        if key == "mean":
            return self.mean()
        return self.tally(key).rate


# --- the set --------------------------------------------------------------------------------


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _case(raw: dict[str, Any]) -> Case:
    where = f"case {raw.get('id', '?')}"
    if unknown := set(raw) - _CASE_KEYS:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    expect: dict[str, Any] = raw["expect"]
    if unknown := set(expect) - _EXPECT_KEYS:
        raise ValueError(f"{where}: unknown expect keys {sorted(unknown)}")
    if "camera" in expect and "camera_any" in expect:
        raise ValueError(f"{where}: camera and camera_any both set")
    camera = expect.get("camera_any", [expect["camera"]] if "camera" in expect else None)

    def optional(key: str) -> tuple[str, ...] | None:
        return _strings(expect[key], f"{where}.{key}") if key in expect else None

    facts = raw["facts"]
    choices: dict[str, Any] = raw.get("choices", {})
    return Case(
        id=raw["id"],
        kind=raw["kind"],
        caption=raw["caption"],
        photo=raw["photo"],
        facts=PhotoFacts(
            width=facts["width"],
            height=facts["height"],
            orientation=facts["orientation"],
            brightness=facts["brightness"],
            dominant_colours=tuple(facts["colours"]),
        ),
        target=raw["target"],
        expect=Expect(
            language=expect["language"],
            max_chars=expect["max_chars"],
            life_details_max=expect["life_details_max"],
            hero=optional("hero"),
            camera=_strings(camera, f"{where}.camera") if camera is not None else None,
            negative_must_not=optional("negative_must_not"),
            prompt_must_not=optional("prompt_must_not"),
            no_echo=optional("no_echo"),
        ),
        camera_choice=choices.get("camera"),
        duration_choice=choices.get("duration"),
        language_choice=choices.get("language"),
    )


def load_cases(path: Path = CASES) -> list[Case]:
    """The evaluation set, checked for unknown keys so a misspelt check cannot go unscored."""
    with path.open("rb") as f:
        return [_case(raw) for raw in tomllib.load(f)["case"]]


# --- scoring --------------------------------------------------------------------------------


def score(case: Case, draft: Draft) -> dict[str, sc.CheckResult]:
    """Every check that applies to `case`, run on `draft`."""
    e = case.expect
    hero_words = " ".join(e.hero or ())
    checks = {
        "camera": sc.camera_fits(draft.prompt, draft.camera_move, e.camera),
        "life_details": sc.life_details_within(
            draft.prompt, f"{case.caption} {hero_words}", e.life_details_max
        ),
        "language": sc.language_matches(draft.prompt, e.language),
        "length": sc.within_limit(draft.prompt, e.max_chars),
    }
    if e.hero is not None:
        checks["hero"] = sc.hero_first(draft.prompt, e.hero)
    if e.negative_must_not is not None:
        checks["negative"] = sc.negative_avoids(draft.negative_prompt, e.negative_must_not)
    if e.prompt_must_not is not None:
        checks["negations"] = sc.respects_negations(draft.prompt, e.prompt_must_not)
    if e.no_echo is not None:
        checks["no_echo"] = sc.no_echo(f"{draft.prompt}\n{draft.negative_prompt}", e.no_echo)
    return {name: checks[name] for name in CHECKS if name in checks}


async def run_drafter(
    drafter: PromptDrafter, cases: Sequence[Case], concurrency: int = 1
) -> list[CaseResult]:
    """Draft every case (a few at a time for a remote drafter) and score each draft."""
    slots = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> CaseResult:
        async with slots:
            draft = await drafter.draft(case.request())
        return CaseResult(case, draft, score(case, draft))

    return list(await asyncio.gather(*(one(c) for c in cases)))


def summarize(name: str, results: Sequence[CaseResult]) -> Summary:
    """Pass counts per check, per check and language, and over all checks."""
    summary = Summary(name)
    for result in results:
        language = result.case.expect.language
        if name != "offline" and result.draft.drafter == "offline":
            summary.fallbacks += 1
        for check, verdict in result.checks.items():
            for key in (check, ALL):
                summary.tally(key).add(verdict.ok)
                summary.tally(key, language).add(verdict.ok)
    return summary


# --- thresholds -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The floors a drafter may not fall below (percent) and the goal the issue sets."""

    goal: float
    floors: dict[str, dict[str, float]]


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    floors = {k: cast(dict[str, float], v) for k, v in raw.items() if isinstance(v, dict)}
    return Thresholds(goal=float(raw["goal"]), floors=floors)


def shortfalls(summary: Summary, thresholds: Thresholds) -> list[str]:
    """Each check (or "all") whose pass rate fell below its floor, as a sentence."""
    below = []
    for key, floor in thresholds.floors.get(summary.drafter, {}).items():
        rate = summary.rate(key)
        if rate < floor:
            below.append(f"{summary.drafter}: {key} {rate:.1f}% < floor {floor:g}%")
    return below


# --- output ---------------------------------------------------------------------------------


def _cell(tally: Tally) -> str:
    return f"{tally.rate:.0f}% ({tally.passed}/{tally.total})" if tally.total else "–"


def table(summaries: Sequence[Summary], thresholds: Thresholds | None = None) -> str:
    """Pass rates as a Markdown table: a row per check, a column per drafter and language."""
    header = ["check"]
    for s in summaries:
        header += [f"{s.drafter}", f"{s.drafter} en", f"{s.drafter} zh"]
    if thresholds:
        header += ["floor (offline)", "goal"]
    rows = [header, ["---"] * len(header)]
    floors = thresholds.floors.get("offline", {}) if thresholds else {}
    for check in (*CHECKS, ALL, MEAN):
        row = [check]
        for s in summaries:
            if check == MEAN:
                row += [f"{s.mean(lang):.0f}%" for lang in (None, *LANGUAGES)]
            else:
                row += [_cell(s.tally(check, lang)) for lang in (None, *LANGUAGES)]
        if thresholds:
            floor = floors.get({ALL: "all", MEAN: "mean"}.get(check, check))
            row += [f"{floor:g}%" if floor is not None else "", f"{thresholds.goal:g}%"]
        rows.append(row)
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def failures(results: Sequence[CaseResult]) -> str:
    """One line per failed check, for seeing what a drafter gets wrong."""
    lines = []
    for r in results:
        for check, verdict in r.checks.items():
            if not verdict.ok:
                lines.append(f"{r.case.id:32} {check:13} {verdict.detail}")
    return "\n".join(lines)


def is_public(cases_path: Path) -> bool:
    """Whether `cases_path` is the public set, whose files keep their original names."""
    return cases_path.resolve() == CASES


def thresholds_file(cases_path: Path) -> Path:
    """A set's floors: eval/thresholds.toml for the public one, <set>_thresholds.toml else."""
    if is_public(cases_path):
        return THRESHOLDS
    return cases_path.with_name(f"{cases_path.stem}_thresholds.toml")


def set_label(cases_path: Path) -> str:
    """How the printed table names a set: "public", "held-out" or the file's stem."""
    if is_public(cases_path):
        return "public"
    return "held-out" if cases_path.resolve() == HELDOUT else cases_path.stem


def result_file(name: str, cases_path: Path = CASES) -> Path:
    """eval/results/<drafter>.json for the public set, <drafter>-<set>.json for another."""
    stem = name if is_public(cases_path) else f"{name}-{cases_path.stem}"
    return RESULTS / (re.sub(r"[^A-Za-z0-9_.-]+", "-", stem) + ".json")


def write_results(
    summary: Summary, results: Sequence[CaseResult], cases_path: Path = CASES
) -> Path:
    """eval/results/<drafter>[-<set>].json: the rates and every draft with its verdicts."""
    RESULTS.mkdir(exist_ok=True)
    path = result_file(summary.drafter, cases_path)
    data = {
        "drafter": summary.drafter,
        "rates": {k: round(t.rate, 1) for k, t in summary.by_check.items()}
        | {MEAN: round(summary.mean(), 1)},
        "rates_by_language": {
            lang: {k: round(t.rate, 1) for k, t in tallies.items()}
            for lang, tallies in sorted(summary.by_language.items())
        },
        "fallbacks": summary.fallbacks,
        "cases": [
            {
                "id": r.case.id,
                "drafter": r.draft.drafter,
                "prompt": r.draft.prompt,
                "negative_prompt": r.draft.negative_prompt,
                "camera_move": r.draft.camera_move,
                "language": r.draft.language,
                "checks": {k: asdict(v) for k, v in r.checks.items()},
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


# --- drafters -------------------------------------------------------------------------------


def offline_drafter() -> PromptDrafter:
    from bot.providers.offline.drafter import OfflineDrafter

    return OfflineDrafter()


def llm_drafter() -> tuple[PromptDrafter, str] | None:
    """The LLM director as the bot builds it, or None when no key is configured."""
    from bot.config import load_settings
    from bot.providers.registry import build_drafter

    settings = load_settings()
    if not settings.llm_enabled:
        return None
    return build_drafter(settings), f"llm:{settings.llm_model}"


async def evaluate(
    drafter: PromptDrafter, name: str, cases: Sequence[Case], concurrency: int = 1
) -> tuple[Summary, list[CaseResult]]:
    """Run one drafter over `cases` and summarize; closes the drafter's client if it has one."""
    try:
        results = await run_drafter(drafter, cases, concurrency)
    finally:
        close = getattr(drafter, "aclose", None)
        if close is not None:
            await close()
    return summarize(name, results), results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make eval", description=__doc__.split("\n")[0])
    parser.add_argument("--drafter", choices=("offline", "llm", "all"), default="all")
    parser.add_argument(
        "--cases",
        type=Path,
        default=CASES,
        help="the set to score (default eval/cases.toml; eval/heldout.toml: the held-out set)",
    )
    parser.add_argument("--case", action="append", help="run only this case id (repeatable)")
    parser.add_argument("--failures", action="store_true", help="list every failed check")
    parser.add_argument("--no-write", action="store_true", help="do not write eval/results/")
    args = parser.parse_args(argv)

    cases_path: Path = args.cases
    cases = load_cases(cases_path)
    if args.case:
        cases = [c for c in cases if c.id in set(args.case)]
    thresholds = load_thresholds(thresholds_file(cases_path))
    runs: list[tuple[PromptDrafter, str, int]] = []
    which: Literal["offline", "llm", "all"] = args.drafter
    if which in ("offline", "all"):
        runs.append((offline_drafter(), "offline", 1))
    if which in ("llm", "all"):
        llm = llm_drafter()
        if llm is not None:
            runs.append((llm[0], llm[1], 4))
        elif which == "llm":
            print("no OPENAI_API_KEY: the LLM director was not run", file=sys.stderr)
            return 2

    summaries = []
    for drafter, name, concurrency in runs:
        summary, results = asyncio.run(evaluate(drafter, name, cases, concurrency))
        summaries.append(summary)
        if args.failures:
            print(f"\n{name}: failed checks\n{failures(results)}\n")
        if not args.no_write and not args.case:
            write_results(summary, results, cases_path)
        if summary.fallbacks:
            print(f"{name}: {summary.fallbacks} cases fell back to the offline drafter")

    print(f"{set_label(cases_path)} set ({cases_path.name}): {len(cases)} cases\n")
    print(table(summaries, thresholds))
    offline = next((s for s in summaries if s.drafter == "offline"), None)
    below = shortfalls(offline, thresholds) if offline and not args.case else []
    for line in below:
        print(f"below the floor ({set_label(cases_path)} set): {line}", file=sys.stderr)
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
