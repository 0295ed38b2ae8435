"""What the monitor decides, as plain records: the pure code returns these and the service
turns them into Avro records on drift.signals, retrain.requests and models.lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DriftFinding:
    """One detector fired (a DriftSignal record to be)."""

    detector: str
    kind: str  # DATA, PREDICTION, CONCEPT or QUALITY (schemas/drift_signal.avsc)
    subject: str
    statistic: float
    window_events: int
    events_seen: int
    model_name: str
    model_version: str


@dataclass(frozen=True)
class RetrainDecision:
    """Ask the trainer for a new model (a RetrainRequest record to be)."""

    model_name: str
    reason: str
    step: int
    evidence: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackDecision:
    """Take back the promotion of ``from_version``, restoring ``to_version``."""

    model_name: str
    from_version: str
    to_version: str
    reason: str
    evidence: dict[str, float] = field(default_factory=dict)


Decision = DriftFinding | RetrainDecision | RollbackDecision
