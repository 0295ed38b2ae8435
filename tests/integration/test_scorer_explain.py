"""POST /predict?explain=true against the real broker, real Redis, the real model registry and
real onnxruntime: the rule baseline's exact contributions before any champion, then a
promoted ONNX model's integrated gradients, equal to its exact contributions (it is linear)."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from driftloop.registry import ModelRegistry, lifecycle_record
from tests.integration.test_scorer import (
    FEATURES,
    event,
    feature_client,
    online_values,
    publish_lifecycle,
    running,
    settings_for,
    write_features,
)
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata

WEIGHTS = [0.2, 0.5, 1.0, -0.01]
BIAS = -2.0


async def test_predict_explains_on_request_only(kafka_bootstrap: str, redis_url: str,
                                                topic_prefix: str, tmp_path: Path) -> None:
    await write_features(redis_url)
    registry = ModelRegistry(str(tmp_path / "registry"))
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    events = [event(7), event(9, channel="ONLINE", amount=900.0)]
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        plain = (await client.post("/predict", json=events)).json()["predictions"]
        assert all("explanation" not in p for p in plain)
        assert all("explanation" not in p for p in (await client.post(
            "/predict?explain=false", json=events)).json()["predictions"])
        rule = (await client.post("/predict?explain=true", json=events)).json()["predictions"]

        v1 = registry.register("fraud", logistic_onnx(WEIGHTS, BIAS), metadata(FEATURES))
        registry.promote("fraud", v1.version, "test", "pytest")
        await publish_lifecycle(kafka_bootstrap, service.topics.lifecycle, [lifecycle_record(
            "PROMOTED", v1, previous=None, reason="test", actor="pytest")])
        deadline = time.monotonic() + 20
        while service.holder.snapshot().champion.version != v1.version:
            assert time.monotonic() < deadline, "the champion was not swapped in"
            await asyncio.sleep(0.05)
        onnx = (await client.post("/predict?explain=true", json=events)).json()["predictions"]

    # the baseline: weight * input (every reference input is 0), exact
    baseline = service.explainer.baseline
    weights = dict(zip(baseline.features, baseline.weights, strict=True))
    for p, q in zip(plain, rule, strict=True):
        assert {k: v for k, v in q.items() if k != "explanation"}.keys() == p.keys()
        assert (q["score"], q["features"]) == (p["score"], p["features"])
        explanation = q["explanation"]
        assert explanation["method"] == "exact_linear"
        assert explanation["reference"]["source"] == "defaults"
        assert len(explanation["top"]) == 5
        for item in explanation["top"]:
            assert item["value"] == q["features"][item["feature"]]
            assert item["contribution"] == weights[item["feature"]] * item["value"]
        assert abs(explanation["completeness_gap"]) <= 1e-12
        logit = math.log(q["score"] / (1 - q["score"]))
        assert abs(explanation["logit"] - logit) <= 1e-9

    # the ONNX model, linear: integrated gradients through onnxruntime give its contributions
    for p in onnx:
        explanation = p["explanation"]
        assert p["model_version"] == v1.version
        assert explanation["method"] == "integrated_gradients"
        assert explanation["reference"]["values"] == {n: 0.0 for n in FEATURES}
        assert [t["feature"] for t in explanation["top"]] == sorted(
            FEATURES, key=lambda n: -abs(dict(zip(FEATURES, WEIGHTS, strict=True))[n]
                                         * p["features"][n]))
        for item in explanation["top"]:
            exact = dict(zip(FEATURES, WEIGHTS, strict=True))[item["feature"]] * item["value"]
            assert abs(item["contribution"] - exact) <= 1e-5  # float32 sums in the model
        assert abs(explanation["completeness_gap"]) <= 1e-5
        card = int(str(p["entity_id"]).removeprefix("card-"))
        assert p["features"]["amount_sum_1h"] == online_values(card)["amount_sum_1h"]
