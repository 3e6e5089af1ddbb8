"""The README's before/after pictures: each photograph and its offline clay still.

Run: .venv/bin/python docs/clay/render.py PHOTO [PHOTO ...]

The still is made the way the bot makes one (`bot.media.clay.clay_still` on the upright
photo at 720 px high), then both are shrunk to 220 px high and saved here as indexed
NAME-photo.png and NAME-clay.png. The README's three photographs are public-domain or
CC0 pictures that ship with scikit-image (skimage/data/astronaut.png, coffee.png,
rocket.jpg); any photo works.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from bot.media.clay import clay_still  # noqa: E402

WORK_HEIGHT = 720  # what an offline still is made at, near enough
SHOWN_HEIGHT = 220
COLOURS = 192  # an indexed PNG a third the size, and no visible change at this size


def render(photo: Path) -> tuple[Path, Path]:
    """Write NAME-photo.png and NAME-clay.png for one photograph."""
    with Image.open(photo) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    work = upright.resize(
        (round(upright.width * WORK_HEIGHT / upright.height), WORK_HEIGHT),
        Image.Resampling.LANCZOS,
    )
    still = clay_still(work, seed=0)
    shown = (round(work.width * SHOWN_HEIGHT / WORK_HEIGHT), SHOWN_HEIGHT)
    before, after = HERE / f"{photo.stem}-photo.png", HERE / f"{photo.stem}-clay.png"
    for picture, path in ((work, before), (still, after)):
        small = picture.resize(shown, Image.Resampling.LANCZOS)
        small.quantize(COLOURS, dither=Image.Dither.NONE).save(path, optimize=True)
    return before, after


def main() -> None:
    for name in sys.argv[1:]:
        for path in render(Path(name)):
            print(f"{path.relative_to(HERE.parent.parent)}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
