"""Taking back a promotion that made things worse.

At a promotion the predecessor's live error over its last ``labels`` labelled predictions is
the bar. Once the new champion has ``labels`` labelled predictions of its own, it is kept if
its error is within ``margin`` of that bar and rolled back otherwise, with the evidence. One
verdict per promotion: a rollback is itself a lifecycle event, not a new promotion to judge."""

from __future__ import annotations

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
        self.probation = Probation(version, predecessor, error, n, version_count)

    def check(self, champion_quality: LiveQuality) -> RollbackDecision | None:
        p = self.probation
        if p is None:
            return None
        own = champion_quality.count - p.start_count
        if own < self.config.labels:
            return None
        self.probation = None
        error, n = champion_quality.error_rate(self.config.labels)
        if error <= p.predecessor_error + self.config.margin:
            self.kept += 1
            return None
        self.rolled_back += 1
        m = champion_quality.metrics(self.config.labels)
        reason = (f"{self.model_name} {p.version} live error {error:.3f} over {n} labels is "
                  f"worse than {p.predecessor}'s {p.predecessor_error:.3f} over "
                  f"{p.predecessor_labels} by more than {self.config.margin:.3f}: roll back "
                  f"to {p.predecessor}")
        evidence = {
            "live_error": error, "live_labels": float(n),
            "predecessor_error": p.predecessor_error,
            "predecessor_labels": float(p.predecessor_labels),
            "margin": self.config.margin,
            "live_log_loss": m.get("log_loss", float("nan")),
            "live_roc_auc": m.get("roc_auc", float("nan")),
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
