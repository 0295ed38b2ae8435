"""One example record per schema, used to write golden samples: the shared topics' records
are written here; a domain's event is the first event its own stream generator makes (a new
domain needs no sample here, only ``python -m tests.contract.golden_writer``)."""

from __future__ import annotations

from typing import Any

from driftloop.contracts import Domain
from driftloop.contracts.domain import domain_names
from driftloop.simulation import stream_for

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z

SAMPLES: dict[str, dict[str, Any]] = {
    "driftloop.ops.DeadLetter": {
        "original": b'{"amount": "NaN"}', "original_truncated": False,
        "error_class": "wrong_type", "reason": "amount: expected a number", "field": "amount",
        "source": "events.raw", "source_partition": 0, "source_offset": 7, "service": "ingest",
        "failed_at": T,
    },
    "driftloop.models.Prediction": {
        "event_id": "e-golden-1", "entity_id": "card-1", "model_name": "fraud",
        "model_version": "v0001", "score": 0.91, "label": 1, "confidence": 0.82,
        "threshold": 0.5, "features": {"amount": 42.5, "card_count_1h": 3.0},
        "defaulted_features": [], "degraded": False, "shadow": False, "event_time": T,
        "scored_at": T + 12, "latency_ms": 3.5,
    },
    "driftloop.models.Label": {
        "event_id": "e-golden-1", "label": 1, "labelled_by": "analyst-7", "labelled_at": T + 60_000,
        "entity_id": "card-1",
    },
    "driftloop.models.LabelRequest": {
        "event_id": "e-golden-1", "entity_id": "card-1", "reason": "LOW_CONFIDENCE",
        "score": 0.51, "model_version": "v0001", "requested_at": T + 13,
    },
    "driftloop.monitoring.DriftSignal": {
        "detector": "adwin", "kind": "CONCEPT", "subject": "error", "statistic": 0.31,
        "window_events": 900, "events_seen": 52_000, "model_name": "fraud",
        "model_version": "v0001", "detected_at": T + 3_600_000,
    },
    "driftloop.monitoring.RetrainRequest": {
        "request_id": "r-1", "model_name": "fraud", "reason": "concept drift on error",
        "requested_by": "monitor", "requested_at": T + 3_600_100, "evidence": {"signal": "adwin"},
    },
    "driftloop.models.ModelLifecycle": {
        "model_name": "fraud", "action": "PROMOTED", "version": "v0002",
        "previous_version": "v0001", "sha256": "0" * 64, "reason": "beats champion",
        "actor": "trainer", "metrics": {"roc_auc": 0.93}, "lineage": {"run_id": "run-1"},
        "at": T + 3_700_000,
    },
    "driftloop.features.RepartitionedInput": {
        "entity": "merchant", "entity_id": "m-1", "source": "events",
        "input_id": "e-golden-1", "time": T, "values": {"amount": 42.5},
    },
}


def sample_for(schema: str) -> dict[str, Any]:
    """The sample record of a schema: a shared one above, or a domain's first event."""
    if schema in SAMPLES:
        return SAMPLES[schema]
    for name in domain_names():
        domain = Domain.load(name)
        if domain.event_schema == schema:
            return stream_for(domain, seed=1, rate=100.0, start_ms=T).take(1)[0].event
    raise KeyError(f"no sample for {schema}: add one to tests/contract/samples.py or declare "
                   "it as a domain's event_schema")
