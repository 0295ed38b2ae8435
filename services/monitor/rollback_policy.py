"""Taking back a promotion that made things worse.

At a promotion the predecessor's live ROC AUC over its last ``labels`` labelled predictions is
the bar. Once the new champion has ``labels`` labelled predictions of its own, it is kept if
its ROC AUC is within ``margin`` of that bar and rolled back otherwise, with the evidence. One
verdict per promotion: a rollback is itself a lifecycle event, not a new promotion to judge.

Ranking quality, not the error rate at the model's threshold: labelled predictions are not a
random sample (analysts are asked about the uncertain ones, owners report positives), so a
model whose threshold flags more events gets more, and harder, questions and shows a higher
labelled error while ranking far better. Rolling back to a predecessor that no longer ranks
(the one a concept change demoted) would undo the fix; a threshold is corrected by the next
training run. The error rate decides only when ROC AUC is undefined (one class labelled)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from services.monitor.decisions import RollbackDecision
from services.monitor.live_quality import LiveQuality


@dataclass(frozen=True)
class RollbackConfig:
    labels: int = 500
    margin: float = 0.03
    min_predecessor_labels: int = 100


@dataclass
class Probation:
    """A promoted version under watch."""

    version: str
    predecessor: str
    predecessor_error: float
    predecessor_labels: int
    start_count: int  # the new version's labelled count at promotion
    predecessor_roc_auc: float = math.nan  # nan: not measured (state from before this field)


class RollbackPolicy:
    def __init__(self, model_name: str, config: RollbackConfig) -> None:
        self.model_name = model_name
        self.config = config
        self.probation: Probation | None = None
        self.kept = 0
        self.rolled_back = 0

    def on_promotion(self, version: str, predecessor: str | None,
                     predecessor_quality: LiveQuality | None, version_count: int) -> None:
        """``version`` replaced ``predecessor``; without enough labelled history of the
        predecessor there is no bar, and no probation."""
        self.probation = None
        if predecessor is None or predecessor_quality is None or predecessor == version:
            return
        error, n = predecessor_quality.error_rate(self.config.labels)
        if n < self.config.min_predecessor_labels:
            return
        auc = predecessor_quality.metrics(self.config.labels).get("roc_auc", math.nan)
        self.probation = Probation(version, predecessor, error, n, version_count, auc)

    def check(self, champion_quality: LiveQuality) -> RollbackDecision | None:
        p = self.probation
        if p is None:
            return None
        own = champion_quality.count - p.start_count
        if own < self.config.labels:
            return None
        self.probation = None
        error, n = champion_quality.error_rate(self.config.labels)
        m = champion_quality.metrics(self.config.labels)
        auc = m.get("roc_auc", math.nan)
        margin = self.config.margin
        if math.isfinite(auc) and math.isfinite(p.predecessor_roc_auc):
            worse = auc < p.predecessor_roc_auc - margin
            reason = (f"{self.model_name} {p.version} live ROC AUC {auc:.3f} over {n} labels "
                      f"is below {p.predecessor}'s {p.predecessor_roc_auc:.3f} over "
                      f"{p.predecessor_labels} by more than {margin:.3f}: roll back to "
                      f"{p.predecessor}")
        else:
            worse = error > p.predecessor_error + margin
            reason = (f"{self.model_name} {p.version} live error {error:.3f} over {n} labels "
                      f"is worse than {p.predecessor}'s {p.predecessor_error:.3f} over "
                      f"{p.predecessor_labels} by more than {margin:.3f}: roll back to "
                      f"{p.predecessor}")
        if not worse:
            self.kept += 1
            return None
        self.rolled_back += 1
        evidence = {
            "live_error": error, "live_labels": float(n),
            "predecessor_error": p.predecessor_error,
            "predecessor_labels": float(p.predecessor_labels),
            "margin": margin,
            "live_log_loss": m.get("log_loss", math.nan),
            "live_roc_auc": auc,
            "predecessor_roc_auc": p.predecessor_roc_auc,
        }
        return RollbackDecision(self.model_name, p.version, p.predecessor, reason, evidence)

    def to_state(self) -> dict[str, Any]:
        return {"kept": self.kept, "rolled_back": self.rolled_back,
                "probation": None if self.probation is None else asdict(self.probation)}

    @classmethod
    def from_state(cls, model_name: str, config: RollbackConfig,
                   state: dict[str, Any]) -> RollbackPolicy:
        policy = cls(model_name, config)
        policy.kept = int(state["kept"])
        policy.rolled_back = int(state["rolled_back"])
        if state["probation"] is not None:
            policy.probation = Probation(**state["probation"])
        return policy
