from __future__ import annotations

import json

import numpy as np
from sklearn.metrics import accuracy_score, log_loss, precision_score, recall_score, roc_auc_score

from services.monitor.live_quality import LiveQuality


def test_metrics_match_scikit_learn_over_the_window() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 3000)
    scores = np.clip(truth * 0.3 + rng.random(3000) * 0.7, 0, 1).round(2)  # ties on purpose
    decided = (scores >= 0.5).astype(int)
    q = LiveQuality(window=1000)
    for s, d, t in zip(scores, decided, truth, strict=True):
        q.add(float(s), int(d), int(t))
    m = q.metrics()
    last = slice(2000, 3000)
    assert m["n"] == 1000
    assert np.isclose(m["roc_auc"], roc_auc_score(truth[last], scores[last]))
    assert np.isclose(m["accuracy"], accuracy_score(truth[last], decided[last]))
    assert np.isclose(m["log_loss"], log_loss(truth[last], np.clip(scores[last], 1e-15, 1 - 1e-15)))
    assert np.isclose(m["precision"], precision_score(truth[last], decided[last]))
    assert np.isclose(m["recall"], recall_score(truth[last], decided[last]))
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] == 1000
    restored = LiveQuality.from_state(json.loads(json.dumps(q.to_state())))
    assert restored.metrics() == m
    assert restored.error_rate(100) == q.error_rate(100)
