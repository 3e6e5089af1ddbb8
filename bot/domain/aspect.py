"""A project's picture shape: 16:9, 9:16 or 1:1, and the arithmetic every layer shares.

A project with no shape chosen (None) keeps the behaviour it always had: each shot follows
its own photo. Once a shape is chosen, new photos are cropped to it at intake, so stills,
clips, the storyboard and the film all come out in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

ASPECTS: tuple[str, ...] = ("16:9", "9:16", "1:1")
# A picture within this share of a shape counts as that shape (rounding, JPEG blocks).
TOLERANCE = 0.01


def parse_aspect(text: str | None) -> str | None:
    """The shape named by `text` ("9:16", "9x16", "9/16"), or None if it names none."""
    if not text:
        return None
    cleaned = text.strip().lower().replace("x", ":").replace("/", ":").replace("×", ":")
    return cleaned if cleaned in ASPECTS else None


def ratio(aspect: str) -> Fraction:
    """Width over height of a shape."""
    width, height = aspect.split(":")
    return Fraction(int(width), int(height))


def units(aspect: str) -> tuple[int, int]:
    """The shape's smallest whole width and height (16:9 -> (16, 9))."""
    r = ratio(aspect)
    return r.numerator, r.denominator


def matching_aspect(width: int, height: int) -> str | None:
    """The shape a `width`×`height` picture already is, if any."""
    if width <= 0 or height <= 0:
        return None
    for aspect in ASPECTS:
        if abs(width / height / float(ratio(aspect)) - 1) <= TOLERANCE:
            return aspect
    return None


def canvas(aspect: str, short_side: int) -> tuple[int, int]:
    """An even-sided frame of exactly the shape whose short side is at most `short_side`."""
    uw, uh = units(aspect)
    k = max(1, short_side // min(uw, uh))
    if uw % 2 or uh % 2:  # yuv420p needs even sides: an odd unit needs an even multiple
        k = max(2, k - k % 2)
    return uw * k, uh * k


def shot_aspect(facts: Mapping[str, Any] | None) -> str | None:
    """The shape a shot's photo was cut to at intake (None: its own, as before shapes)."""
    aspect = (facts or {}).get("aspect")
    return aspect if aspect in ASPECTS else None


@dataclass(frozen=True, slots=True)
class AspectView:
    """What the chat is told of a project's shape: its name, the shape, and how many of
    its shots were cut to another (they keep theirs)."""

    project_id: int
    title: str
    aspect: str | None
    others: int = 0
