"""What the loop did, as read from its topics: counts, the champion's predictions (first per
event id: duplicates from at-least-once delivery are counted, not kept), labels, drift
signals, retrain requests and lifecycle events, each with when it was seen. Pure."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChampionPrediction:
    event_id: str
    model_version: str
    score: float
    scored_at_ms: int
    threshold: float = 0.5  # the served model's operating threshold (the record's)


@dataclass
class LoopLedger:
    valid: int = 0
    deadletter: int = 0
    labels: int = 0
    label_requests: int = 0
    duplicate_predictions: int = 0
    shadow_predictions: int = 0
    predictions: dict[str, ChampionPrediction] = field(default_factory=dict)
    versions_per_event: dict[str, set[str]] = field(default_factory=dict)
    drift_signals: list[dict[str, Any]] = field(default_factory=list)
    retrain_requests: list[dict[str, Any]] = field(default_factory=list)
    lifecycle: list[dict[str, Any]] = field(default_factory=list)
    deadletter_reasons: Counter[str] = field(default_factory=Counter)
    champion: str | None = None

    def add(self, topic: str, record: dict[str, Any], seen_ms: int) -> None:
        """``topic`` is the base name (no prefix); ``record`` the decoded value."""
        if topic == "events.valid":
            self.valid += 1
        elif topic == "events.deadletter":
            self.deadletter += 1
            self.deadletter_reasons[str(record.get("error_class"))] += 1
        elif topic == "labels":
            self.labels += 1
        elif topic == "label.requests":
            self.label_requests += 1
        elif topic == "predictions":
            self._prediction(record, seen_ms)
        elif topic == "drift.signals":
            self.drift_signals.append(dict(record, seen_ms=seen_ms))
        elif topic == "retrain.requests":
            self.retrain_requests.append(dict(record, seen_ms=seen_ms))
        elif topic == "models.lifecycle":
            self.lifecycle.append(dict(record, seen_ms=seen_ms))
            if record.get("action") in ("PROMOTED", "ROLLED_BACK"):
                self.champion = str(record["version"])

    def _prediction(self, record: dict[str, Any], seen_ms: int) -> None:
        if record.get("shadow"):
            self.shadow_predictions += 1
            return
        event_id = str(record["event_id"])
        version = str(record["model_version"])
        self.versions_per_event.setdefault(event_id, set()).add(version)
        if event_id in self.predictions:
            self.duplicate_predictions += 1
            return
        scored = record.get("scored_at", seen_ms)
        scored_ms = int(scored.timestamp() * 1000) if hasattr(scored, "timestamp") else int(scored)
        self.predictions[event_id] = ChampionPrediction(event_id, version, float(record["score"]),
                                                        scored_ms,
                                                        float(record.get("threshold", 0.5)))
        if self.champion is None:
            self.champion = version

    def first(self, kind: str, after_ms: int) -> dict[str, Any] | None:
        """The first concept-drift signal, retrain request, promotion or kept promotion (one
        not rolled back before the next promotion) seen at or after ``after_ms``."""
        promoted = [r for r in self.lifecycle if r.get("action") == "PROMOTED"]
        items = {"drift": [r for r in self.drift_signals if r.get("kind") == "CONCEPT"],
                 "retrain": self.retrain_requests, "promoted": promoted,
                 "kept": [r for r in promoted if not self._rolled_back(r)]}[kind]
        later = [r for r in items if r["seen_ms"] >= after_ms]
        return min(later, key=lambda r: r["seen_ms"]) if later else None

    def _rolled_back(self, promotion: dict[str, Any]) -> bool:
        later = [r for r in self.lifecycle if r["seen_ms"] > promotion["seen_ms"]
                 and r.get("action") in ("PROMOTED", "ROLLED_BACK")]
        return bool(later) and min(later, key=lambda r: r["seen_ms"])["action"] == "ROLLED_BACK"

    def events_scored_twice(self) -> int:
        """Events that two different champion versions scored (a swap that double-scored)."""
        return sum(1 for v in self.versions_per_event.values() if len(v) > 1)
