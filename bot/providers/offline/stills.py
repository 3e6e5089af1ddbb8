"""The keyless still maker: the clay look drawn on this machine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.media.stills import offline_still


class OfflineStills:
    """The local clay look: free and instant-ish (about a second at 1080p)."""

    name = "offline"

    async def make(self, photo: Path, seed: int) -> bytes:
        """A clay JPEG of `photo`, drawn in a worker thread so the event loop keeps serving."""
        return await asyncio.to_thread(offline_still, photo, seed)

    async def aclose(self) -> None:
        """Nothing to close."""
        return None
