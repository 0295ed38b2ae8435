"""The promotion gate, on one held-out slice: the network must beat the logistic-regression
baseline by a margin on the gate metric (ROC AUC by default), or the baseline is the candidate
instead (a network that cannot beat it is not worth serving, but the baseline may still be
far better than a champion the world has left behind); the candidate must then beat the
current champion by the margin. Everything a reviewer needs is in the decision: all metrics of
all three, which model was the candidate, and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from services.trainer.objective import Objective


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float,
             objective: Objective | None = None) -> dict[str, float]:
    """ROC AUC, PR AUC, precision/recall/F1 and the domain's ``objective`` at ``threshold``,
    Brier score, confusion matrix."""
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
        "objective": (objective or Objective()).score(p, y, threshold),
    }


def confusion_matrix(metrics: dict[str, float]) -> list[list[int]]:
    """[[tn, fp], [fn, tp]], sklearn's layout."""
    return [[int(metrics["tn"]), int(metrics["fp"])], [int(metrics["fn"]), int(metrics["tp"])]]


NETWORK = "network"
BASELINE = "baseline"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    metric: str
    margin: float
    candidate: dict[str, float]  # the network's metrics
    baseline: dict[str, float]
    champion: dict[str, float] | None = None
    champion_version: str | None = None
    notes: list[str] = field(default_factory=list)
    model: str = NETWORK  # which one is registered: NETWORK or BASELINE

    @property
    def metrics(self) -> dict[str, float]:
        """The registered model's metrics."""
        return self.candidate if self.model == NETWORK else self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason, "metric": self.metric,
                "margin": self.margin, "model": self.model, "candidate": self.candidate,
                "baseline": self.baseline, "champion": self.champion,
                "champion_version": self.champion_version, "notes": list(self.notes)}


@dataclass(frozen=True)
class Gate:
    """The network is the candidate when ``network[metric] >= baseline[metric] + margin``,
    the baseline otherwise; it is promoted when ``candidate[metric] >= champion[metric] +
    margin`` or there is no champion."""

    metric: str = "roc_auc"
    margin: float = 0.005

    def _beats(self, value: float, name: str, other: dict[str, float]) -> tuple[bool, str]:
        m, needed = self.metric, other[self.metric] + self.margin
        sign = ">=" if value >= needed else "<"
        return value >= needed, f"{m} {value:.4f} {sign} {name} {other[m]:.4f} + {self.margin}"

    def decide(self, candidate: dict[str, float], baseline: dict[str, float],
               champion: dict[str, float] | None = None, champion_version: str | None = None,
               notes: list[str] | None = None) -> GateDecision:
        network_wins, versus_baseline = self._beats(candidate[self.metric], "baseline",
                                                    baseline)
        model, value = ((NETWORK, candidate[self.metric]) if network_wins
                        else (BASELINE, baseline[self.metric]))
        steps = [versus_baseline if network_wins
                 else f"network {versus_baseline}: the baseline is the candidate"]
        if champion is None:
            promote = True
            steps.append("no champion yet")
        else:
            promote, versus_champion = self._beats(
                value, f"champion {champion_version}", champion)
            steps.append(versus_champion if model == NETWORK else f"baseline {versus_champion}")
        if promote:
            reason = ("beats " if model == NETWORK else "baseline promoted: ") + "; ".join(steps)
        else:
            reason = "does not beat: " + "; ".join(steps[1:] if network_wins else steps)
        return GateDecision(promote, reason, self.metric, self.margin, candidate, baseline,
                            champion, champion_version, list(notes or []), model)
