"""A training run analyses its served model's held-out errors by the cards domain's slices:
on a seeded stream whose ATM labels are coin flips, channel=ATM is the worst slice; the
analysis is in the run record and beside it (JSON and PNG), its confusion matrix is the gate's,
and ``driftloop runs --show`` prints it. The service draws the PNG once the run's lifecycle
events are out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from driftloop.cli.main import app as cli
from driftloop.contracts.domain import Domain
from driftloop.contracts.slices import Slices
from driftloop.registry import ModelRegistry, RunTracker
from services.trainer.app import Trainer
from services.trainer.example_store import ExampleStore
from services.trainer.mlp import TrainParams
from services.trainer.objective import Objective
from services.trainer.retrain_job import ANALYSIS_JSON, ANALYSIS_PNG, RetrainConfig, RetrainJob
from services.trainer.settings import TrainerSettings

CHANNELS = ("POS", "ONLINE", "ATM", "CONTACTLESS", "OTHER")


def card_like(n: int, seed: int, start_ms: int = 1_700_000_000_000
              ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(predictions, labels) logging the cards inputs the slices read; the label follows x0,
    except at ATMs, where it is a coin flip no model can learn."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n)
    channel = rng.choice(len(CHANNELS), size=n, p=[0.45, 0.2, 0.2, 0.1, 0.05])
    amount = np.round(rng.lognormal(3.5, 1.0, size=n), 2)
    risky = rng.random(n) < 0.05
    y = np.where(channel == 2, rng.random(n) < 0.5,
                 rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 3.0 * x0))))
    predictions, labels = [], []
    for i in range(n):
        t = start_ms + i * 1000
        features = {"x0": float(x0[i]), "amount": float(amount[i]),
                    "country_high_risk": float(risky[i]),
                    **{f"channel={c}": float(channel[i] == j) for j, c in enumerate(CHANNELS)}}
        predictions.append({
            "event_id": f"e{i:05d}", "entity_id": f"c{i % 40}", "model_name": "fraud",
            "model_version": "baseline-0", "score": 0.5, "label": 0, "confidence": 0.0,
            "threshold": 0.5, "features": features, "defaulted_features": [],
            "degraded": False, "shadow": False, "event_time": t, "scored_at": t,
            "latency_ms": 1.0})
        labels.append({"event_id": f"e{i:05d}", "label": int(y[i]), "labelled_by": "sim",
                       "labelled_at": t + 1000})
    return predictions, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("registry")
    store = ExampleStore(":memory:")
    predictions, labels = card_like(2000, seed=11)
    store.add_predictions(predictions)
    store.add_labels(labels)
    cards = Domain.load("cards")
    config = RetrainConfig(params=TrainParams(hidden=(16,), epochs=10, batch_size=256, seed=0),
                           min_rows=100, code_version="test", objective=Objective("accuracy"),
                           slices=Slices.from_config(cards.slices, cards.model_inputs))
    job = RetrainJob(ModelRegistry(str(root)), store, RunTracker(str(root)), config)
    outcome = job.run("fraud", reason="test", requested_by="test")
    # the record names the JSON at once; the PNG once drawn, after the lifecycle events
    recorded = RunTracker(str(root)).get("fraud", outcome.run["run_id"])["error_analysis"]
    assert list(recorded["artifacts"]) == ["json"]
    png = job.plot_errors(outcome.run)
    assert png == outcome.run["error_analysis"]["artifacts"]["png"]
    return root, outcome.run


def test_the_run_records_the_served_models_errors_by_slice(trained: tuple[Path, dict]) -> None:
    root, run = trained
    a = run["error_analysis"]
    assert a["model"] == run["model"] and a["threshold"] == run["metrics"]["threshold"]
    # the same rows, scores and threshold as the gate's metrics
    assert a["confusion_matrix"] == run["confusion_matrix"]
    assert a["rows"] == 400 and a["overall"]["roc_auc"] == pytest.approx(
        run["metrics"]["roc_auc"], abs=1e-12)
    assert list(a["slices"]) == ["channel", "country_risk", "amount_band"]
    for values in a["slices"].values():
        assert sum(g["rows"] for g in values) == 400
    # the slice made unlearnable on purpose is the worst one
    worst = a["worst_slices"]
    assert (worst[0]["slice"], worst[0]["value"]) == ("channel", "ATM"), worst
    assert worst[0]["error_rate"] > 2 * a["overall"]["error_rate"] - 0.1
    assert len(worst) == 3 and all(w["rows"] >= a["min_rows"] for w in worst)
    assert len(a["calibration"]["bins"]) == 10
    assert sum(b["count"] for b in a["calibration"]["bins"]) == 400
    errors = a["costliest_errors"]
    assert len(errors) == 10 and all(e["loss"] == 1.0 for e in errors)
    assert all(set(e["slices"]) == set(a["slices"]) for e in errors)
    # stored beside the record: the analysis as JSON and its PNG
    tracker = RunTracker(str(root))
    assert tracker.get("fraud", run["run_id"])["error_analysis"] == a
    stored = json.loads(tracker.artifact("fraud", run["run_id"], ANALYSIS_JSON))
    assert stored == {k: v for k, v in a.items() if k != "artifacts"}
    assert a["artifacts"]["json"] == str(root / "runs" / "fraud" / run["run_id"] / ANALYSIS_JSON)
    png = tracker.artifact("fraud", run["run_id"], ANALYSIS_PNG)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert a["artifacts"]["png"] == str(root / "runs" / "fraud" / run["run_id"] / ANALYSIS_PNG)
    assert [r["run_id"] for r in tracker.runs("fraud")] == [run["run_id"]]   # no artifact


def test_runs_show_prints_the_confusion_matrix_worst_slices_and_calibration(
        trained: tuple[Path, dict]) -> None:
    root, run = trained
    env = {"DRIFTLOOP_REGISTRY_URL": str(root)}
    shown = CliRunner().invoke(cli, ["runs", "--model", "fraud", "--show", run["run_id"]],
                               env=env)
    assert shown.exit_code == 0, shown.output
    (tn, fp), (fn, tp) = run["confusion_matrix"]
    lines = shown.output.splitlines()
    assert lines[lines.index(next(x for x in lines if x.startswith("confusion matrix"))) + 2] \
        .split() == ["label", "0", f"{tn:,}", f"{fp:,}"]
    worst = lines.index(next(x for x in lines if x.startswith("worst slices")))
    assert lines[worst + 1].split()[0] == "channel=ATM"
    assert len([x for x in lines[worst + 1:worst + 4] if x.startswith("  ")]) == 3
    ece = run["error_analysis"]["calibration"]["expected_calibration_error"]
    assert f"calibration error (expected, 10 score bins): {ece:.4f}" in shown.output
    assert ANALYSIS_PNG in shown.output
    full = CliRunner().invoke(cli, ["runs", "--model", "fraud", "--show", run["run_id"],
                                    "--json"], env=env)
    assert json.loads(full.output)["error_analysis"]["worst_slices"][0]["value"] == "ATM"
    unknown = CliRunner().invoke(cli, ["runs", "--model", "fraud", "--show", "nope"], env=env)
    assert unknown.exit_code != 0 and "no run nope of fraud" in unknown.output


def test_a_run_that_cannot_be_drawn_stands_without_its_picture(
        trained: tuple[Path, dict], caplog: pytest.LogCaptureFixture) -> None:
    root, run = trained
    job = RetrainJob(ModelRegistry(str(root)), ExampleStore(":memory:"), RunTracker(str(root)))
    broken = {**run, "run_id": "broken", "error_analysis": {"model": "network"}}
    assert job.plot_errors(broken) is None
    assert "run broken: error analysis not drawn" in caplog.text
    assert job.plot_errors({**run, "error_analysis": None}) is None   # an older record


class AfterPublish:
    """Stands in for the publisher: notes whether the PNG existed when the events went out."""

    def __init__(self, tracker: RunTracker, model: str) -> None:
        self.tracker, self.model, self.png_then = tracker, model, None
        self.published: list[object] = []

    async def publish_until_acked(self, records: list[object]) -> None:
        run = self.tracker.runs(self.model)[-1]
        self.png_then = "png" in run["error_analysis"]["artifacts"]
        self.published.extend(records)


async def test_the_service_draws_the_png_once_the_lifecycle_events_are_out(
        tmp_path: Path) -> None:
    trainer = Trainer(TrainerSettings(data_dir=tmp_path, trainer_min_new_labels=0,
                                      trainer_min_rows=100, trainer_epochs=3,
                                      trainer_hidden=(8,), trainer_code_version="test"))
    predictions, labels = card_like(600, seed=2)
    trainer.store.add_predictions(predictions)
    trainer.store.add_labels(labels)
    tracker = RunTracker(trainer.settings.registry_root())
    publisher = AfterPublish(tracker, trainer.model_name)
    trainer.publisher = publisher  # type: ignore[assignment]
    await trainer._train({"request_id": None, "reason": "test", "requested_by": "test"})
    assert len(publisher.published) == 2 and publisher.png_then is False
    run = tracker.runs(trainer.model_name)[-1]
    # the domain's slices (cards, the default domain) were counted
    assert set(run["error_analysis"]["slices"]) == {"channel", "country_risk", "amount_band"}
    png = tracker.artifact(trainer.model_name, run["run_id"], ANALYSIS_PNG)
    assert png.startswith(b"\x89PNG") and run["error_analysis"]["artifacts"]["png"]
    trainer.store.close()
