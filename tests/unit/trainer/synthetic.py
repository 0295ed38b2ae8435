"""A seeded synthetic fraud stream for trainer tests: rare positives that depend on an
interaction of two features, so an MLP can beat a logistic regression by a clear margin."""

from __future__ import annotations

import numpy as np

FEATURES = [f"f{i}" for i in range(6)]


def synthetic(n: int, seed: int = 0, start_ms: int = 1_700_000_000_000
              ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(predictions, labels) for ``n`` events, one second apart, in Avro-record shape."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    logit = -3.0 + 1.5 * x[:, 0] + 2.5 * x[:, 1] * x[:, 2] - 1.0 * x[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    predictions, labels = [], []
    for i in range(n):
        event_time = start_ms + i * 1000
        predictions.append({
            "event_id": f"e{i:06d}", "entity_id": f"c{i % 50}", "model_name": "fraud",
            "model_version": "baseline-0", "score": 0.5, "label": 0, "confidence": 0.0,
            "threshold": 0.5,
            "features": {name: float(x[i, j]) for j, name in enumerate(FEATURES)},
            "defaulted_features": [], "degraded": False, "shadow": False,
            "event_time": event_time, "scored_at": event_time, "latency_ms": 1.0,
        })
        labels.append({"event_id": f"e{i:06d}", "label": int(y[i]), "labelled_by": "sim",
                       "labelled_at": event_time + 60_000, "entity_id": None})
    return predictions, labels
