"""Credit packs sold for Telegram Stars, as an operator prices them in the settings."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PACKS = 6  # one button per pack under a message
MAX_STARS = 10_000  # Telegram's ceiling for one Stars price
MAX_CREDITS = 1_000_000


@dataclass(frozen=True, slots=True)
class StarPack:
    """`credits` generation units for `stars` Telegram Stars."""

    credits: int
    stars: int

    @property
    def key(self) -> str:
        """How the pack is named in settings, invoices and the purchases ledger."""
        return f"{self.credits}:{self.stars}"


def parse_star_packs(raw: str | None) -> tuple[StarPack, ...]:
    """CLAYMATE_STAR_PACKS ("10:50,30:120", credits:stars); empty means no payments.

    Raises ValueError with a message that says what is wrong, never echoing the input.
    """
    packs: list[StarPack] = []
    for part in (raw or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        credits, sep, stars = part.strip().partition(":")
        if not sep or not credits.strip().isdigit() or not stars.strip().isdigit():
            raise ValueError("each pack must be CREDITS:STARS in whole numbers, e.g. 10:50,30:120")
        pack = StarPack(int(credits), int(stars))
        if not 1 <= pack.credits <= MAX_CREDITS:
            raise ValueError(f"a pack's credits must be 1 to {MAX_CREDITS}")
        if not 1 <= pack.stars <= MAX_STARS:
            raise ValueError(f"a pack's price must be 1 to {MAX_STARS} Stars")
        if pack in packs:
            raise ValueError("the same pack is listed twice")
        packs.append(pack)
    if len(packs) > MAX_PACKS:
        raise ValueError(f"at most {MAX_PACKS} packs")
    return tuple(packs)
