"""Live quality from a biased label sample: analysts label every event the model was unsure
of and 1 % of the rest. Weighted by 1 / propensity, the estimate is the whole stream's;
unweighted, the hard cases make the model look far worse than it serves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from services.monitor.live_quality import LiveQuality, roc_auc
from services.monitor.model_watcher import label_weight


def test_weighted_roc_auc_is_the_weighted_share_of_ordered_pairs() -> None:
    scores = np.array([0.1, 0.4, 0.4, 0.8, 0.3])
    truth = np.array([0, 1, 0, 1, 1], dtype=np.int8)
    weights = np.array([2.0, 1.0, 3.0, 0.5, 1.0])
    num = den = 0.0
    for i, j in itertools.product(range(5), range(5)):
        if truth[i] == 1 and truth[j] == 0:
            pair = weights[i] * weights[j]
            den += pair
            num += pair * (1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j]
                           else 0.0)
    assert roc_auc(scores, truth, weights) == pytest.approx(num / den, abs=1e-12)
    # unit weights: the plain Mann-Whitney statistic
    assert roc_auc(scores, truth, np.ones(5)) == roc_auc(scores, truth)


def test_selection_weights_recover_the_stream_quality_from_a_biased_sample() -> None:
    rng = np.random.default_rng(5)
    n = 200_000
    truth = (rng.random(n) < 0.3).astype(np.int8)
    # a decent model: positives score higher, with overlap near the threshold
    scores = 1 / (1 + np.exp(-(2.2 * (truth * 2 - 1) + rng.normal(0, 1.6, n))))
    threshold, unsure, audit = 0.5, 0.2, 0.01
    decided = (scores >= threshold).astype(np.int8)
    conf = np.where(scores >= threshold, (scores - threshold) / (1 - threshold),
                    (threshold - scores) / threshold)
    requested_unsure = conf < unsure
    sampled = rng.random(n) < audit
    labelled = requested_unsure | sampled
    propensity = np.where(requested_unsure, 1.0, audit)

    true_error = float(np.mean(decided != truth))
    true_auc = roc_auc(scores, truth)

    weighted, plain = LiveQuality(window=n), LiveQuality(window=n)
    for i in np.flatnonzero(labelled):
        reason = "LOW_CONFIDENCE" if requested_unsure[i] else "RANDOM_SAMPLE"
        w = label_weight({"label_reason": reason, "label_propensity": propensity[i]})
        weighted.add(float(scores[i]), int(decided[i]), int(truth[i]), w)
        plain.add(float(scores[i]), int(decided[i]), int(truth[i]))

    est_error, labels = weighted.error_rate()
    naive_error, _ = plain.error_rate()
    assert labels == int(labelled.sum())
    assert labels < n * 0.3  # most events are never labelled
    assert naive_error > true_error + 0.1  # the hard cases dominate the sample
    assert est_error == pytest.approx(true_error, abs=0.01)
    assert weighted.metrics()["roc_auc"] == pytest.approx(true_auc, abs=0.01)
    assert abs(plain.metrics()["roc_auc"] - true_auc) > 0.03


def test_unrequested_and_old_labels_weigh_one() -> None:
    assert label_weight({"label_reason": None, "label_propensity": 0.01}) == 1.0
    assert label_weight({}) == 1.0
    assert label_weight({"label_reason": "RANDOM_SAMPLE", "label_propensity": 0.01}) == 100.0
    # trimmed: a window of labels must not rest on a handful of heavy ones
    assert label_weight({"label_reason": "RANDOM_SAMPLE", "label_propensity": 0.01},
                        cap=10.0) == 10.0


def test_a_state_saved_before_weights_loads_at_weight_one() -> None:
    q = LiveQuality(window=4)
    for s, d, t in [(0.9, 1, 1), (0.2, 0, 1), (0.7, 1, 0)]:
        q.add(s, d, t, 5.0)
    state = q.to_state()
    del state["weights"]
    restored = LiveQuality.from_state(state)
    assert restored.error_rate() == (pytest.approx(2 / 3), 3)
    assert LiveQuality.from_state(q.to_state()).metrics() == q.metrics()
