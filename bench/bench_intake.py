"""How much slower than simply decoding a phone photo is making it video-ready?

Run: .venv/bin/python bench/bench_intake.py [--runs 15]

The photo is synthetic but phone-like: 4032x3024, a lit scene with gradients, shapes, fine
texture and sensor noise so the JPEG is not trivially compressible, quality 90, EXIF
orientation 6 (held upright), as an iPhone or Android camera writes it. A second input is
the same scene as Telegram delivers a compressed photo (1280x960 baseline JPEG, quality 87,
no metadata), which intake keeps byte for byte; it is also timed with a comment added,
which makes intake re-encode it. Timings are interleaved (decode, intake, decode, ...) so
a busy machine slows both alike, and the median is reported. Results go to
bench/results/intake.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.media import intake
from bot.providers.openai.llm import image_data_url  # noqa: E402

RESULTS = REPO / "bench" / "results" / "intake.json"
GOAL_RATIO = 2.0


def phone_photo(width: int = 4032, height: int = 3024, seed: int = 12) -> bytes:
    """A detailed 12-MP scene, encoded the way a phone camera would."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([90 + 60 * y / height, 140 + 50 * y / height, 230 - 40 * y / height], -1)
    ground = np.stack([70 + 40 * np.sin(x / 37), 110 + 30 * np.cos(y / 23), 50 + 0 * x], -1)
    horizon = height * 0.55 + 80 * np.sin(x / 400)
    scene = np.where((y > horizon)[..., None], ground, sky)
    texture = 18 * np.sin(x / 3.1 + y / 5.3) * np.cos(y / 2.7 - x / 11.0)
    scene = scene + texture[..., None] + rng.normal(0, 6, (height, width, 3))
    image = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))

    draw = ImageDraw.Draw(image)
    for _ in range(60):  # buildings, boats, people: hard edges in many colours
        left = int(rng.integers(0, width - 400))
        top = int(rng.integers(int(height * 0.3), height - 300))
        box = (left, top, left + int(rng.integers(40, 400)), top + int(rng.integers(40, 300)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle(box, fill=colour, outline=(20, 20, 20), width=3)
        else:
            draw.ellipse(box, fill=colour)

    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "BenchPhone"  # Make
    exif[0x0110] = "Model 12"  # Model
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def telegram_photo(phone: bytes, **options: object) -> bytes:
    """The phone photo as Telegram delivers it compressed: upright, 1280 px, no metadata."""
    with Image.open(io.BytesIO(phone)) as image:
        upright = image.transpose(Image.Transpose.ROTATE_270).resize(
            (960, 1280), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    upright.rotate(90, expand=True).save(buffer, "JPEG", quality=87, **options)
    return buffer.getvalue()


def bare_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(
    cases: dict[str, Callable[[], object]], runs: int, warmup: int = 2
) -> dict[str, list[float]]:
    for _ in range(warmup):
        for function in cases.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, function in cases.items():
            samples[name].append(timed(function))
    return samples


def stage_cases(data: bytes) -> dict[str, Callable[[], object]]:
    """The Pillow steps prepare_photo is made of, timed alone, to show where time goes."""
    full = Image.open(io.BytesIO(data))
    full.load()
    small = full.resize((2048, 1536), Image.Resampling.LANCZOS)
    return {
        "Lanczos 4032x3024 -> 2048x1536": lambda: full.resize(
            (2048, 1536), Image.Resampling.LANCZOS
        ),
        "rotate 2048x1536": lambda: small.transpose(Image.Transpose.ROTATE_270),
        "JPEG encode 2048x1536 q92": lambda: small.save(io.BytesIO(), "JPEG", quality=92),
        "read_facts 2048x1536": lambda: intake.read_facts(small),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    data = phone_photo()
    prepared = intake.prepare_photo(data)
    cases: dict[str, Callable[[], object]] = {
        "bare decode (Image.open + load)": lambda: bare_decode(data),
        "prepare_photo, max_side 2048": lambda: intake.prepare_photo(data),
        "prepare_photo, max_side 2016 (1/2 draft)": lambda: intake.prepare_photo(
            data, max_side=2016
        ),
        # As the bot runs it: the small copy a vision LLM is sent is made at intake too.
        "prepare_photo + LLM copy": lambda: intake.prepare_photo(data, with_llm_jpeg=True),
    }
    samples = measure(cases, args.runs)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians["bare decode (Image.open + load)"]

    print(f"input: 4032x3024 JPEG q90, EXIF orientation 6, {len(data) / 1e6:.2f} MB")
    print(f"output: {prepared.width}x{prepared.height} JPEG, {len(prepared.jpeg) / 1e6:.2f} MB")
    print(f"runs: {args.runs} (interleaved, median), cpus: {os.cpu_count()}\n")
    print(f"{'case':46} {'median ms':>10} {'min ms':>8} {'x decode':>9}")
    for name, values in samples.items():
        ratio = medians[name] / baseline
        print(f"{name:46} {medians[name] * 1e3:10.1f} {min(values) * 1e3:8.1f} {ratio:9.2f}")
    stages = {
        name: statistics.median(values)
        for name, values in measure(stage_cases(data), args.runs).items()
    }
    print("\nwhere the time goes (each step alone):")
    for name, value in stages.items():
        print(f"  {name:42} {value * 1e3:10.1f}")

    telegram = telegram_photo(data)
    with_comment = telegram_photo(data, comment=b"edited")
    small = measure(
        {
            "bare decode (Image.open + load)": lambda: bare_decode(telegram),
            "prepare_photo (kept byte for byte)": lambda: intake.prepare_photo(telegram),
            "prepare_photo (re-encoded: has a comment)": lambda: intake.prepare_photo(
                with_comment
            ),
            "prepare_photo + LLM copy (as the bot runs it)": lambda: intake.prepare_photo(
                telegram, with_llm_jpeg=True
            ),
            # What every draft and refinement cost on the event loop before intake made it.
            "image_data_url (per draft, before)": lambda: image_data_url(telegram),
        },
        args.runs,
    )
    small_medians = {name: statistics.median(values) for name, values in small.items()}
    small_base = small_medians["bare decode (Image.open + load)"]
    print(f"\nTelegram's compressed photo: 1280x960 JPEG q87, {len(telegram) / 1e3:.0f} kB")
    for name, value in small_medians.items():
        print(f"  {name:46} {value * 1e3:10.2f} {value / small_base:9.2f}")

    ratio = medians["prepare_photo, max_side 2048"] / baseline
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    print(f"\ngoal: intake within {GOAL_RATIO:g}x of a bare decode: {verdict} ({ratio:.2f}x)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "intake",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "input": {"width": 4032, "height": 3024, "bytes": len(data), "exif_orientation": 6},
        "output": {
            "width": prepared.width,
            "height": prepared.height,
            "bytes": len(prepared.jpeg),
        },
        "runs": args.runs,
        "median_ms": {name: round(value * 1e3, 2) for name, value in medians.items()},
        "min_ms": {name: round(min(values) * 1e3, 2) for name, values in samples.items()},
        "ratio_to_decode": {name: round(value / baseline, 3) for name, value in medians.items()},
        "steps_median_ms": {name: round(value * 1e3, 2) for name, value in stages.items()},
        "telegram_photo": {
            "width": 1280,
            "height": 960,
            "bytes": len(telegram),
            "median_ms": {name: round(v * 1e3, 2) for name, v in small_medians.items()},
            "ratio_to_decode": {
                name: round(v / small_base, 3) for name, v in small_medians.items()
            },
        },
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio <= GOAL_RATIO,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
