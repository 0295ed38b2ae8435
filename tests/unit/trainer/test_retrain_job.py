"""Training, export and the gate with real torch, onnxruntime and scikit-learn, seeded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftloop.contracts.rule_baseline import BaselineModel
from driftloop.registry import ModelRegistry, RunTracker
from services.trainer.example_store import ExampleStore
from services.trainer.gate import Gate, evaluate
from services.trainer.mlp import TrainParams, train_mlp
from services.trainer.objective import Objective
from services.trainer.onnx_artifact import check_parity, export_onnx, score_onnx
from services.trainer.retrain_job import RetrainConfig, RetrainJob
from services.trainer.training_set import TrainingDataError, TrainingSet
from tests.unit.trainer.synthetic import synthetic

FAST = TrainParams(epochs=15, batch_size=256, seed=7)


@pytest.fixture(scope="module")
def store() -> ExampleStore:
    s = ExampleStore(":memory:")
    predictions, labels = synthetic(3000, seed=1)
    s.add_predictions(predictions)
    s.add_labels(labels)
    return s


def test_training_is_deterministic_and_onnx_matches_pytorch(store: ExampleStore) -> None:
    data = TrainingSet.from_examples(store.examples())
    train, holdout = data.split_by_time(0.2)
    first = train_mlp(train, FAST, torch.device("cpu"))
    second = train_mlp(train, FAST, torch.device("cpu"))
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert first.threshold == second.threshold
    onnx_bytes = export_onnx(first.model, len(data.features))
    assert check_parity(first.model, onnx_bytes, holdout.x) <= 1e-4
    # raw features in, probabilities out: normalisation is inside the graph
    scores = score_onnx(onnx_bytes, holdout.x)
    assert scores.shape == (len(holdout),) and 0 <= scores.min() and scores.max() <= 1


def test_gate_metrics_and_decisions() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.6, 0.7, 0.4, 0.2, 0.9])
    m = evaluate(y, p, 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 2)
    assert m["roc_auc"] == pytest.approx(8 / 9)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    gate = Gate("roc_auc", 0.01)
    assert gate.decide({"roc_auc": 0.9}, {"roc_auc": 0.8}).promote
    no = gate.decide({"roc_auc": 0.9}, {"roc_auc": 0.8}, {"roc_auc": 0.895}, "v0001")
    assert not no.promote
    assert no.reason == "does not beat: roc_auc 0.9000 < champion v0001 0.8950 + 0.01"
    assert Objective("f1").threshold(np.array([0.1, 0.8, 0.6]), np.array([0, 1, 1])) == 0.35
    # a network that cannot beat the baseline is not the candidate: the baseline is
    base = gate.decide({"roc_auc": 0.85}, {"roc_auc": 0.855}, {"roc_auc": 0.70}, "v0002")
    assert base.promote and base.model == "baseline" and base.metrics == {"roc_auc": 0.855}
    assert base.reason == ("baseline promoted: network roc_auc 0.8500 < baseline 0.8550 + 0.01:"
                           " the baseline is the candidate; baseline roc_auc 0.8550 >= champion"
                           " v0002 0.7000 + 0.01")
    neither = gate.decide({"roc_auc": 0.85}, {"roc_auc": 0.855}, {"roc_auc": 0.86}, "v0002")
    assert not neither.promote and neither.model == "baseline"
    assert neither.reason.startswith("does not beat: network roc_auc 0.8500 < baseline")
    first = gate.decide({"roc_auc": 0.85}, {"roc_auc": 0.855})
    assert first.promote and first.model == "baseline" and first.reason.endswith("no champion yet")


def test_gate_promotes_better_rejects_worse_and_runs_reproduce(
        store: ExampleStore, tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path))
    tracker = RunTracker(str(tmp_path))
    config = RetrainConfig(params=FAST, min_rows=100, gate=Gate("roc_auc", 0.01),
                           code_version="test")
    weak_net = replace(FAST, epochs=1, lr=1e-5, hidden=(2,))
    weak = RetrainJob(registry, store, tracker,
                      replace(config, params=weak_net, gate=Gate("roc_auc", -1.0)))
    first = weak.run("fraud", reason="seed a weak champion", requested_by="test")
    assert first.run["status"] == "PROMOTED"     # a margin of -1 lets anything in
    assert first.run["model"] == "network"

    # A network that cannot beat the baseline is not served; the baseline, far better than
    # the weak champion, is.
    fallback = RetrainJob(registry, store, tracker, replace(config, params=weak_net)).run(
        "fraud", reason="the champion is weak", requested_by="monitor")
    assert fallback.decision.promote and fallback.decision.model == "baseline"
    assert fallback.decision.reason.startswith("baseline promoted: network roc_auc")
    assert "the baseline is the candidate; baseline roc_auc" in fallback.decision.reason
    assert fallback.version.metadata["metrics"] == fallback.decision.baseline
    assert registry.alias("fraud", "champion") == fallback.version
    # the registered graph is the scikit-learn model itself
    data = TrainingSet.from_examples(store.examples())
    train, holdout = data.split_by_time(0.2)
    sklearn = make_pipeline(StandardScaler(), LogisticRegression(
        class_weight="balanced", max_iter=1000, random_state=FAST.seed)).fit(train.x, train.y)
    served = score_onnx(registry.load_onnx(fallback.version), holdout.x)
    assert np.max(np.abs(served - sklearn.predict_proba(holdout.x)[:, 1])) < 1e-5
    assert fallback.version.metadata["metrics"]["roc_auc"] == pytest.approx(
        roc_auc_score(holdout.y, served))

    good = RetrainJob(registry, store, tracker, config)
    better = good.run("fraud", reason="drift", requested_by="monitor", request_id="req-42")
    assert better.decision.promote, better.decision.reason
    assert better.decision.reason.startswith("beats roc_auc")
    assert "champion v0002" in better.decision.reason
    assert registry.alias("fraud", "champion") == better.version
    assert [r["action"] for r in better.lifecycle] == ["TRAINED", "PROMOTED"]
    promoted = better.lifecycle[1]
    assert (promoted["version"], promoted["previous_version"]) == ("v0003", "v0002")
    assert promoted["lineage"]["request_id"] == "req-42"
    assert promoted["lineage"]["parent_champion"] == "v0002"
    meta = better.version.metadata
    assert meta["model"] == "network" and meta["metrics"] == better.decision.candidate
    assert meta["features"] == [f"f{i}" for i in range(6)]
    assert meta["lineage"]["rows"] == 3000 and meta["lineage"]["holdout_rows"] == 600
    assert meta["training"]["onnx_parity_max_abs_diff"] <= 1e-4
    assert sum(map(sum, meta["confusion_matrix"])) == 600

    same = good.run("fraud", reason="by hand", requested_by="cli")  # ties its own champion
    assert not same.decision.promote
    assert same.decision.reason.startswith("does not beat: roc_auc")
    assert "< champion v0003" in same.decision.reason
    assert [r["action"] for r in same.lifecycle] == ["TRAINED", "REJECTED"]
    assert registry.alias("fraud", "champion") == better.version   # unchanged
    assert registry.history("fraud")[-1]["action"] == "REJECTED"
    assert registry.get("fraud", "v0004").metadata["status"] == "REJECTED"

    runs = tracker.runs("fraud")
    assert [r["status"] for r in runs] == ["PROMOTED", "PROMOTED", "PROMOTED", "REJECTED"]
    again = good.reproduce(tracker.get("fraud", better.run["run_id"]))
    assert again["digest_matches"] and again["max_metric_diff"] == 0.0
    again = good.reproduce(tracker.get("fraud", fallback.run["run_id"]))  # the baseline's run
    assert again["digest_matches"] and again["max_metric_diff"] == 0.0

    with pytest.raises(TrainingDataError):
        RetrainJob(registry, store, tracker, replace(config, min_rows=10_000)).run(
            "fraud", reason="x", requested_by="test")


def test_a_first_model_must_beat_the_declared_rule_and_growing_windows_wait(
        store: ExampleStore, tmp_path: Path) -> None:
    noise_rule = BaselineModel.from_config("fraud", {"version": "baseline-rules-t",
                                                     "weights": {"f4": 1.0}})
    config = RetrainConfig(params=FAST, min_rows=100, gate=Gate("roc_auc", 0.01),
                           code_version="test", rule=noise_rule,
                           objective=Objective("accuracy"),
                           growing_windows={"f4": 60, "f5": 86_400})
    registry = ModelRegistry(str(tmp_path))
    job = RetrainJob(registry, store, RunTracker(str(tmp_path)), config)
    # the rule is the standard while no champion exists: a wide margin cannot be met
    strict = RetrainJob(registry, store, RunTracker(str(tmp_path)),
                        replace(config, gate=Gate("roc_auc", 0.6)))
    refused = strict.run("fraud", reason="first model", requested_by="test")
    assert not refused.decision.promote
    assert "champion baseline-rules-t" in refused.decision.reason
    assert registry.alias("fraud", "champion") is None   # the rule keeps serving
    assert set(refused.version.metadata["lineage"]["features_left_out"]) == {"f4", "f5"}
    # rows from 120 s into the history: f4's 60 s window is full by then, f5's is not
    first = job.run("fraud", reason="first model", requested_by="test",
                    marks=store.marks().since(1_700_000_000_000 + 120_000))
    assert first.decision.promote and "champion baseline-rules-t" in first.decision.reason
    meta = first.version.metadata
    assert meta["features"] == ["f0", "f1", "f2", "f3", "f4"]
    assert list(meta["lineage"]["features_left_out"]) == ["f5"]
    assert meta["objective"] == {"kind": "accuracy"}
    assert meta["metrics"]["objective"] == pytest.approx(
        (meta["metrics"]["tp"] + meta["metrics"]["tn"]) / meta["metrics"]["rows"])
    assert job.reproduce(tracker_run(tmp_path, first.run["run_id"]))["digest_matches"]


def tracker_run(root: Path, run_id: str) -> dict:
    return next(r for r in RunTracker(str(root)).runs("fraud") if r["run_id"] == run_id)
