"""What every benchmark records beside its numbers, and where it writes them."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: how busy the (shared) machine was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine(**more: Any) -> dict[str, Any]:
    """The machine a result came from, so numbers from two machines are not compared."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        **more,
    }


def write_results(path: Path, result: dict[str, Any]) -> int:
    """Write `result` as JSON under bench/results/ and say where; the script's exit code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path.relative_to(REPO)}")
    return 0
