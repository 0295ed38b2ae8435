"""Concept drift on the labelled error stream: River's ADWIN over 0/1 mistakes.

ADWIN keeps an adaptive window and cuts it where the mean of the old part differs from the
new part with confidence ``1 - delta``; the error rate before and after the cut tell whether
the model got worse. River's ADWIN lives in a Cython object with no data form, so its state
persists as the recent mistakes themselves, replayed into a fresh ADWIN on restart: the
window it rebuilds is the one it would hold (up to ``replay`` values)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from river.drift import ADWIN


@dataclass(frozen=True)
class ErrorShift:
    """ADWIN cut its window: the error rate went from ``before`` to ``after``; ``after_n``
    labels lie after the estimated change point."""

    before: float
    after: float
    after_n: int
    seen: int

    @property
    def worse(self) -> bool:
        return self.after > self.before


class ErrorDetector:
    def __init__(self, delta: float = 0.002, replay: int = 4000) -> None:
        self.delta = delta
        self.replay = replay
        self._adwin = ADWIN(delta=delta)
        self._recent: deque[int] = deque(maxlen=replay)
        self.seen = 0

    def update(self, mistake: int) -> ErrorShift | None:
        # After a detection River restarts ADWIN at the next value: the window is then empty.
        fresh = self._adwin.drift_detected
        width, total = (0, 0.0) if fresh else (self._adwin.width, self._adwin.total)
        self._adwin.update(mistake)
        self._recent.append(mistake)
        self.seen += 1
        if not self._adwin.drift_detected:
            return None
        # The full window before the cut (plus this value) versus what ADWIN kept.
        full_n, full_sum = width + 1, total + mistake
        kept_n, kept_sum = self._adwin.width, self._adwin.total
        old_n = full_n - kept_n
        before = (full_sum - kept_sum) / old_n if old_n > 0 else full_sum / full_n
        after = kept_sum / kept_n if kept_n else 0.0
        # River restarts ADWIN on the next value; the replay buffer follows suit.
        self._recent.clear()
        return ErrorShift(before=before, after=after, after_n=int(kept_n), seen=self.seen)

    @property
    def estimation(self) -> float:
        return float(self._adwin.estimation)

    def to_state(self) -> dict[str, Any]:
        return {"delta": self.delta, "replay": self.replay, "seen": self.seen,
                "recent": list(self._recent)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ErrorDetector:
        det = cls(float(state["delta"]), int(state["replay"]))
        for value in state["recent"]:
            # Replaying may cut the window again; that cut was already reported before.
            det._adwin.update(int(value))
            det._recent.append(int(value))
        if det._adwin.drift_detected:
            det._recent = deque(det._recent, maxlen=det.replay)
        det.seen = int(state["seen"])
        return det
