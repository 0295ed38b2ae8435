"""The promotion gate: on the same held-out slice, the candidate must beat the current champion
and the logistic-regression baseline by a margin on the gate metric (ROC AUC by default).
Everything a reviewer needs is in the decision: all metrics of all three and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, precision/recall/F1 at ``threshold``, Brier score, confusion matrix."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    predicted = p >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    tn = int(np.sum(~predicted & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "brier": float(brier_score_loss(y, p)),
        "threshold": float(threshold),
        "tp": float(tp), "fp": float(fp), "fn": float(fn), "tn": float(tn),
        "rows": float(len(y)),
        "positives": float(int(y.sum())),
    }


def confusion_matrix(metrics: dict[str, float]) -> list[list[int]]:
    """[[tn, fp], [fn, tp]], sklearn's layout."""
    return [[int(metrics["tn"]), int(metrics["fp"])], [int(metrics["fn"]), int(metrics["tp"])]]


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    metric: str
    margin: float
    candidate: dict[str, float]
    baseline: dict[str, float]
    champion: dict[str, float] | None = None
    champion_version: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason, "metric": self.metric,
                "margin": self.margin, "candidate": self.candidate, "baseline": self.baseline,
                "champion": self.champion, "champion_version": self.champion_version,
                "notes": list(self.notes)}


@dataclass(frozen=True)
class Gate:
    """Promote only when ``candidate[metric] >= other[metric] + margin`` for the baseline
    and for the champion (when there is one)."""

    metric: str = "roc_auc"
    margin: float = 0.005

    def decide(self, candidate: dict[str, float], baseline: dict[str, float],
               champion: dict[str, float] | None = None, champion_version: str | None = None,
               notes: list[str] | None = None) -> GateDecision:
        m = self.metric
        value = candidate[m]
        failures, wins = [], []
        rivals = [("baseline", baseline)]
        if champion is not None:
            rivals.append((f"champion {champion_version}", champion))
        for name, other in rivals:
            needed = other[m] + self.margin
            if value >= needed:
                wins.append(f"{m} {value:.4f} >= {name} {other[m]:.4f} + {self.margin}")
            else:
                failures.append(f"{m} {value:.4f} < {name} {other[m]:.4f} + {self.margin}")
        if champion is None:
            wins.append("no champion yet")
        promote = not failures
        reason = ("beats " if promote else "does not beat: ") + "; ".join(
            wins if promote else failures)
        return GateDecision(promote, reason, m, self.margin, candidate, baseline, champion,
                            champion_version, list(notes or []))
