"""Does the offline clay preview render faster than real time on one core?

Run: .venv/bin/python bench/bench_render.py [--runs 3] [--quick]

Renders the 5 s 720p preview of the sample Bund photo (4:3, and a 16:9 crop of it, which
has a third more pixels) with the encoder limited to one thread and the process pinned to
one CPU where the OS allows; numpy and Pillow already run these steps single-threaded.
Reported: wall and CPU seconds, the ratio to the clip's 5 s (goal < 1.0), the stylise step
alone, and a breakdown of one render's steps. Medians of interleaved runs, so a busy
machine slows every case alike. Results go to bench/results/render.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: no hidden BLAS threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import av  # noqa: E402
import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.domain.types import CAMERA_MOVES
from bot.media import preview
from bot.media.clay import clay_layers, clay_still, retouch  # noqa: E402
from bot.media.sample import sample_photo  # noqa: E402

RESULTS = REPO / "bench" / "results" / "render.json"
CLIP_SECONDS = 5
HEIGHT = 720
GOAL_RATIO = 1.0


def pin_to_one_cpu() -> str:
    """Run on a single CPU, so 'one core' is what is measured, not what is hoped."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned (no sched_setaffinity here)"


def timed(function: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def photos() -> dict[str, bytes]:
    four_three = sample_photo(width=1600, height=1200)
    with Image.open(io.BytesIO(four_three)) as image:
        wide = image.crop((0, 150, 1600, 1050))  # 1600x900
        buffer = io.BytesIO()
        wide.save(buffer, "JPEG", quality=90)
    return {"4:3 (960x720)": four_three, "16:9 (1280x720)": buffer.getvalue()}


def steps(photo: bytes, move: str) -> dict[str, float]:
    """One render split into its steps (CPU seconds); encode is what the rest leaves."""
    out_dir = Path(tempfile.mkdtemp(prefix="claymate-bench-"))
    times: dict[str, float] = {}
    with Image.open(io.BytesIO(photo)) as source:
        ow, oh = preview.output_size(*source.size, HEIGHT)
        frame = (round(ow * preview._MARGIN), round(oh * preview._MARGIN))
        start = time.process_time()
        decoded = preview._decode(source, frame)
    times["decode + resize photo"] = time.process_time() - start
    start = time.process_time()
    layers = clay_layers(decoded, seed=0, fast=True)
    times["stylise (clay_layers, once)"] = time.process_time() - start
    rng = np.random.default_rng(1)
    start = time.process_time()
    boil = preview._BOIL_PX * oh / 720 * preview._MARGIN  # as render_preview does
    stills = [layers.compose(retouch(layers.shading.shape, rng)) for _ in range(preview._TAKES)]
    takes = preview.boil_takes(stills, boil, rng)
    times[f"boil takes (x{preview._TAKES})"] = time.process_time() - start
    plan = preview.frame_plan(CLIP_SECONDS, 12)
    patches = preview.label_patches((ow, oh))
    start = time.process_time()
    for pose in range(plan.poses):
        window = preview.camera_window(move, pose / (plan.poses - 1), frame, ow / oh)
        preview.burn_label(preview.pose_frame(takes[pose % len(takes)], window, (ow, oh)), patches)
    times[f"{plan.poses} poses (crop/scale/YUV + label)"] = time.process_time() - start
    _, total = timed(
        lambda: preview.render_preview(photo, out_dir / "c.mp4", camera_move=move, threads=1)
    )
    times["encode + mux + probe (rest)"] = max(0.0, total - sum(times.values()))
    times["total"] = total
    return {name: round(value, 3) for name, value in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="push_in only, one run")
    args = parser.parse_args()
    runs = 1 if args.quick else max(1, args.runs)
    pinning = pin_to_one_cpu()
    inputs = photos()
    wide = "16:9 (1280x720)"
    cases: list[tuple[str, str]] = [(name, "push_in") for name in inputs]
    if not args.quick:
        cases += [(wide, move) for move in CAMERA_MOVES if move != "push_in"]

    out_dir = Path(tempfile.mkdtemp(prefix="claymate-bench-"))
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    stylise: dict[str, list[float]] = {name: [] for name in inputs}
    for _ in range(runs):  # interleaved: each round runs every case once
        for name, photo in inputs.items():
            with Image.open(io.BytesIO(photo)) as source:
                ow, oh = preview.output_size(*source.size, HEIGHT)
                size = (round(ow * preview._MARGIN), round(oh * preview._MARGIN))
                decoded = preview._decode(source, size)
            stylise[name].append(timed(lambda d=decoded: clay_still(d, seed=0, fast=True))[1])
        for name, move in cases:
            key = f"{name} {move}"
            path = out_dir / f"{len(wall)}.mp4"

            def render(photo: bytes = inputs[name], move: str = move, path: Path = path) -> None:
                preview.render_preview(photo, path, camera_move=move, threads=1)

            w, c = timed(render)
            wall.setdefault(key, []).append(w)
            cpu.setdefault(key, []).append(c)
            sizes[key] = path.stat().st_size

    rows = []
    for key in wall:
        med_wall, med_cpu = statistics.median(wall[key]), statistics.median(cpu[key])
        rows.append(
            {
                "case": key,
                "wall_s": round(med_wall, 3),
                "cpu_s": round(med_cpu, 3),
                "ratio_to_real_time": round(med_cpu / CLIP_SECONDS, 3),
                "size_bytes": sizes[key],
            }
        )
    breakdown = steps(inputs[wide], "push_in")
    stylise_s = {name: round(statistics.median(v), 3) for name, v in stylise.items()}

    print(
        f"offline preview, {CLIP_SECONDS} s at {HEIGHT}p, 12 poses/s on twos (24 fps), "
        f"encoder threads=1, {pinning}, median of {runs}"
    )
    print(f"{'case':<34} {'wall s':>7} {'cpu s':>7} {'x real time':>11} {'size':>9}")
    for row in rows:
        print(
            f"{row['case']:<34} {row['wall_s']:>7.2f} {row['cpu_s']:>7.2f} "
            f"{row['ratio_to_real_time']:>11.2f} {row['size_bytes'] / 1e6:>7.2f}MB"
        )
    print("\nstylise alone (clay_still at the render size, cpu s):")
    for name, seconds in stylise_s.items():
        print(f"  {name:<32} {seconds:>7.2f}")
    print(f"\nsteps of one {wide} push_in render (cpu s):")
    for name, seconds in breakdown.items():
        print(f"  {name:<40} {seconds:>7.2f}")
    worst = max(row["ratio_to_real_time"] for row in rows)
    print(
        f"\nworst ratio {worst:.2f} (goal < {GOAL_RATIO}): "
        f"{'met' if worst < GOAL_RATIO else 'NOT met'}"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "render_preview",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "pillow": PIL.__version__,
                    "numpy": np.__version__,
                    "pyav": av.__version__,
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "pinning": pinning,
                },
                "clip": {
                    "seconds": CLIP_SECONDS,
                    "height": HEIGHT,
                    "poses_per_s": 12,
                    "stream_fps": 24,
                    "encoder_threads": 1,
                    "preset": preview._PRESET,
                    "crf": preview._CRF,
                },
                "runs": runs,
                "renders": rows,
                "stylise_cpu_s": stylise_s,
                "steps_cpu_s_16x9_push_in": breakdown,
                "goal_ratio": GOAL_RATIO,
                "worst_ratio": worst,
                "goal_met": worst < GOAL_RATIO,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
