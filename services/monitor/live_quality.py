"""Live quality of one model version over its most recent labelled events.

A ring buffer of (score, decided label, true label) is the whole state: every metric (ROC
AUC, accuracy, log loss, precision, recall, the confusion matrix) is computed from it when
asked (a scrape, a policy decision), not per event, and the buffer persists as plain lists."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Probabilities are clipped before the log: one confident mistake must not be infinite.
EPS = 1e-15


def roc_auc(scores: NDArray[np.float64], truth: NDArray[np.int8]) -> float:
    """Mann-Whitney ROC AUC with tied scores sharing their average rank; NaN without both
    classes."""
    pos = int(truth.sum())
    neg = truth.size - pos
    if pos == 0 or neg == 0:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [scores.size]))
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each run
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[truth == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


class LiveQuality:
    """The last ``window`` labelled predictions of one version, and metrics over them."""

    def __init__(self, window: int = 2000) -> None:
        self.window = window
        self.scores = np.zeros(window)
        self.decided = np.zeros(window, dtype=np.int8)
        self.truth = np.zeros(window, dtype=np.int8)
        self.count = 0  # labelled predictions ever seen (the write position is count % window)

    def add(self, score: float, decided: int, truth: int) -> None:
        i = self.count % self.window
        self.scores[i] = score
        self.decided[i] = decided
        self.truth[i] = truth
        self.count += 1

    def _last(self, n: int | None) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        size = min(self.count, self.window)
        n = size if n is None else min(n, size)
        end = self.count % self.window
        idx = (np.arange(end - n, end)) % self.window
        return self.scores[idx], self.decided[idx], self.truth[idx]

    def error_rate(self, last: int | None = None) -> tuple[float, int]:
        """Share of wrong decisions over the last ``last`` labels, and how many that was."""
        _, decided, truth = self._last(last)
        if decided.size == 0:
            return math.nan, 0
        return float(np.mean(decided != truth)), int(decided.size)

    def metrics(self, last: int | None = None) -> dict[str, float]:
        scores, decided, truth = self._last(last)
        n = int(truth.size)
        if n == 0:
            return {"n": 0.0}
        tp = int(np.sum((decided == 1) & (truth == 1)))
        fp = int(np.sum((decided == 1) & (truth == 0)))
        tn = int(np.sum((decided == 0) & (truth == 0)))
        fn = int(np.sum((decided == 0) & (truth == 1)))
        p = np.clip(scores, EPS, 1 - EPS)
        log_loss = float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))
        return {
            "n": float(n),
            "accuracy": (tp + tn) / n,
            "error_rate": (fp + fn) / n,
            "log_loss": log_loss,
            "roc_auc": roc_auc(scores, truth),
            "precision": tp / (tp + fp) if tp + fp else math.nan,
            "recall": tp / (tp + fn) if tp + fn else math.nan,
            "tp": float(tp), "fp": float(fp), "tn": float(tn), "fn": float(fn),
        }

    def to_state(self) -> dict[str, Any]:
        scores, decided, truth = self._last(None)
        return {"window": self.window, "count": self.count, "scores": scores.tolist(),
                "decided": decided.tolist(), "truth": truth.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LiveQuality:
        q = cls(int(state["window"]))
        for s, d, t in zip(state["scores"], state["decided"], state["truth"], strict=True):
            q.add(float(s), int(d), int(t))
        q.count = int(state["count"])
        # Re-align the ring so that the last written slot matches the restored count.
        size = len(state["scores"])
        if size:
            idx = (np.arange(q.count - size, q.count)) % q.window
            q.scores[idx] = state["scores"]
            q.decided[idx] = state["decided"]
            q.truth[idx] = state["truth"]
        return q
