"""How long does /film take: stream copy against re-encode, on 20 five-second 720p clips.

Run: .venv/bin/python bench/bench_film.py [--clips 20] [--runs 3] [--quick]

First renders the clips with the offline clay renderer (720p, 5 s, a different camera move
and seed each), timing each render: that is the offline renderer's seconds per clip. Then
assembles them into one film both ways, interleaved so a busy machine slows both alike:
stream copy (PyAV remux, what /film does when the clips match) and one re-encode (what it
does when they don't, or with a title card and crossfades), and the film as a user asks for
it with a soundtrack and words (the generated music, mixed to -16 LUFS, and each shot's
line burned in and as a soft track, English and Chinese). Each assembly runs in a forked
child, so its peak memory is its own (the child's maximum resident set). Reported:
medians, the ratios to the stream copy, peak memory and the film's size. Results go to
bench/results/film.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import PIL

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.domain.types import CAMERA_MOVES  # noqa: E402
from bot.media.film import CALM, FilmResult, Words, assemble_film  # noqa: E402
from bot.media.preview import render_preview  # noqa: E402
from bot.media.sample import sample_photo  # noqa: E402

RESULTS = REPO / "bench" / "results" / "film.json"
CLIP_SECONDS = 5
HEIGHT = 720
LINES = ["Boats glide along the river at dusk", "外滩的灯一盏一盏亮起来，电车叮叮驶过"]
CASES = ("copy", "reencode", "music+words")


def assemble(case: str, paths: list[Path], out: Path) -> FilmResult:
    if case == "music+words":
        words = Words([LINES[i % 2] for i in range(len(paths))], language="zh")
        return assemble_film(paths, out, music=CALM, words=words)
    return assemble_film(paths, out, force=case)  # type: ignore[arg-type]


def in_child(case: str, paths: list[Path], out: Path) -> tuple[float, int, int]:
    """Seconds, peak resident kB and film bytes of one assembly, in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: assemble, report, leave without running the parent's cleanup
        os.close(read)
        started = time.perf_counter()
        film = assemble(case, paths, out)
        os.write(write, json.dumps([time.perf_counter() - started, film.size_bytes]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    if status != 0 or not answer:
        raise SystemExit(f"{case}: the assembly failed (status {status})")
    seconds, size = json.loads(answer)
    return seconds, usage.ru_maxrss, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 clips at 240p, 1 run")
    args = parser.parse_args()
    clips, runs, height = args.clips, args.runs, HEIGHT
    if args.quick:
        clips, runs, height = 4, 1, 240

    photo = sample_photo(width=1600, height=1200)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        paths, render_s = [], []
        for index in range(clips):
            out = work / f"clip{index:02d}.mp4"
            started = time.perf_counter()
            render_preview(
                photo,
                out,
                duration_s=CLIP_SECONDS,
                height=height,
                camera_move=CAMERA_MOVES[index % len(CAMERA_MOVES)],
                seed=index,
            )
            render_s.append(time.perf_counter() - started)
            paths.append(out)
            print(f"rendered clip {index + 1}/{clips} in {render_s[-1]:.2f} s", file=sys.stderr)

        timings: dict[str, list[float]] = {case: [] for case in CASES}
        peaks: dict[str, list[int]] = {case: [] for case in CASES}
        sizes: dict[str, int] = {}
        for run in range(runs):
            for case in CASES:
                out = work / f"film-{run}.mp4"
                seconds, peak_kb, size = in_child(case, paths, out)
                timings[case].append(seconds)
                peaks[case].append(peak_kb)
                sizes[case] = size
                out.unlink()
            print(
                f"run {run + 1}/{runs}: "
                + ", ".join(f"{case} {timings[case][-1]:.2f} s" for case in CASES),
                file=sys.stderr,
            )
        with av.open(str(paths[0])) as first:
            film_seconds = len(paths) * float(first.duration or 0) / 1_000_000

    copy_s = statistics.median(timings["copy"])
    reencode_s = statistics.median(timings["reencode"])
    words_s = statistics.median(timings["music+words"])
    peak = {case: round(max(peaks[case]) / 1024, 1) for case in CASES}
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pyav": av.__version__,
            "pillow": PIL.__version__,
        },
        "clips": clips,
        "clip_seconds": CLIP_SECONDS,
        "height": height,
        "film_seconds": round(film_seconds, 2),
        "offline_render_s_per_clip": round(statistics.median(render_s), 3),
        "offline_render_s_per_clip_all": [round(s, 3) for s in render_s],
        "stream_copy_s": round(copy_s, 3),
        "reencode_s": round(reencode_s, 3),
        "reencode_over_copy": round(reencode_s / copy_s, 1),
        "music_and_words_s": round(words_s, 3),
        "music_and_words_over_copy": round(words_s / copy_s, 1),
        "music_and_words_over_reencode": round(words_s / reencode_s, 2),
        "peak_rss_mb": peak,
        "copy_bytes": sizes["copy"],
        "reencode_bytes": sizes["reencode"],
        "music_and_words_bytes": sizes["music+words"],
        "runs": runs,
    }
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
