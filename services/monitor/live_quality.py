"""Live quality of one model version over its most recent labelled events.

A ring buffer of (score, decided label, true label, weight) is the whole state: every metric
(ROC AUC, accuracy, log loss, precision, recall, the confusion matrix) is computed from it when
asked (a scrape, a policy decision), not per event, and the buffer persists as plain lists.

Labels are not a random sample of the events: analysts are asked about every event the model
was unsure of and about a small random share of the rest. Left as it is, that sample is full
of hard cases, and a model looks worse (or, flagging more, better) than it serves. So each
label carries a weight, 1 / the probability that its event was sent for labelling (the
scorer's ``label_propensity``): every metric here is that weighted estimate (Horvitz-Thompson),
which is unbiased for the whole stream. Labels nobody asked for (a chargeback feed, a census
of every event) weigh 1."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Probabilities are clipped before the log: one confident mistake must not be infinite.
EPS = 1e-15


def roc_auc(scores: NDArray[np.float64], truth: NDArray[np.int8],
            weights: NDArray[np.float64] | None = None) -> float:
    """Mann-Whitney ROC AUC with tied scores sharing their average rank; NaN without both
    classes. With ``weights``, every (positive, negative) pair counts by the product of their
    weights (a tie for half)."""
    pos = int(truth.sum())
    neg = truth.size - pos
    if pos == 0 or neg == 0:
        return math.nan
    if weights is not None and not np.all(weights == 1.0):
        return _weighted_roc_auc(scores, truth, weights)
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


def _weighted_roc_auc(scores: NDArray[np.float64], truth: NDArray[np.int8],
                      weights: NDArray[np.float64]) -> float:
    order = np.argsort(scores, kind="mergesort")
    s, y, w = scores[order], truth[order], weights[order]
    neg_w = np.where(y == 0, w, 0.0)
    pos_w = np.where(y == 1, w, 0.0)
    total_pos, total_neg = float(pos_w.sum()), float(neg_w.sum())
    if total_pos <= 0 or total_neg <= 0:
        return math.nan
    # per run of tied scores: negatives strictly below, and the run's own negatives (half)
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate(([0], boundaries))
    run_neg = np.add.reduceat(neg_w, starts)
    run_pos = np.add.reduceat(pos_w, starts)
    below = np.concatenate(([0.0], np.cumsum(run_neg)[:-1]))
    return float(np.sum(run_pos * (below + run_neg / 2.0)) / (total_pos * total_neg))


class LiveQuality:
    """The last ``window`` labelled predictions of one version, and metrics over them."""

    def __init__(self, window: int = 2000) -> None:
        self.window = window
        self.scores = np.zeros(window)
        self.decided = np.zeros(window, dtype=np.int8)
        self.truth = np.zeros(window, dtype=np.int8)
        self.weights = np.ones(window)
        self.count = 0  # labelled predictions ever seen (the write position is count % window)

    def add(self, score: float, decided: int, truth: int, weight: float = 1.0) -> None:
        i = self.count % self.window
        self.scores[i] = score
        self.decided[i] = decided
        self.truth[i] = truth
        self.weights[i] = weight
        self.count += 1

    def _last(self, n: int | None
              ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
        size = min(self.count, self.window)
        n = size if n is None else min(n, size)
        end = self.count % self.window
        idx = (np.arange(end - n, end)) % self.window
        return self.scores[idx], self.decided[idx], self.truth[idx], self.weights[idx]

    def error_rate(self, last: int | None = None) -> tuple[float, int]:
        """Weighted share of wrong decisions over the last ``last`` labels, and how many
        labels that was."""
        _, decided, truth, weights = self._last(last)
        if decided.size == 0 or weights.sum() <= 0:
            return math.nan, int(decided.size)
        return float(np.average(decided != truth, weights=weights)), int(decided.size)

    def metrics(self, last: int | None = None) -> dict[str, float]:
        """Selection-weighted metrics (see the module's docstring); ``n`` counts labels,
        ``tp``... are weighted counts (estimated events of the stream)."""
        scores, decided, truth, w = self._last(last)
        n = int(truth.size)
        total = float(w.sum())
        if n == 0 or total <= 0:
            return {"n": float(n)}
        tp = float(w[(decided == 1) & (truth == 1)].sum())
        fp = float(w[(decided == 1) & (truth == 0)].sum())
        tn = float(w[(decided == 0) & (truth == 0)].sum())
        fn = float(w[(decided == 0) & (truth == 1)].sum())
        p = np.clip(scores, EPS, 1 - EPS)
        log_loss = float(-np.average(truth * np.log(p) + (1 - truth) * np.log(1 - p),
                                     weights=w))
        return {
            "n": float(n),
            "accuracy": (tp + tn) / total,
            "error_rate": (fp + fn) / total,
            "log_loss": log_loss,
            "roc_auc": roc_auc(scores, truth, w),
            "precision": tp / (tp + fp) if tp + fp else math.nan,
            "recall": tp / (tp + fn) if tp + fn else math.nan,
            "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        }

    def to_state(self) -> dict[str, Any]:
        scores, decided, truth, weights = self._last(None)
        return {"window": self.window, "count": self.count, "scores": scores.tolist(),
                "decided": decided.tolist(), "truth": truth.tolist(),
                "weights": weights.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LiveQuality:
        q = cls(int(state["window"]))
        q.count = int(state["count"])
        # Re-align the ring so that the last written slot matches the restored count.
        size = len(state["scores"])
        if size:
            idx = (np.arange(q.count - size, q.count)) % q.window
            q.scores[idx] = state["scores"]
            q.decided[idx] = state["decided"]
            q.truth[idx] = state["truth"]
            # a state written before labels were weighted: every label weighs 1
            q.weights[idx] = state.get("weights", [1.0] * size)
        return q
