"""How much memory does intake take for one photo, whatever the photo?

Run: .venv/bin/python bench/bench_intake_memory.py [NAME ...]

Each crafted input (tests/fakes/crafted_images.py: a 16-bit grayscale PNG, a palette PNG,
a CMYK JPEG, a 30000x30000 PNG, a PNG header claiming 65535x65535, animated GIF/WebP/APNG,
big JPEG/HEIC/WebP/RGBA PNG) is prepared in a fresh Python process, which reports the
growth of its peak RSS (ru_maxrss) over its own peak just before the call. The goal is at
most 100 MiB per photo for any input up to Telegram's 20 MB file limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.crafted_images import crafted  # noqa: E402

GOAL_MIB = 100.0


def measure_in_child(path: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.crafted_images", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(names: list[str]) -> int:
    inputs = crafted()
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name in names or list(inputs):
            path = Path(folder) / name
            path.write_bytes(inputs[name]())
            report = measure_in_child(path)
            delta = float(report["peak_delta_mib"])  # type: ignore[arg-type]
            worst = max(worst, delta)
            size_kib = int(report["bytes"]) / 1024  # type: ignore[call-overload]
            print(f"{name:22} {size_kib:9.0f} KiB  +{delta:6.1f} MiB  {report['outcome']}")
    print(f"worst: +{worst:.1f} MiB (goal: at most {GOAL_MIB:.0f} MiB)")
    return 0 if worst <= GOAL_MIB else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
