"""Quality of the monitor's decisions on River's synthetic streams with known change points:
every injected drift detected within 1,000 events, no retraining on stationary streams, the
retraining loop standing down once quality is back, rollback of a worse promotion only."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest

from services.monitor.decisions import DriftFinding, RetrainDecision, RollbackDecision
from services.monitor.model_watcher import ModelWatcher
from tests.unit.monitor.synthetic import drifting

CHANGE = 5000


def batched(items: Iterable[Any], n: int) -> Iterable[list[Any]]:
    it = iter(items)  # itertools.batched is Python 3.12+
    while chunk := list(itertools.islice(it, n)):
        yield chunk


def feed(watcher: ModelWatcher, pairs: Iterable[tuple[dict[str, Any], dict[str, Any]]],
         batch: int = 500) -> list[Any]:
    out: list[Any] = []
    for chunk in batched(pairs, batch):
        preds = [p for p, _ in chunk]
        out += watcher.on_predictions(preds)
        out += watcher.on_labels([label for _, label in chunk])
        out += watcher.tick(preds[-1]["event_time"] + 1000)
    return out


@pytest.mark.parametrize(("name", "delay"), [("sea", 568), ("agrawal", 24), ("hyperplane", 152)])
def test_injected_concept_drift_is_detected_within_1000_events(name: str, delay: int) -> None:
    w = ModelWatcher()
    out = feed(w, drifting(name, 1, CHANGE, CHANGE + 1500))
    concept = [d for d in out if isinstance(d, DriftFinding) and d.kind == "CONCEPT"]
    assert concept, f"{name}: drift not detected"
    measured = concept[0].events_seen - CHANGE
    print(f"{name}: detected {measured} events after the change")
    assert measured == delay <= 1000
    requests = [d for d in out if isinstance(d, RetrainDecision)]
    assert requests and requests[0].step == 1
    assert float(requests[0].evidence["reference_error"]) < float(
        requests[0].evidence["degraded_error"])


def test_feature_and_score_drift_detected_without_labels() -> None:
    rng = np.random.default_rng(5)
    w = ModelWatcher()
    found: list[Any] = []
    for b in range(20):
        preds = []
        for i in range(500):
            n = b * 500 + i
            x = rng.normal(0, 1, 30)
            if n >= CHANGE:
                x[7] += 0.5  # feature f07 shifts by half a standard deviation
            preds.append({"event_id": f"e{n}", "model_name": "m", "model_version": "v1",
                          "score": float(1 / (1 + np.exp(-x[7]))), "label": int(x[7] > 0),
                          "features": {f"f{j:02d}": float(v) for j, v in enumerate(x)},
                          "shadow": False, "event_time": n})
        found += w.on_predictions(preds)
    subjects = {(d.kind, d.subject): d.events_seen - CHANGE for d in found}
    assert set(subjects) == {("DATA", "f07"), ("PREDICTION", "score")}
    print(f"feature and score drift detected after {subjects}")
    assert subjects == {("DATA", "f07"): 244, ("PREDICTION", "score"): 251}
    assert sorted((d.kind, d.subject) for d in found) == [("DATA", "f07"), ("PREDICTION", "score")]


def test_a_trend_is_a_few_signals_not_a_flood() -> None:
    # a window count that keeps growing after start-up: drift, but one worth a few signals
    rng = np.random.default_rng(6)
    w = ModelWatcher()
    found: list[Any] = []
    for b in range(60):
        preds = []
        for i in range(500):
            n = b * 500 + i
            x = rng.normal(0, 1, 3)
            x[1] += n / 1000  # one standard deviation more every 1,000 events
            preds.append({"event_id": f"e{n}", "model_name": "m", "model_version": "v1",
                          "score": 0.5, "label": 0, "shadow": False, "event_time": n,
                          "features": {f"f{j}": float(v) for j, v in enumerate(x)}})
        found += w.on_predictions(preds)
    trend = [d.events_seen for d in found if d.subject == "f1"]
    print(f"trend signals at {trend}")
    assert {d.subject for d in found} == {"f1"}
    assert trend == [1324, 3006, 5126, 9155, 17656]  # quiet 2, 4, 8, 16 warm-ups after each
    assert all(later - earlier >= 500 * 2 ** (k + 1) for k, (earlier, later)
               in enumerate(itertools.pairwise(trend)))


def test_no_retraining_over_50000_stationary_events() -> None:
    w = ModelWatcher()
    out = feed(w, drifting("sea", 3, 10**9, 50_000), batch=2000)
    assert [d for d in out if isinstance(d, RetrainDecision)] == []
    assert [d for d in out if isinstance(d, DriftFinding) and d.kind in ("DATA", "PREDICTION")
            ] == []


def test_retraining_loop_steps_until_quality_is_back() -> None:
    w = ModelWatcher()
    out = feed(w, drifting("agrawal", 2, CHANGE, CHANGE + 1200))
    requests = [d for d in out if isinstance(d, RetrainDecision)]
    assert [d.step for d in requests] == [1, 2]  # the cooldown (300 events here) spaces them
    # the window to learn from starts where the error rose: 9 events before the true change
    # (event 5,000 at 1 s each); ADWIN's own cut would have said 168 events before it
    assert {d.evidence["window_start_ms"] for d in requests} == {"4991000"}
    assert [d.evidence["post_change_labels"] for d in requests] == ["509", "1009"]
    # The trainer's new model: right on the new concept (the labels themselves).
    w.on_lifecycle({"model_name": "fraud", "action": "PROMOTED", "version": "v2",
                    "previous_version": "v1"})
    after = []
    for p, label in drifting("agrawal", 2, 0, 1000):
        after.append(({**p, "event_id": "n" + p["event_id"], "model_version": "v2",
                       "score": float(label["label"]), "label": label["label"],
                       "event_time": p["event_time"] + 10**7},
                      {**label, "event_id": "n" + label["event_id"]}))
    out = feed(w, after)
    recovered = [d for d in out if isinstance(d, DriftFinding) and d.subject == "recovered"]
    assert len(recovered) == 1 and recovered[0].model_version == "v2"
    assert [d for d in out if isinstance(d, RetrainDecision)] == []
    assert w.models["fraud"].retrain.episode is None


def labelled(version: str, error: float, start: int, n: int, seed: int
             ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(start, start + n):
        truth = int(rng.random() < 0.3)
        decided = truth ^ int(rng.random() < error)
        pairs.append(({"event_id": f"e{i}", "model_name": "m", "model_version": version,
                       "score": 0.8 if decided else 0.2, "label": decided, "features": {},
                       "shadow": False, "event_time": i * 1000},
                      {"event_id": f"e{i}", "label": truth, "labelled_at": i * 1000 + 10}))
    return pairs


@pytest.mark.parametrize(("new_error", "rolled_back"), [(0.25, True), (0.05, False)])
def test_rollback_only_when_the_promoted_model_is_worse(new_error: float,
                                                        rolled_back: bool) -> None:
    w = ModelWatcher()
    feed(w, labelled("v1", 0.10, 0, 2000, seed=1))
    w.on_lifecycle({"model_name": "m", "action": "PROMOTED", "version": "v2",
                    "previous_version": "v1"})
    out = feed(w, labelled("v2", new_error, 2000, 1000, seed=2))
    rollbacks = [d for d in out if isinstance(d, RollbackDecision)]
    if rolled_back:
        assert len(rollbacks) == 1
        r = rollbacks[0]
        assert (r.from_version, r.to_version) == ("v2", "v1")
        assert r.evidence["live_roc_auc"] < r.evidence["predecessor_roc_auc"] - 0.03
        assert r.reason.startswith("m v2 live ROC AUC")
    else:
        assert rollbacks == []
        assert w.models["m"].rollback.kept == 1


def test_a_promotion_that_ranks_better_is_kept_whatever_its_labelled_error() -> None:
    """The new model flags more (a low threshold): more of its labelled decisions are wrong,
    but it ranks far better than the predecessor it replaced, so it stays."""
    w = ModelWatcher()
    feed(w, labelled("v1", 0.30, 0, 2000, seed=1))  # ROC AUC about 0.70
    w.on_lifecycle({"model_name": "m", "action": "PROMOTED", "version": "v2",
                    "previous_version": "v1"})
    rng = np.random.default_rng(5)
    pairs = []
    for i in range(2000, 3000):
        truth = int(rng.random() < 0.3)
        score = float(np.clip(0.35 + 0.4 * truth + rng.normal(0, 0.12), 0, 1))
        pairs.append(({"event_id": f"e{i}", "model_name": "m", "model_version": "v2",
                       "score": score, "label": int(score >= 0.3), "features": {},
                       "shadow": False, "event_time": i * 1000},
                      {"event_id": f"e{i}", "label": truth, "labelled_at": i * 1000 + 10}))
    out = feed(w, pairs)
    assert [d for d in out if isinstance(d, RollbackDecision)] == []
    quality = w.models["m"].versions["v2"].quality
    assert quality.error_rate(500)[0] > w.models["m"].versions["v1"].quality.error_rate(500)[0]
    assert w.models["m"].rollback.kept == 1


def test_challenger_that_beats_the_champion_is_recommended_once() -> None:
    w = ModelWatcher()
    champ = labelled("v1", 0.20, 0, 1500, seed=3)
    shadow = [({**p, "model_version": "v2", "shadow": True,
                "label": label["label"], "score": 0.9 if label["label"] else 0.1}, label)
              for p, label in labelled("v1", 0.0, 0, 1500, seed=3)]
    out: list[Any] = []
    for a, b in zip(batched(champ, 500), batched(shadow, 500), strict=True):
        out += w.on_predictions([p for p, _ in a] + [p for p, _ in b])
        out += w.on_labels([label for _, label in a])
        out += w.tick(0)
    recs = [d for d in out if isinstance(d, DriftFinding) and d.detector == "challenger_policy"]
    assert len(recs) == 1 and recs[0].model_version == "v2"


def test_state_survives_a_restart_as_json() -> None:
    pairs = list(drifting("hyperplane", 4, 3000, 5000))
    whole = ModelWatcher()
    expected = feed(whole, pairs)
    first = ModelWatcher()
    got = feed(first, pairs[:2500])
    text = json.dumps(first.to_state())
    restored = ModelWatcher.from_state(json.loads(text))
    got += feed(restored, pairs[2500:])
    assert got == expected
