"""Capped exponential back-off, the one retry rhythm of every loop that waits out an outage
(a broker, Redis, ingest): 0.1 s, 0.2 s, 0.4 s ... up to a cap, back to the start after a
success. Retrying at once would spin a core against a dead peer; waiting long after the first
failure would turn a blip into seconds of lag."""

from __future__ import annotations

import asyncio
import logging


class Backoff:
    def __init__(self, first_s: float = 0.1, cap_s: float = 5.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.delay = first_s
        self.failures = 0

    async def wait(self, log: logging.Logger, what: str, exc: BaseException) -> None:
        """Log the failure with the coming pause, sleep it, double the next one."""
        self.failures += 1
        log.warning("%s failed, retrying in %.1fs: %r", what, self.delay, exc)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.cap_s)

    def reset(self) -> None:
        self.delay = self.first_s
        self.failures = 0
