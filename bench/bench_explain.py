"""Explanation cost: microseconds per explained row for the card domain's rule baseline (exact
contributions) and for a network of the trainer's size and graph (the trainer's ScoringMLP on
the domain's 42 inputs, hidden 64x64, trained briefly on seeded rows, exported by the trainer's
exporter) explained by integrated gradients, beside plain onnxruntime inference of the same row
(the anchor), all in one run. Also the integrated-gradients batch through plain onnxruntime
(what the method must pay at least), the first explanation of a version (it builds the logit
session), and the completeness gap on the same rows."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.anchors import Figure, print_figures
from driftloop.contracts.model_inputs import ModelInputs
from driftloop.contracts.rule_baseline import BaselineModel
from driftloop.featurestore import FeatureDeclarations, FeatureStoreSettings
from services.scorer.explanations import STEPS, Explainer
from services.scorer.onnx_model import OnnxModel
from services.trainer.mlp import TrainParams, train_mlp
from services.trainer.onnx_artifact import INPUT_NAME, OUTPUT_NAME, export_onnx
from services.trainer.settings import TrainerSettings
from services.trainer.training_set import TrainingSet

DOMAIN = "cards"
TRAIN_ROWS = 5000
ROWS = 50          # rows explained per round
ROUNDS = 5         # figures are the median of the rounds' means, rounds interleaved


def inputs_and_defaults() -> tuple[list[str], dict[str, float]]:
    """The inputs a trained card model takes (the trainer sorts them) and their defaults."""
    service = FeatureDeclarations.load().service(
        FeatureStoreSettings(domain=DOMAIN).service_name())  # type: ignore[call-arg]
    defaults = {f.name: f.default for f in service.features}
    return sorted(set(ModelInputs.load(DOMAIN).names) | set(defaults)), defaults


def rows(names: list[str], n: int, seed: int = 0) -> np.ndarray:
    """Seeded rows of card-like magnitudes: indicators 0/1, hours 0-23, rates in [0, 1],
    seconds since the last event (or -1), and heavy-tailed counts, sums and amounts (a
    third of them 0, as for a card seen for the first time)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, len(names)), np.float32)
    for j, name in enumerate(names):
        if "=" in name or name.endswith("high_risk"):
            out[:, j] = rng.random(n) < 0.2
        elif name == "hour_of_day":
            out[:, j] = rng.integers(0, 24, n)
        elif name.endswith("rate_7d"):
            out[:, j] = rng.beta(1, 15, n)
        elif name.startswith("seconds_since_last"):
            out[:, j] = np.where(rng.random(n) < 0.2, -1.0, rng.exponential(3600.0, n))
        elif name == "log_amount":
            out[:, j] = np.log1p(rng.lognormal(3.5, 1.2, n))
        else:
            out[:, j] = rng.lognormal(2.5, 1.5, n) * (rng.random(n) < 0.67)
    return out


def network(names: list[str], x: np.ndarray) -> OnnxModel:
    """The trainer's network on ``x`` with a seeded, non-linear label, as the scorer loads it."""
    rng = np.random.default_rng(1)
    z = np.log1p(np.abs(x))
    logit = (-3.0 + 0.8 * z[:, 0] - 0.6 * z[:, 1] + 0.5 * z[:, 2] * z[:, 3]
             + rng.normal(0, 0.5, len(x)))
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    data = TrainingSet(names, x, y, np.arange(len(x), dtype=np.int64),
                       [f"e{i}" for i in range(len(x))])
    params = TrainParams(hidden=TrainerSettings().trainer_hidden, epochs=5, seed=0)
    result = train_mlp(data, params)
    onnx_bytes = export_onnx(result.model, len(names))
    model = OnnxModel.from_bytes("fraud", "bench", onnx_bytes,
                                 {"input_name": INPUT_NAME, "output_name": OUTPUT_NAME},
                                 names, result.threshold)
    model.smoke_test()
    return model


def per_row_us(work: Callable[[int], object], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        work(i)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    names, defaults = inputs_and_defaults()
    train = rows(names, TRAIN_ROWS, seed=0)
    print(f"{DOMAIN}: {len(names)} inputs, network hidden {TrainerSettings().trainer_hidden}, "
          f"{STEPS} steps; {ROWS} rows x {ROUNDS} rounds")
    baseline = BaselineModel.from_config("fraud", ModelInputs.load(DOMAIN).baseline)
    model = network(names, train)
    explainer = Explainer(baseline, defaults)
    x = rows(names, ROWS, seed=2)
    logged = [dict(zip(names, r.tolist(), strict=True)) for r in x]
    single = [np.ascontiguousarray(r[None]) for r in x]
    session, feed, fetch = model.session, model.input_name, [model.output_name]

    started = time.perf_counter()
    explainer.explain(model, logged[0])  # the first one builds the logit session
    first_ms = (time.perf_counter() - started) * 1000
    # the integrated-gradients batch of each row, as the explainer builds it, for the anchor
    moving = [int(np.count_nonzero(r - np.asarray([defaults.get(n, 0.0) for n in names],
                                                  np.float32))) for r in x]
    batches = [np.zeros((2 + 2 * STEPS * k, len(names)), np.float32) + r for k, r in
               zip(moving, x, strict=True)]

    figures: dict[str, list[float]] = {k: [] for k in ("plain", "rule", "ig", "ig_plain")}
    for _ in range(ROUNDS):
        figures["plain"].append(per_row_us(lambda i: session.run(fetch, {feed: single[i]}), ROWS))
        figures["rule"].append(per_row_us(lambda i: explainer.explain(baseline, logged[i]), ROWS))
        figures["ig"].append(per_row_us(lambda i: explainer.explain(model, logged[i]), ROWS))
        figures["ig_plain"].append(per_row_us(
            lambda i: session.run(fetch, {feed: batches[i]}), ROWS))
    med = {k: statistics.median(v) for k, v in figures.items()}
    print_figures([
        Figure("rule baseline: exact contributions (/ row)", med["rule"], med["plain"], "µs"),
        Figure(f"network: integrated gradients, {STEPS} steps (/ row)", med["ig"],
               med["plain"], "µs"),
        Figure("network: its IG batch, plain onnxruntime (/ row)", med["ig_plain"],
               med["plain"], "µs"),
    ])
    print(f"anchor: plain onnxruntime inference of the same row, {med['plain']:,.0f} µs; "
          f"inputs moving from the reference: median {statistics.median(moving):.0f} of "
          f"{len(names)} ({statistics.median(moving) * 2 * STEPS + 2:,.0f} rows a batch); "
          f"first explanation of a version (builds its logit session): {first_ms:,.1f} ms")

    print(f"{'steps':>5} {'µs / row':>9} {'median |gap|':>13} {'max |gap|':>10} "
          f"{'median |gap| / |logit - ref logit|':>36}")
    for steps in (8, 16, STEPS, 64):
        sized = Explainer(baseline, defaults, steps=steps)
        explained = [sized.explain(model, row) for row in logged]
        us = statistics.median(per_row_us(lambda i: sized.explain(model, logged[i]), ROWS)
                               for _ in range(3))
        gaps = np.asarray([abs(e.completeness_gap) for e in explained])
        spans = np.asarray([abs(e.logit - e.reference_logit) for e in explained])
        print(f"{steps:>5} {us:>9,.0f} {np.median(gaps):>13.4f} {gaps.max():>10.4f} "
              f"{np.median(gaps / np.maximum(spans, 1e-9)):>36.3f}")


if __name__ == "__main__":
    main()
