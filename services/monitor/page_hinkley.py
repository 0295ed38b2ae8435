"""Page-Hinkley over many streams at once, a batch at a time, with numpy.

River's ``drift.PageHinkley`` costs ~0.8 µs per value in a Python loop; 31 streams (30
features and the score) at 30,000 events/s would need ~0.75 s of every second. The test is a
cumulative sum, so a whole batch of every stream is a few array operations: the running mean
is a cumulative sum over the counts, the faded sums ``S_t = alpha * S_(t-1) + d_t`` are a
scaled cumulative sum, and the minimum / maximum a running accumulate. The decisions are the
same as River's (a unit test checks the exact detection indices against it); the state is a
handful of floats per stream, so it persists as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Rows per chunk: alpha**-CHUNK must stay finite and precise (alpha near 1: ~e**0.4).
CHUNK = 4096


@dataclass(frozen=True)
class Detection:
    """Stream ``column`` drifted at ``row`` of the batch; ``mean`` is its running mean then."""

    column: int
    row: int
    mean: float
    statistic: float
    seen: int


class VectorPageHinkley:
    """``k`` independent two-sided Page-Hinkley tests with River's parameters and semantics:
    a stream that fires restarts from scratch at its next value, so one change fires once."""

    def __init__(self, k: int, *, min_instances: int = 30, delta: float = 0.005,
                 threshold: float = 50.0, alpha: float = 1 - 0.0001) -> None:
        self.k = k
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.n = np.zeros(k, dtype=np.int64)
        self.mean = np.zeros(k)
        self.sum_inc = np.zeros(k)
        self.sum_dec = np.zeros(k)
        self.min_inc = np.full(k, np.inf)
        self.max_dec = np.full(k, -1.0)
        self.seen = np.zeros(k, dtype=np.int64)
        self.detections = np.zeros(k, dtype=np.int64)

    def _reset(self, cols: NDArray[np.intp]) -> None:
        self.n[cols] = 0
        self.mean[cols] = 0.0
        self.sum_inc[cols] = 0.0
        self.sum_dec[cols] = 0.0
        self.min_inc[cols] = np.inf
        self.max_dec[cols] = -1.0

    def update(self, values: NDArray[np.float64]) -> list[Detection]:
        """Feed a ``(rows, k)`` batch; returns every detection in row order."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.k:
            raise ValueError(f"expected a (rows, {self.k}) array, got {values.shape}")
        found: list[Detection] = []
        for start in range(0, values.shape[0], CHUNK):
            found.extend(self._update_chunk(values[start:start + CHUNK], start))
        found.sort(key=lambda d: (d.row, d.column))
        return found

    def _update_chunk(self, block: NDArray[np.float64], offset: int) -> list[Detection]:
        found: list[Detection] = []
        cols = np.arange(self.k)
        first = np.zeros(self.k, dtype=np.int64)  # row where each column's pending part starts
        while cols.size:
            dets = self._scan(block, cols, first)
            if not dets:
                break
            found.extend(Detection(c, r + offset, m, s, n) for c, r, m, s, n in dets)
            # A column that fired restarts at its next value, like River's reset-on-update.
            restart = np.array([c for c, r, *_ in dets if r + 1 < block.shape[0]], dtype=np.intp)
            fired = np.array([c for c, *_ in dets], dtype=np.intp)
            self._reset(fired)
            rows = {c: r for c, r, *_ in dets}
            for c in restart:
                first[c] = rows[int(c)] + 1
            cols = restart
        return found

    def _scan(self, block: NDArray[np.float64], cols: NDArray[np.intp],
              first: NDArray[np.int64]) -> list[tuple[int, int, float, float, int]]:
        """Advance ``cols`` over their pending rows; stop each at its first detection."""
        start = int(first[cols].min())
        x = block[start:, cols]
        rows = x.shape[0]
        # Rows before a column's own start are not its values (a column that restarted):
        # mask them out so they change nothing.
        idx = np.arange(start, start + rows)[:, None]
        live = idx >= first[cols][None, :]
        x = np.where(live, x, 0.0)
        counts = np.cumsum(live, axis=0)
        n0 = self.n[cols]
        n = n0[None, :] + counts
        total = self.mean[cols][None, :] * n0[None, :] + np.cumsum(x, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.maximum(n, 1), 0.0)
        dev = np.where(live, x - mean, 0.0)
        # Faded sums in closed form over the live rows only: S_j = a^j (S_0 + sum a^-i d_i).
        j = counts.astype(np.float64)
        scale = self.alpha ** j
        inv = self.alpha ** -j
        s_inc = scale * (self.sum_inc[cols][None, :] + np.cumsum(
            np.where(live, (dev - self.delta) * inv, 0.0), axis=0))
        s_dec = scale * (self.sum_dec[cols][None, :] + np.cumsum(
            np.where(live, (dev + self.delta) * inv, 0.0), axis=0))
        min_inc = np.minimum(np.minimum.accumulate(np.where(live, s_inc, np.inf), axis=0),
                             self.min_inc[cols][None, :])
        max_dec = np.maximum(np.maximum.accumulate(np.where(live, s_dec, -np.inf), axis=0),
                             self.max_dec[cols][None, :])
        test_inc = s_inc - min_inc
        test_dec = max_dec - s_dec
        fire = live & (n >= self.min_instances) & (
            (test_inc > self.threshold) | (test_dec > self.threshold))
        any_fire = fire.any(axis=0)
        hit = np.where(any_fire, fire.argmax(axis=0), rows - 1)
        out: list[tuple[int, int, float, float, int]] = []
        take = np.arange(cols.size)
        # Keep the state of each column at its last processed row (detection or end).
        self.n[cols] = n[hit, take]
        self.mean[cols] = mean[hit, take]
        self.sum_inc[cols] = s_inc[hit, take]
        self.sum_dec[cols] = s_dec[hit, take]
        self.min_inc[cols] = min_inc[hit, take]
        self.max_dec[cols] = max_dec[hit, take]
        self.seen[cols] += counts[hit, take]
        for i in np.flatnonzero(any_fire):
            c, r = int(cols[i]), int(hit[i])
            stat = float(max(test_inc[r, i], test_dec[r, i]))
            self.detections[c] += 1
            out.append((c, start + r, float(mean[r, i]), stat, int(self.seen[c])))
        return out

    # -- persistence as data -----------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        def floats(a: NDArray[np.float64]) -> list[float | None]:
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {
            "k": self.k, "min_instances": self.min_instances, "delta": self.delta,
            "threshold": self.threshold, "alpha": self.alpha,
            "n": self.n.tolist(), "mean": floats(self.mean), "sum_inc": floats(self.sum_inc),
            "sum_dec": floats(self.sum_dec), "min_inc": floats(self.min_inc),
            "max_dec": floats(self.max_dec), "seen": self.seen.tolist(),
            "detections": self.detections.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VectorPageHinkley:
        ph = cls(int(state["k"]), min_instances=int(state["min_instances"]),
                 delta=float(state["delta"]), threshold=float(state["threshold"]),
                 alpha=float(state["alpha"]))
        ph.n = np.asarray(state["n"], dtype=np.int64)
        ph.mean = np.asarray(state["mean"], dtype=np.float64)
        ph.sum_inc = np.asarray(state["sum_inc"], dtype=np.float64)
        ph.sum_dec = np.asarray(state["sum_dec"], dtype=np.float64)
        ph.min_inc = np.asarray([np.inf if v is None else v for v in state["min_inc"]])
        ph.max_dec = np.asarray([-1.0 if v is None else v for v in state["max_dec"]])
        ph.seen = np.asarray(state["seen"], dtype=np.int64)
        ph.detections = np.asarray(state["detections"], dtype=np.int64)
        return ph
