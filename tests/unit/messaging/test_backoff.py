"""The one back-off rhythm: doubling from the first pause to the cap, back after a reset."""

from __future__ import annotations

import asyncio
import logging

from driftloop.messaging import Backoff


def test_pauses_double_up_to_the_cap_and_reset_starts_over() -> None:
    backoff = Backoff(first_s=0.001, cap_s=0.004)
    log = logging.getLogger("test")
    seen = []
    for _ in range(4):
        seen.append(backoff.delay)
        asyncio.run(backoff.wait(log, "probe", RuntimeError("down")))
    assert seen == [0.001, 0.002, 0.004, 0.004]
    assert backoff.failures == 4
    backoff.reset()
    assert (backoff.delay, backoff.failures) == (0.001, 0)
