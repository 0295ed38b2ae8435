"""The operating point the domain declares: what a decision at a threshold is worth.

A model's scores rank events; the business acts on a yes/no at one threshold, and which
threshold is right depends on what errors cost, not on the model. Max-F1 (the old fixed
choice) is right for none of these in general: when the positive rate fell from 0.67 to
0.20 at a drift, a model with held-out ROC AUC 0.77 served at 0.22 accuracy. So the domain
declares its objective (``objective`` in its config) and the trainer chooses every threshold
for it and judges every model by it. Kinds:

- ``{"kind": "accuracy"}``: share of correct decisions.
- ``{"kind": "f1"}``: F1 of the positive class (the default).
- ``{"kind": "cost", "false_positive": 1.0, "false_negative": 10.0}``: minus the mean cost
  per event (higher is better, like every score here).
- ``{"kind": "precision_at", "target": 0.9}``: the most recall with precision >= target;
  where no threshold reaches the target, the most precision (scored ``precision - target``,
  below every cut that reaches it; flagging nothing scores ``-target``).

Every count is a sum of weights (importance weights correcting for how labels were chosen;
see ``selection``); without weights each example counts 1. Pure numpy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

KINDS = ("accuracy", "f1", "cost", "precision_at")
Array = npt.NDArray[np.float64]


class ObjectiveError(ValueError):
    """The domain's objective is not one of the declared shapes."""


@dataclass(frozen=True)
class Objective:
    kind: str = "f1"
    false_positive: float = 1.0  # cost of one false alarm (kind "cost")
    false_negative: float = 1.0  # cost of one missed positive (kind "cost")
    target: float = 0.9          # least precision (kind "precision_at")

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Objective:
        raw = dict(raw or {"kind": "f1"})
        kind = str(raw.pop("kind", "f1"))
        raw.pop("doc", None)
        allowed = {"cost": {"false_positive", "false_negative"},
                   "precision_at": {"target"}}.get(kind, set())
        if kind not in KINDS:
            raise ObjectiveError(f"objective kind {kind!r} is not one of {KINDS}")
        if unknown := set(raw) - allowed:
            raise ObjectiveError(f"objective {kind!r} takes no {sorted(unknown)}")
        try:
            values = {k: float(v) for k, v in raw.items()}
        except (TypeError, ValueError) as exc:
            raise ObjectiveError(f"objective {kind!r}: {raw} are not numbers") from exc
        objective = cls(kind, **values)
        if kind == "cost" and min(objective.false_positive, objective.false_negative) < 0:
            raise ObjectiveError("objective costs must not be negative")
        if kind == "precision_at" and not 0.0 < objective.target <= 1.0:
            raise ObjectiveError("objective target must be in (0, 1]")
        return objective

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "cost":
            out.update(false_positive=self.false_positive, false_negative=self.false_negative)
        if self.kind == "precision_at":
            out["target"] = self.target
        return out

    def __str__(self) -> str:
        if self.kind == "cost":
            return f"cost(fp={self.false_positive:g}, fn={self.false_negative:g})"
        if self.kind == "precision_at":
            return f"recall at precision >= {self.target:g}"
        return self.kind

    def value(self, tp: Array, fp: Array, fn: Array, tn: Array) -> Array:
        """The score of each confusion matrix (weighted counts), higher is better."""
        total = np.maximum(tp + fp + fn + tn, 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "accuracy":
                return np.asarray((tp + tn) / total, np.float64)
            if self.kind == "f1":
                return np.asarray(np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
                                  np.float64)
            if self.kind == "cost":
                return np.asarray(-(self.false_positive * fp + self.false_negative * fn)
                                  / total, np.float64)
            flagged = tp + fp
            precision = np.where(flagged > 0, tp / np.where(flagged > 0, flagged, 1), 0.0)
            recall = np.where(tp + fn > 0, tp / np.where(tp + fn > 0, tp + fn, 1), 0.0)
            reached = (flagged > 0) & (precision >= self.target - 1e-12)
            return np.asarray(np.where(reached, recall, precision - self.target), np.float64)

    def score(self, scores: npt.ArrayLike, labels: npt.ArrayLike, threshold: float,
              weights: npt.ArrayLike | None = None) -> float:
        """The objective of deciding ``scores >= threshold`` against ``labels``."""
        y, p, w = _arrays(scores, labels, weights)
        flagged = p >= threshold
        counts = [np.array([float(np.sum(w[m]))]) for m in
                  (flagged & y, flagged & ~y, ~flagged & y, ~flagged & ~y)]
        return float(self.value(*counts)[0])

    def threshold(self, scores: npt.ArrayLike, labels: npt.ArrayLike,
                  weights: npt.ArrayLike | None = None) -> float:
        """The cut with the best objective on (scores, labels): every cut between two
        distinct scores is tried, and flagging nothing; the cut is placed midway to the next
        lower score, so float noise in the exported graph falls on the same side. The first
        best from the top wins a tie (the fewest alarms)."""
        y, p, w = _arrays(scores, labels, weights)
        if len(p) == 0:
            return 0.5
        order = np.argsort(-p, kind="stable")
        ps, ys, ws = p[order], y[order], w[order]
        ends = np.r_[np.nonzero(np.diff(ps))[0], len(ps) - 1]  # last index of each score
        tp = np.r_[0.0, np.cumsum(ws * ys)[ends]]
        fp = np.r_[0.0, np.cumsum(ws * ~ys)[ends]]
        positives, negatives = float(np.sum(ws * ys)), float(np.sum(ws * ~ys))
        best = int(np.argmax(self.value(tp, fp, positives - tp, negatives - fp)))
        if best == 0:  # flag nothing: above the highest score
            top = float(ps[0])
            return (top + 1.0) / 2 if top < 1.0 else float(np.nextafter(top, np.inf))
        k = int(ends[best - 1])
        below = float(ps[k + 1]) if k + 1 < len(ps) else float(ps[k]) / 2
        return (float(ps[k]) + below) / 2


def _arrays(scores: npt.ArrayLike, labels: npt.ArrayLike, weights: npt.ArrayLike | None
            ) -> tuple[npt.NDArray[np.bool_], Array, Array]:
    p = np.asarray(scores, np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    w = (np.ones(len(p)) if weights is None
         else np.asarray(weights, np.float64).reshape(-1))
    return y, p, w
