"""Explanations from the serving model itself: the rule baseline's exact contributions,
integrated gradients through onnxruntime equal to them on a linear model, and within a stated
gap of the score difference on a network."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from driftloop.contracts import Domain
from driftloop.contracts.model_inputs import ModelInputs
from driftloop.contracts.rule_baseline import BaselineModel
from services.scorer.batch_scorer import BatchScorer
from services.scorer.explanations import (
    DEFAULTS,
    EXACT_LINEAR,
    INTEGRATED_GRADIENTS,
    TRAINING_MEANS,
    Explainer,
    integrated_gradients,
    onnx_logits,
    probability_logits,
)
from services.scorer.feature_source import StaticFeatures
from services.scorer.label_policy import LabelPolicy
from services.scorer.model_holder import ModelHolder
from services.scorer.onnx_model import OnnxModel
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata, mlp_onnx, nan_above_onnx

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def baseline() -> BaselineModel:
    return BaselineModel.from_config("fraud", ModelInputs.load("cards").baseline)


def onnx_model(data: bytes, features: Sequence[str], version: str = "v0001",
               **extra: object) -> OnnxModel:
    model = OnnxModel.from_bytes("fraud", version, data, {**metadata(features), **extra},
                                 features, 0.5)
    model.smoke_test()
    return model


def names(n: int) -> list[str]:
    return [f"f{i}" for i in range(n)]


def test_the_baseline_is_explained_by_its_exact_contributions() -> None:
    rule = baseline()
    assert rule.features == ("log_amount", "channel=ONLINE", "channel=ATM", "mcc_high_risk",
                             "country_high_risk")
    log_amount = float(np.float32(math.log1p(250.0)))
    inputs = {"log_amount": log_amount, "channel=ONLINE": 1.0, "channel=ATM": 0.0,
              "mcc_high_risk": 1.0, "country_high_risk": 0.0, "amount": 250.0}
    explanation = Explainer(rule, {}, k=3).explain(rule, inputs).to_dict()
    assert explanation["method"] == EXACT_LINEAR
    # weight * (x - 0), largest first; the inputs at their reference contribute nothing
    assert explanation["top"] == [
        {"feature": "log_amount", "value": log_amount, "contribution": 0.7 * log_amount},
        {"feature": "mcc_high_risk", "value": 1.0, "contribution": 1.8},
        {"feature": "channel=ONLINE", "value": 1.0, "contribution": 1.2}]
    assert explanation["reference"] == {
        "source": DEFAULTS, "score": math.exp(-6.0) / (1 + math.exp(-6.0)), "logit": -6.0,
        "values": {"log_amount": 0.0, "mcc_high_risk": 0.0, "channel=ONLINE": 0.0}}
    assert explanation["logit"] == pytest.approx(-6.0 + 0.7 * log_amount + 1.8 + 1.2,
                                                 abs=1e-12)
    assert abs(explanation["completeness_gap"]) <= 1e-12


def test_integrated_gradients_through_the_baseline_equal_its_exact_contributions() -> None:
    rule = baseline()
    x = np.asarray([math.log1p(80.0), 1.0, 0.0, 1.0, 1.0], np.float32)
    attributions, at_x, at_ref = integrated_gradients(probability_logits(rule.predict), x,
                                                      np.zeros(5, np.float32))
    exact = np.asarray(rule.weights) * x.astype(np.float64)
    assert np.abs(attributions - exact).max() <= 1e-9
    assert at_ref == pytest.approx(rule.intercept, abs=1e-12)


def test_integrated_gradients_of_a_linear_onnx_model_are_its_exact_contributions() -> None:
    # Weights and inputs on a binary grid: float32 computes every path point exactly, so what
    # is left is the method, which is exact on a linear model at any number of steps.
    weights = [0.5, -1.25, 0.75, 2.0, -0.125, 1.0]
    model = onnx_model(logistic_onnx(weights, -1.5), names(6))
    x = np.asarray([2.0, 0.5, -1.75, 1.0, 3.0, 0.25], np.float32)
    reference = np.asarray([0.25, 0.5, 0.0, -0.5, 1.0, 0.0], np.float32)  # f1 does not move
    exact = np.asarray(weights) * (x.astype(np.float64) - reference)
    for steps in (1, 7, 32):
        attributions, at_x, at_ref = integrated_gradients(onnx_logits(model), x, reference,
                                                          steps)
        assert np.abs(attributions - exact).max() <= 1e-6
        assert attributions[1] == 0.0
        assert (at_x, at_ref) == (float(np.dot(weights, x)) - 1.5,
                                  float(np.dot(weights, reference)) - 1.5)
        assert abs(attributions.sum() - (at_x - at_ref)) <= 1e-6


def test_on_any_inputs_the_linear_model_is_matched_to_float32_rounding() -> None:
    rng = np.random.default_rng(3)
    weights = rng.normal(size=12)
    model = onnx_model(logistic_onnx(weights, -2.0), names(12))
    for _ in range(5):
        x = rng.normal(0.0, 2.0, 12).astype(np.float32)
        reference = rng.normal(0.0, 1.0, 12).astype(np.float32)
        attributions, _, _ = integrated_gradients(onnx_logits(model), x, reference)
        exact = weights.astype(np.float32).astype(np.float64) * (
            x.astype(np.float64) - reference)
        # the model's own float32 sums round each logit to ~1e-7 of its size
        assert np.abs(attributions - exact).max() <= 2e-5


def test_a_network_is_explained_within_a_gap_that_shrinks_with_the_steps() -> None:
    features = names(12)
    model = onnx_model(mlp_onnx(12, seed=4), features)
    rng = np.random.default_rng(1)
    rows = (rng.lognormal(1.0, 1.2, (10, 12))
            * rng.choice([0.0, 1.0], (10, 12), p=[0.3, 0.7])).astype(np.float32)
    reference = np.zeros(12, np.float32)
    logits = onnx_logits(model)
    gaps = {}
    for steps in (8, 32, 128):
        gap = []
        for x in rows:
            attributions, at_x, at_ref = integrated_gradients(logits, x, reference, steps)
            gap.append(abs(attributions.sum() - (at_x - at_ref)))
        gaps[steps] = max(gap)
    assert gaps[32] <= 0.02  # logits, on score differences of 0.03 to 3
    assert gaps[128] < gaps[32] < gaps[8]
    alone = np.zeros(12, np.float32)
    alone[3] = 7.5  # one moving input: its differences telescope to the whole difference
    attributions, at_x, at_ref = integrated_gradients(logits, alone, reference)
    assert abs(attributions[3] - (at_x - at_ref)) <= 1e-5
    assert np.count_nonzero(attributions) == 1


def test_network_logits_come_from_the_graph_not_the_approximate_sigmoid() -> None:
    model = onnx_model(logistic_onnx([1.0, 1.0], 0.0), names(2))
    x = np.asarray([[20.0, 5.0], [0.5, 0.25]], np.float32)  # p is exactly 1.0 in float32
    assert onnx_logits(model)(x).tolist() == [25.0, 0.75]
    assert model.predict(x)[0] == 1.0


def test_the_reference_is_the_declared_defaults_else_the_training_means() -> None:
    features = ["amount", "seconds_since_last", "merchant_fraud_rate_7d"]
    defaults = {"seconds_since_last": -1.0, "merchant_fraud_rate_7d": 0.05}
    explainer = Explainer(baseline(), defaults)
    plain = onnx_model(logistic_onnx([0.1, 0.1, 0.1], 0.0), features)
    source, values = explainer.reference(plain)
    assert (source, values.tolist()) == (DEFAULTS, [0.0, -1.0, np.float32(0.05)])
    means = {"amount": 40.0, "seconds_since_last": 300.0, "merchant_fraud_rate_7d": 0.25}
    trained = onnx_model(logistic_onnx([0.1, 0.1, 0.1], 0.0), features, "v0002",
                         feature_means=means)
    source, values = explainer.reference(trained)
    assert (source, values.tolist()) == (TRAINING_MEANS, [40.0, 300.0, 0.25])
    partial = onnx_model(logistic_onnx([0.1, 0.1, 0.1], 0.0), features, "v0003",
                         feature_means={"amount": 40.0})
    assert explainer.reference(partial)[0] == DEFAULTS
    broken = onnx_model(logistic_onnx([0.1, 0.1, 0.1], 0.0), features, "v0004",
                        feature_means={"amount": "forty"})
    assert broken.feature_means is None
    explanation = explainer.explain(trained, {"amount": 140.0, "seconds_since_last": 300.0,
                                              "merchant_fraud_rate_7d": 0.25}).to_dict()
    assert explanation["method"] == INTEGRATED_GRADIENTS
    assert explanation["top"][0] == {"feature": "amount", "value": 140.0,
                                     "contribution": pytest.approx(10.0, abs=1e-4)}
    assert explanation["reference"]["values"]["amount"] == 40.0
    assert [t["contribution"] for t in explanation["top"][1:]] == [0.0, 0.0]


def test_a_row_the_model_scored_non_finite_is_explained_by_the_baseline_that_served_it(
        ) -> None:
    features = ["log_amount", "channel=ONLINE"]
    # not smoke-tested: the golden batch refuses it, yet a row past it can reach a champion
    model = OnnxModel.from_bytes("fraud", "v0001", nan_above_onnx([0.5, 1.0], -1.0, 60.0),
                                 metadata(features), features, 0.5)
    explainer = Explainer(baseline(), {})
    inputs = {"log_amount": 100.0, "channel=ONLINE": 1.0, "channel=ATM": 0.0,
              "mcc_high_risk": 0.0, "country_high_risk": 0.0}
    explanation = explainer.explain(model, inputs).to_dict()
    assert explanation["method"] == EXACT_LINEAR
    assert explanation["top"][0] == {"feature": "log_amount", "value": 100.0,
                                     "contribution": pytest.approx(70.0)}
    inputs["log_amount"] = 4.0
    assert explainer.explain(model, inputs).method == INTEGRATED_GRADIENTS


def test_what_a_version_needs_is_built_once_and_a_few_versions_are_kept() -> None:
    explainer = Explainer(baseline(), {})
    models = [onnx_model(logistic_onnx([1.0], 0.0), names(1), f"v{i:04d}") for i in range(6)]
    first = explainer.logits(models[0])
    assert explainer.logits(models[0]) is first
    for model in models[1:]:
        explainer.logits(model)
    assert explainer.logits(models[0]) is not first  # the oldest were let go
    assert explainer.logits(models[5]) is explainer.logits(models[5])


async def test_predictions_of_a_batch_are_explained_by_the_model_that_scored_them() -> None:
    features = ["amount_count_10m", "channel=ONLINE", "amount_sum_1h", "amount"]
    store = StaticFeatures({"amount_count_10m": 0.0, "amount_sum_1h": 0.0},
                           {"c0": {"amount_count_10m": 3.0, "amount_sum_1h": 12.5}}, "card_id")
    rule = baseline()
    holder = ModelHolder(rule)
    holder.set_champion(onnx_model(mlp_onnx(4, seed=2), features))
    scorer = BatchScorer(Domain.load("cards"), ModelInputs.load("cards"), store, holder,
                         LabelPolicy(0.0, 0.0))
    events = [{"event_id": f"e{i}", "card_id": f"c{i % 2}", "merchant_id": "m",
               "amount": 10.0 + 90 * i, "currency": "EUR", "merchant_category": "5411",
               "channel": "ONLINE" if i else "POS", "country": "DE", "event_time": WHEN}
              for i in range(3)]
    batch = await scorer.score(events)
    assert batch.champion is holder.snapshot().champion
    explained = Explainer(rule, store.defaults, k=4).explain_all(batch.champion,
                                                                  batch.predictions)
    for record, explanation in zip(batch.predictions, explained, strict=True):
        score = record["score"]
        # the logged inputs are the model's input exactly as scored
        assert 1 / (1 + math.exp(-explanation["logit"])) == pytest.approx(score, rel=1e-3)
        assert {t["feature"]: t["value"] for t in explanation["top"]} == {
            n: record["features"][n] for n in features}
        contributions = [abs(t["contribution"]) for t in explanation["top"]]
        assert contributions == sorted(contributions, reverse=True)
        # 32 steps from 0 to an amount of 190 through a log squash: 0.08 of a difference of 1.1
        assert abs(explanation["completeness_gap"]) <= 0.1
