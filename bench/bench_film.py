"""How long does /film take: stream copy against re-encode, on 20 five-second 720p clips.

Run: .venv/bin/python bench/bench_film.py [--clips 20] [--runs 3] [--quick]

First renders the clips with the offline clay renderer (720p, 5 s, a different camera move
and seed each), timing each render: that is the offline renderer's seconds per clip. Then
assembles them into one film both ways, interleaved so a busy machine slows both alike:
stream copy (PyAV remux, what /film does when the clips match) and one re-encode (what it
does when they don't, or with a title card and crossfades). Reported: medians, the ratio,
and the film's size. Results go to bench/results/film.json.
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

from bot.domain.types import CAMERA_MOVES
from bot.media.film import assemble_film  # noqa: E402
from bot.media.preview import render_preview  # noqa: E402
from bot.media.sample import sample_photo  # noqa: E402

RESULTS = REPO / "bench" / "results" / "film.json"
CLIP_SECONDS = 5
HEIGHT = 720


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

        timings: dict[str, list[float]] = {"copy": [], "reencode": []}
        results = {}
        for run in range(runs):
            for method in ("copy", "reencode"):
                out = work / f"film-{method}-{run}.mp4"
                started = time.perf_counter()
                film = assemble_film(paths, out, force=method)  # type: ignore[arg-type]
                timings[method].append(time.perf_counter() - started)
                assert film.method == method, film
                results[method] = film
                out.unlink()
            print(
                f"run {run + 1}/{runs}: copy {timings['copy'][-1]:.2f} s, "
                f"re-encode {timings['reencode'][-1]:.2f} s",
                file=sys.stderr,
            )

    copy_s = statistics.median(timings["copy"])
    reencode_s = statistics.median(timings["reencode"])
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
        "film_seconds": results["copy"].duration_s,
        "offline_render_s_per_clip": round(statistics.median(render_s), 3),
        "offline_render_s_per_clip_all": [round(s, 3) for s in render_s],
        "stream_copy_s": round(copy_s, 3),
        "reencode_s": round(reencode_s, 3),
        "reencode_over_copy": round(reencode_s / copy_s, 1),
        "copy_bytes": results["copy"].size_bytes,
        "reencode_bytes": results["reencode"].size_bytes,
        "runs": runs,
    }
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
