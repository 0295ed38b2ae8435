"""A circuit breaker: after repeated failures, stop calling a sick dependency for a while.

A scorer that keeps waiting on a frozen online store turns every request into a deadline
miss; with the breaker open, lookups answer defaults at once and one probe per reset period
tests whether the store is back (closed -> open -> half-open -> closed)."""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, failures: int, reset_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def allow(self) -> bool:
        """May a call go through now? In half-open, one probe is let through per period."""
        state = self.state
        if state == "half-open":
            self._opened_at = self._clock()  # the probe; others wait for its outcome
            return True
        return state == "closed"

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
