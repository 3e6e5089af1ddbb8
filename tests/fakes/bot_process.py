"""The real bot as its own process, for tests that kill it: `python -m tests.fakes.bot_process`.

The same as `claymate run` (settings from the environment, `bot.app.serve`, SIGTERM stops
it) except for a test-speed job runner policy: short ticks, and a short lease
(CLAYMATE_TEST_LEASE seconds, default 2) so a restarted process picks up what a killed one
held within seconds instead of `RunnerPolicy.lease_s`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import suppress

from bot.app import serve
from bot.config import load_settings
from bot.logs import configure_logging
from bot.runner import RunnerPolicy


def fast_policy(poll_interval_s: float) -> RunnerPolicy:
    return RunnerPolicy(
        poll_interval_s=poll_interval_s,
        queue_recheck_s=0.2,
        lease_s=float(os.environ.get("CLAYMATE_TEST_LEASE", "2")),
        backoff_base_s=0.1,
        backoff_cap_s=0.5,
        tick_s=0.1,
    )


def main() -> int:
    settings = load_settings()
    configure_logging(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(
            settings,
            stop,
            policy=fast_policy(settings.kling_poll_interval_s),
            poll_timeout=1,
            leader_retry_s=0.5,
        )

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
