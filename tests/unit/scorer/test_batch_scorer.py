"""BatchScorer with an in-memory feature source and real onnxruntime models."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from driftloop.contracts import Domain
from driftloop.contracts.model_inputs import ModelInputs
from driftloop.contracts.rule_baseline import BaselineModel
from services.scorer.batch_scorer import BatchScorer
from services.scorer.feature_source import StaticFeatures
from services.scorer.label_policy import LabelPolicy
from services.scorer.model_holder import ModelHolder
from services.scorer.onnx_model import OnnxModel
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata, nan_above_onnx

FEATURES = ["amount_count_10m", "channel=ONLINE", "amount_sum_1h"]
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def event(i: int, channel: str = "POS") -> dict[str, object]:
    return {"event_id": f"e{i}", "card_id": f"c{i % 3}", "merchant_id": "m", "amount": 10.0,
            "currency": "EUR", "merchant_category": "5411", "channel": channel,
            "country": "DE", "event_time": WHEN}


def onnx_model(version: str, weights: Sequence[float], bias: float = 0.0) -> OnnxModel:
    model = OnnxModel.from_bytes("fraud", version, logistic_onnx(weights, bias),
                                 metadata(FEATURES), FEATURES, 0.5)
    model.smoke_test()
    return model


def make(features: StaticFeatures | object, *, deadline_s: float = 0.5,
         policy: LabelPolicy | None = None) -> tuple[BatchScorer, ModelHolder]:
    domain = Domain.load("cards")
    inputs = ModelInputs.load("cards")
    holder = ModelHolder(BaselineModel.from_config("fraud", inputs.baseline))
    scorer = BatchScorer(domain, inputs, features, holder,  # type: ignore[arg-type]
                         policy or LabelPolicy(0.0, 0.0), deadline_s)
    return scorer, holder


STORE = StaticFeatures({"amount_count_10m": 0.0, "amount_sum_1h": 0.0},
                       {"c0": {"amount_count_10m": 3.0, "amount_sum_1h": 12.5},
                        "c1": {"amount_count_10m": 1.0}}, "card_id")


async def test_baseline_serves_before_any_champion() -> None:
    scorer, _ = make(STORE)
    batch = await scorer.score([event(0), event(1, "ONLINE")])
    first, second = batch.predictions
    assert first["model_version"] == second["model_version"] == "baseline-rules-1"
    # the baseline's own inputs first, then every other input available, used or not
    assert list(first["features"])[:4] == ["log_amount", "channel=ONLINE", "channel=ATM",
                                           "mcc_high_risk"]
    assert set(first["features"]) == set(ModelInputs.load("cards").names) | set(STORE.defaults)
    assert first["features"]["amount_count_10m"] == 3.0
    expected = 1 / (1 + math.exp(-(-6.0 + 0.7 * math.log1p(10.0))))
    assert first["score"] == pytest.approx(expected)
    assert second["score"] > first["score"]
    assert first["degraded"] is False and first["defaulted_features"] == []


async def test_vector_in_declared_order_with_online_features_and_defaults() -> None:
    scorer, holder = make(STORE)
    holder.set_champion(onnx_model("v0001", [0.5, 1.0, 0.1]))
    batch = await scorer.score([event(0), event(1, "ONLINE"), event(2)])
    p0, p1, p2 = batch.predictions
    used = {name: p0["features"][name] for name in FEATURES}
    assert used == {"amount_count_10m": 3.0, "channel=ONLINE": 0.0, "amount_sum_1h": 12.5}
    assert list(p0["features"])[:3] == FEATURES
    assert p0["features"]["amount"] == 10.0 and p0["features"]["channel=POS"] == 1.0
    assert {name: p1["features"][name] for name in FEATURES} == {
        "amount_count_10m": 1.0, "channel=ONLINE": 1.0, "amount_sum_1h": 0.0}
    assert p1["defaulted_features"] == ["amount_sum_1h"]
    assert p2["defaulted_features"] == ["amount_count_10m", "amount_sum_1h"]
    assert p0["score"] == pytest.approx(1 / (1 + math.exp(-(1.5 + 1.25))), abs=1e-6)
    assert p0["label"] == 1 and p0["model_version"] == "v0001" and not p0["shadow"]


async def test_challenger_scores_in_shadow() -> None:
    scorer, holder = make(STORE)
    holder.set_champion(onnx_model("v0001", [0.5, 1.0, 0.1]))
    holder.set_challenger(onnx_model("v0002", [-0.5, 0.0, 0.0]))
    batch = await scorer.score([event(0)])
    assert [p["model_version"] for p in batch.predictions] == ["v0001"]
    assert [(p["model_version"], p["shadow"]) for p in batch.shadow] == [("v0002", True)]
    holder.set_champion(onnx_model("v0002", [-0.5, 0.0, 0.0]))  # promoted: no more shadow
    assert holder.snapshot().challenger is None


async def test_swap_during_a_batch_applies_to_the_next_one() -> None:
    class SlowStore(StaticFeatures):
        async def lookup(self, entity_ids):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.05)
            return await super().lookup(entity_ids)

    scorer, holder = make(SlowStore(dict(STORE.defaults), STORE.rows, "card_id"))
    holder.set_champion(onnx_model("v0001", [0.5, 1.0, 0.1]))
    in_flight = asyncio.create_task(scorer.score([event(i) for i in range(10)]))
    await asyncio.sleep(0.01)
    holder.set_champion(onnx_model("v0002", [0.1, 0.1, 0.1]))
    first = await in_flight
    second = await scorer.score([event(i) for i in range(10)])
    assert {p["model_version"] for p in first.predictions} == {"v0001"}
    assert {p["model_version"] for p in second.predictions} == {"v0002"}


async def test_store_past_the_deadline_degrades_to_defaults() -> None:
    class StuckStore(StaticFeatures):
        async def lookup(self, entity_ids):  # type: ignore[no-untyped-def]
            await asyncio.sleep(10)

    scorer, holder = make(StuckStore(dict(STORE.defaults), {}, "card_id"), deadline_s=0.05)
    holder.set_champion(onnx_model("v0001", [0.5, 1.0, 0.1]))
    loop = asyncio.get_running_loop()
    started = loop.time()
    batch = await scorer.score([event(0)])
    assert loop.time() - started < 1.0
    (p,) = batch.predictions
    assert p["degraded"] is True
    assert p["defaulted_features"] == ["amount_count_10m", "amount_sum_1h"]
    assert p["features"]["amount_count_10m"] == 0.0


async def test_label_requests_for_low_confidence() -> None:
    scorer, holder = make(STORE, policy=LabelPolicy(low_confidence=0.5, sample_rate=0.0))
    holder.set_champion(onnx_model("v0001", [0.0, 0.0, 0.0], 0.0))  # always 0.5: unsure
    batch = await scorer.score([event(0), event(1)])
    assert batch.label_requests == [(0, "LOW_CONFIDENCE"), (1, "LOW_CONFIDENCE")]


async def test_non_finite_scores_fall_back_to_the_baseline_flagged_degraded() -> None:
    """A model NaN above 60 once served null scores. The rows it cannot score get the rule
    baseline's score at the baseline's threshold, flagged degraded; the others are untouched."""
    store = StaticFeatures(dict(STORE.defaults),
                           {**STORE.rows, "c2": {"amount_count_10m": 2.0, "amount_sum_1h": 61.0}},
                           "card_id")
    scorer, holder = make(store)
    broken = OnnxModel.from_bytes("fraud", "v0001", nan_above_onnx([0.5, 1.0, 0.1], 0.0, 60.0),
                                  metadata(FEATURES), FEATURES, 0.5)  # as if it slipped through
    holder.set_champion(broken)
    holder.set_challenger(broken)
    batch = await scorer.score([event(0), event(1), event(2), event(5)])
    baseline = 1 / (1 + math.exp(-(-6.0 + 0.7 * math.log1p(10.0))))
    assert [p["degraded"] for p in batch.predictions] == [False, False, True, True]
    assert (batch.non_finite, batch.shadow_non_finite) == (2, 2)
    for p in batch.predictions[2:] + batch.shadow[2:]:
        assert p["score"] == pytest.approx(baseline)
        assert (p["threshold"], p["label"], p["model_version"]) == (
            holder.baseline.threshold, 0, "v0001")
        assert p["features"]["amount_sum_1h"] == 61.0  # the input as the model saw it
    assert batch.predictions[0]["score"] == pytest.approx(1 / (1 + math.exp(-(1.5 + 1.25))))
    assert all(math.isfinite(p["score"]) for p in batch.predictions + batch.shadow)
