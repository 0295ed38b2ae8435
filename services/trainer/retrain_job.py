"""One retraining run, start to finish, with no Kafka in sight: select the labelled examples,
split by time, train the network and the baseline, export both, check ONNX against PyTorch,
gate on the same held-out rows (the network against the baseline, the better of them against
the champion), analyse the served model's errors on them (per slice, calibration, costliest),
register the candidate, promote or reject it, record the run. The service,
`driftloop train --local` and the benchmark all call ``RetrainJob.run``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from driftloop.contracts.rule_baseline import BaselineModel
from driftloop.contracts.slices import Slices
from driftloop.registry import (
    IntegrityError,
    ModelRegistry,
    ModelVersion,
    lifecycle_record,
)
from driftloop.registry.run_tracker import RunTracker, git_code_version, new_run_id
from services.trainer.background_run import RunCancelled
from services.trainer.baseline import BaselineResult, train_baseline
from services.trainer.error_analysis import analyse
from services.trainer.error_plot import render_png
from services.trainer.example_store import Example, ExampleStore, Marks
from services.trainer.feature_maturity import immature
from services.trainer.gate import BASELINE, Gate, GateDecision, confusion_matrix, evaluate
from services.trainer.mlp import TrainParams, TrainResult, pick_device, train_mlp
from services.trainer.objective import Objective
from services.trainer.onnx_artifact import (
    INPUT_NAME,
    OUTPUT_NAME,
    check_parity,
    export_onnx,
    score_onnx,
)
from services.trainer.training_set import TrainingDataError, TrainingSet

log = logging.getLogger("driftloop.trainer")


@dataclass(frozen=True)
class RetrainConfig:
    params: TrainParams = field(default_factory=TrainParams)
    holdout_fraction: float = 0.2
    min_rows: int = 200
    gate: Gate = field(default_factory=Gate)
    actor: str = "trainer"
    code_version: str | None = None  # None: from git
    # what a decision is worth (the domain's "objective"): every threshold is its best cut
    objective: Objective = field(default_factory=Objective)
    # the domain's declared rule: the standard a first model must beat (no champion yet)
    rule: BaselineModel | None = None
    # growing windowed aggregates (name -> window s): left out until the history covers them
    growing_windows: Mapping[str, int] = field(default_factory=dict)
    # the domain's slices: the error analysis counts the held-out errors by them
    slices: Slices = field(default_factory=Slices)


#: the error analysis of a run, beside its record (RunTracker artifacts)
ANALYSIS_JSON = "error_analysis.json"
ANALYSIS_PNG = "error_analysis.png"


@dataclass(frozen=True)
class RetrainOutcome:
    run: dict[str, Any]
    version: ModelVersion
    decision: GateDecision
    lifecycle: list[dict[str, Any]]  # ModelLifecycle records to publish, in order


def warm_up() -> None:
    """Train, export and score a toy model once. The first run in a process otherwise pays
    for torch's lazy imports (AdamW pulls in torch._dynamo; the ONNX exporter and
    onnxruntime load on first use): 4.4 of the 4.9 s of a first run on 5,000 rows, against
    0.5 s for the second. The service calls this in a worker thread at start."""
    x = np.linspace(-1.0, 1.0, 32, dtype=np.float32).reshape(16, 2)
    y = (x[:, 0] > 0).astype(np.float32)
    toy = TrainingSet(["a", "b"], x, y, np.arange(16, dtype=np.int64),
                      [str(i) for i in range(16)])
    result = train_mlp(toy, TrainParams(hidden=(2,), epochs=1, batch_size=8),
                       torch.device("cpu"))
    score_onnx(export_onnx(result.model, 2), x)


class RetrainJob:
    def __init__(self, registry: ModelRegistry, store: ExampleStore, tracker: RunTracker,
                 config: RetrainConfig | None = None,
                 device: torch.device | None = None) -> None:
        self.registry = registry
        self.store = store
        self.tracker = tracker
        self.config = config or RetrainConfig()
        self.device = device

    def shortage(self, rows: int, since_ms: int) -> str | None:
        """Why ``rows`` labelled examples are too few to train on, or None."""
        if rows >= self.config.min_rows:
            return None
        since = f" since event time {since_ms}" if since_ms else ""
        return f"{rows} labelled examples{since}; at least {self.config.min_rows} are needed"

    def dataset(self, marks: Marks) -> tuple[TrainingSet, dict[str, str]]:
        """The run's rows, and the features left out of it with why (feature_maturity)."""
        _, data, left_out = self._load(marks)
        return data, left_out

    def _load(self, marks: Marks) -> tuple[list[Example], TrainingSet, dict[str, str]]:
        """The examples (as logged: the slices are read from them), their training set and
        the features left out."""
        examples = self.store.examples(marks)
        data = TrainingSet.from_examples(examples)
        if (short := self.shortage(len(data), marks.since_ms)) is not None:
            raise TrainingDataError(short)
        history_start = self.store.first_event_time()
        left_out = immature(data.features, self.config.growing_windows,
                            history_start_ms=int(data.event_time[0]) if history_start is None
                            else history_start, first_row_ms=int(data.event_time[0]))
        if left_out:
            data = TrainingSet.from_examples(
                examples, [f for f in data.features if f not in left_out])
        return examples, data, left_out

    def run(self, model_name: str, *, reason: str, requested_by: str,
            request_id: str | None = None, marks: Marks | None = None,
            should_stop: Callable[[], bool] | None = None) -> RetrainOutcome:
        """Train, gate, register. ``should_stop`` is polled during training and before the
        registry is touched: a cancelled run (RunCancelled) leaves nothing behind."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        run_id = new_run_id()
        marks = marks or self.store.marks()
        cfg = self.config

        t = time.perf_counter()
        examples, data, left_out = self._load(marks)
        train, holdout = data.split_by_time(cfg.holdout_fraction)
        digest = data.digest()
        timings["data_s"] = time.perf_counter() - t

        t = time.perf_counter()
        result = train_mlp(train, cfg.params, self.device or pick_device(), should_stop,
                           cfg.objective)
        base = train_baseline(train, cfg.params.seed, cfg.objective)
        timings["train_s"] = time.perf_counter() - t

        t = time.perf_counter()
        onnx_bytes = export_onnx(result.model, len(data.features))
        parity = check_parity(result.model, onnx_bytes, holdout.x)
        base_onnx = export_onnx(base.model, len(data.features))
        check_parity(base.model, base_onnx, holdout.x)
        timings["export_s"] = time.perf_counter() - t

        t = time.perf_counter()
        # judged on what will be served: the ONNX scores, not PyTorch's
        network_scores = score_onnx(onnx_bytes, holdout.x)
        baseline_scores = score_onnx(base_onnx, holdout.x)
        candidate = evaluate(holdout.y, network_scores, result.threshold, cfg.objective)
        baseline = evaluate(holdout.y, baseline_scores, base.threshold, cfg.objective)
        champion, champion_metrics, notes = self._score_champion(model_name, holdout)
        standard = champion.version if champion else None
        if champion is None and cfg.rule is not None:
            # no champion yet: the declared rule serves, and a model must beat what it replaces
            standard = cfg.rule.version
            champion_metrics = evaluate(holdout.y, cfg.rule.predict(
                holdout.columns(cfg.rule.features)), cfg.rule.threshold, cfg.objective)
        decision = cfg.gate.decide(candidate, baseline, champion_metrics, standard, notes)
        served, served_onnx, served_scores = (
            (base, base_onnx, baseline_scores) if decision.model == BASELINE
            else (result, onnx_bytes, network_scores))
        timings["gate_s"] = time.perf_counter() - t

        t = time.perf_counter()
        analysis = self._analyse(decision.model, examples, holdout, served_scores,
                                 served.threshold)
        timings["analysis_s"] = time.perf_counter() - t

        if should_stop is not None and should_stop():
            raise RunCancelled("stopped before registering")
        duration = time.perf_counter() - started
        parent = champion.version if champion else None
        lineage: dict[str, Any] = {
            "run_id": run_id,
            "request_id": request_id,
            "requested_by": requested_by,
            "request_reason": reason,
            "data_digest": digest,
            "rows": len(data),
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "positives": data.positives,
            "window_since_ms": marks.since_ms,
            "label_window_start": int(data.event_time[0]),
            "label_window_end": int(data.event_time[-1]),
            "holdout_start": int(holdout.event_time[0]),
            "prediction_seq": marks.prediction_seq,
            "label_seq": marks.label_seq,
            "code_version": cfg.code_version or git_code_version(),
            "device": result.device,
            "duration_s": round(duration, 3),
            "parent_champion": parent,
            "features_left_out": left_out,
        }
        metadata = {
            "features": data.features,
            "input_name": INPUT_NAME,
            "output_name": OUTPUT_NAME,
            "model": decision.model,
            "threshold": served.threshold,
            "objective": cfg.objective.to_dict(),
            "metrics": decision.metrics,
            "confusion_matrix": confusion_matrix(decision.metrics),
            "gate": decision.to_dict(),
            "status": "PROMOTED" if decision.promote else "REJECTED",
            "params": cfg.params.to_dict(),
            "training": {"network_metrics": candidate, "epochs_run": result.epochs_run,
                         "best_epoch": result.best_epoch, "val_loss": result.val_loss,
                         "pos_weight": result.pos_weight,
                         "onnx_parity_max_abs_diff": parity},
            "lineage": lineage,
        }
        mv = self.registry.register(model_name, served_onnx, metadata)
        records = [lifecycle_record("TRAINED", mv, previous=parent,
                                    reason=f"trained: {reason}", actor=cfg.actor)]
        if decision.promote:
            previous = self.registry.promote(model_name, mv.version, decision.reason, cfg.actor)
            records.append(lifecycle_record(
                "PROMOTED", mv, previous=previous.version if previous else None,
                reason=decision.reason, actor=cfg.actor))
        else:
            self.registry.record_event(model_name, "REJECTED", mv.version,
                                       reason=decision.reason, actor=cfg.actor)
            records.append(lifecycle_record(
                "REJECTED", mv, previous=parent, reason=decision.reason,
                actor=cfg.actor))
        timings["total_s"] = time.perf_counter() - started
        run = {
            "run_id": run_id,
            "model_name": model_name,
            "version": mv.version,
            "status": metadata["status"],
            "reason": decision.reason,
            "model": decision.model,
            "params": cfg.params.to_dict(),
            "holdout_fraction": cfg.holdout_fraction,
            "gate": {"metric": cfg.gate.metric, "margin": cfg.gate.margin},
            "marks": {"prediction_seq": marks.prediction_seq, "label_seq": marks.label_seq,
                      "since_ms": marks.since_ms},
            "data_digest": digest,
            "rows": len(data),
            "code_version": lineage["code_version"],
            "metrics": decision.metrics,
            "network_metrics": candidate,
            "baseline_metrics": baseline,
            "champion_metrics": champion_metrics,
            "confusion_matrix": metadata["confusion_matrix"],
            "device": result.device,
            "duration_s": timings["total_s"],
            "timings": timings,
            "request_id": request_id,
            "requested_by": requested_by,
            "started_at": run_id.split("-")[0],
            "error_analysis": analysis,
        }
        # the artifact first: a record never names a file that is not there (the PNG is
        # drawn after the run, by plot_errors)
        analysis["artifacts"] = {
            "json": self.tracker.save_artifact(model_name, run_id, ANALYSIS_JSON, json.dumps(
                analysis, indent=2, sort_keys=True).encode())}
        self.tracker.save(run)
        log.info("run %s: %s %s (%s) in %.1fs", run_id, mv.version, run["status"],
                 decision.reason, timings["total_s"])
        return RetrainOutcome(run, mv, decision, records)

    def _analyse(self, model: str, examples: list[Example], holdout: TrainingSet,
                 scores: np.ndarray, threshold: float) -> dict[str, Any]:
        """The served model's error analysis on the held-out rows, slices read from the
        inputs each row's prediction logged."""
        slices = self.config.slices
        logged = {e.event_id: e.features for e in examples}
        analysis = analyse(holdout.y, scores, threshold, objective=self.config.objective,
                           slices=[slices.of_inputs(logged[i]) for i in holdout.event_ids],
                           groups=slices.groups(), event_ids=holdout.event_ids)
        analysis["model"] = model
        return analysis

    def plot_errors(self, run: dict[str, Any]) -> str | None:
        """Draw a run's error analysis as a PNG beside its record, and name it there; returns
        where it is, or None when drawing failed (logged: the run stands without its
        picture). Called once the run's lifecycle events are out, so the 0.5-3 s matplotlib
        takes (its import on the first call) never delays a promotion."""
        analysis = run.get("error_analysis")
        if not analysis:
            return None
        name, run_id = run["model_name"], run["run_id"]
        try:
            png = render_png(analysis, f"{name} {run['version']} (run {run_id}): the "
                             f"{analysis['model']}'s held-out errors")
            location = self.tracker.save_artifact(name, run_id, ANALYSIS_PNG, png)
            analysis["artifacts"]["png"] = location
            self.tracker.save(run)
        except Exception:
            # a report, not the run: a matplotlib or storage failure must not fail it
            log.exception("run %s: error analysis not drawn", run_id)
            return None
        return location

    def _score_champion(self, model_name: str, holdout: TrainingSet
                        ) -> tuple[ModelVersion | None, dict[str, float] | None, list[str]]:
        """The champion's metrics on the same held-out rows, by its own ONNX and features."""
        champion = self.registry.alias(model_name, "champion")
        if champion is None:
            return None, None, []
        try:
            onnx_bytes = self.registry.load_onnx(champion)
        except IntegrityError as exc:
            # a tampered champion is no standard to meet; the baseline still is
            return None, None, [f"champion {champion.version} not compared: {exc}"]
        missing = [f for f in champion.features if f not in holdout.features]
        notes = [f"champion features absent from the data, scored as 0.0: {missing}"] \
            if missing else []
        scores = score_onnx(onnx_bytes, holdout.columns(champion.features),
                            champion.input_name, champion.output_name)
        return champion, evaluate(holdout.y, scores, champion.threshold,
                                  self.config.objective), notes

    def reproduce(self, run: dict[str, Any]) -> dict[str, Any]:
        """Retrain from a run record (same rows by their marks, same parameters) without
        registering; returns the digest and metrics to compare with the record's."""
        marks = Marks(int(run["marks"]["prediction_seq"]), int(run["marks"]["label_seq"]),
                      int(run["marks"].get("since_ms", 0)))
        data, _ = self.dataset(marks)
        train, holdout = data.split_by_time(float(run["holdout_fraction"]))
        params = TrainParams.from_dict(run["params"])
        trained: TrainResult | BaselineResult = (
            train_baseline(train, params.seed, self.config.objective)
            if run.get("model") == BASELINE
            else train_mlp(train, params, self.device or pick_device(),
                           objective=self.config.objective))
        onnx_bytes = export_onnx(trained.model, len(data.features))
        metrics = evaluate(holdout.y, score_onnx(onnx_bytes, holdout.x), trained.threshold,
                           self.config.objective)
        return {"data_digest": data.digest(), "metrics": metrics,
                "digest_matches": data.digest() == run["data_digest"],
                "max_metric_diff": max(abs(metrics[k] - float(run["metrics"][k]))
                                       for k in metrics if k in run["metrics"])}
