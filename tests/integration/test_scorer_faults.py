"""The scorer against the real broker, registry, Redis and onnxruntime, on the faults a fuzz and
a corrupt-artifact campaign found (issue 14): a bad version never stops it, never serves and
never leaves it unready."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftloop.contracts.model_inputs import ModelInputs
from driftloop.featurestore import FeatureDeclarations
from driftloop.featurestore.online_store import RedisOnlineStore
from driftloop.registry import ModelRegistry, ModelVersion, lifecycle_record
from tests.integration.kafka_helpers import drain
from tests.integration.test_scorer import (
    FEATURES,
    codec,
    event,
    feature_client,
    publish_lifecycle,
    running,
    settings_for,
    write_features,
)
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata, nan_above_onnx

LIFECYCLE = "driftloop.models.ModelLifecycle"


def strip_metadata(root: Path, mv: ModelVersion, *keys: str) -> None:
    """Rewrite a version's version.json without ``keys``, as a hand edit or a foreign writer
    would leave it (the registry itself refuses to register such metadata)."""
    path = root / "models" / mv.model_name / "versions" / mv.version / "version.json"
    record = json.loads(path.read_text())
    for key in keys:
        record["metadata"].pop(key)
    path.write_text(json.dumps(record))


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def value(metric: Any) -> float:
    return float(metric._value.get())


async def test_lifecycle_follower_survives_a_version_without_features(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    """A version.json without ``features`` once raised KeyError in the follower: it died
    silently, /readyz stayed 200 and every later promotion was ignored."""
    await write_features(redis_url)
    root = tmp_path / "registry"
    registry = ModelRegistry(str(root))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    bad = registry.register("fraud", logistic_onnx([0.1, 0.1, 0.1, 0.1], 0.0), metadata(FEATURES))
    strip_metadata(root, bad, "features")
    v3 = registry.register("fraud", logistic_onnx([0.1, 0.1, 0.1, 0.1], -1.0), metadata(FEATURES))
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        refused = service.swaps.labels("champion", "refused")
        swapped = service.swaps.labels("champion", "swapped")
        await publish_lifecycle(kafka_bootstrap, service.topics.lifecycle, [
            lifecycle_record("PROMOTED", mv, previous="v0001", reason="test", actor="pytest")
            for mv in (bad, v3)])
        await until(lambda: value(swapped) == 1, "the later promotion to be applied")
        assert service.holder.snapshot().champion.version == "v0003"
        assert (value(refused), value(service.lifecycle_errors)) == (1, 0)
        assert (await client.get("/readyz")).status_code == 200
        lifecycle = await drain(kafka_bootstrap, service.topics.lifecycle, 3)
    records = [codec().decode(r.value, LIFECYCLE) for r in lifecycle]
    rejected = [r for r in records if r["action"] == "REJECTED"]
    assert [(r["version"], r["previous_version"], r["actor"]) for r in rejected] == [
        ("v0002", "v0001", "scorer")]
    assert rejected[0]["reason"].startswith(
        "scorer refused it as champion: invalid version metadata: fraud v0002: "
        "metadata lacks ['features']")
    assert rejected[0]["sha256"] == bad.sha256


async def test_a_dead_lifecycle_follower_makes_the_scorer_unready(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path,
        monkeypatch: Any) -> None:
    """The follower logs and counts any error and goes on; should it die all the same (here
    its own error counter breaks too), the scorer must stop saying it is ready."""
    await write_features(redis_url)
    registry = ModelRegistry(str(tmp_path / "registry"))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        class Broken:
            def inc(self, amount: float = 1.0) -> None:
                raise RuntimeError("the error counter is broken too")

        async def explode(record: dict[str, Any]) -> bool:
            raise KeyError("features")

        monkeypatch.setattr(service, "apply_lifecycle", explode)
        monkeypatch.setattr(service, "lifecycle_errors", Broken())
        await publish_lifecycle(kafka_bootstrap, service.topics.lifecycle, [
            lifecycle_record("PROMOTED", v1, previous=None, reason="test", actor="pytest")])
        await until(lambda: not service.health.ready, "readiness to go false")
        reply = await client.get("/readyz")
        assert reply.status_code == 503 and "lifecycle" in reply.text


async def test_restart_on_a_bad_champion_serves_the_last_good_version(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    """Good v1 promoted, a bad v2 (no features in its metadata) made champion: the scorer
    once exited 1 on start and never became ready. It must serve v1 and say so."""
    await write_features(redis_url)
    root = tmp_path / "registry"
    registry = ModelRegistry(str(root))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    v2 = registry.register("fraud", logistic_onnx([0.1, 0.1, 0.1, 0.1], 0.0), metadata(FEATURES))
    registry.promote("fraud", v2.version, "test", "pytest")
    strip_metadata(root, v2, "features", "threshold")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        assert service.holder.snapshot().champion.version == "v0001"
        reply = await client.post("/predict", json=[event(1)])
        metrics = (await client.get("/metrics")).text
    assert reply.status_code == 200
    assert [p["model_version"] for p in reply.json()["predictions"]] == ["v0001"]
    assert 'driftloop_scorer_model_swaps_total{result="refused",role="champion"} 1.0' in metrics
    assert 'driftloop_scorer_model_swaps_total{result="fallback",role="champion"} 1.0' in metrics
    assert ('driftloop_scorer_model_info{baseline="false",role="champion",version="v0001"} 1.0'
            in metrics)


async def test_restart_with_no_loadable_version_serves_the_baseline(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    await write_features(redis_url)
    registry = ModelRegistry(str(tmp_path / "registry"))
    bad = registry.register("fraud", b"not an onnx model", metadata(FEATURES))
    registry.promote("fraud", bad.version, "test", "pytest")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        reply = await client.post("/predict", json=[event(1)])
    assert [p["model_version"] for p in reply.json()["predictions"]] == ["baseline-rules-1"]


async def test_non_finite_scores_are_never_served(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    """A model that passes the golden batch and is NaN beyond it (here above 2e7, an hourly
    sum the batch never reaches) once served 20 of 20 null scores on /predict."""
    decl = FeatureDeclarations.load()
    service_decl = decl.service("fraud_v1")
    store = RedisOnlineStore(redis_url, decl.project, service_decl, 2.0)
    await store.write(service_decl.views[0], {
        f"huge-{i}": (datetime.now(UTC), {"amount_count_10m": 3.0, "amount_sum_1h": 5e7})
        for i in range(20)})
    await store.close()
    registry = ModelRegistry(str(tmp_path / "registry"))
    v1 = registry.register("fraud", nan_above_onnx([0.2, 0.5, 1.0, -0.01], -2.0, 2e7),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    events = [event(i, card_id=f"huge-{i}") for i in range(20)]
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        assert service.holder.snapshot().champion.version == "v0001"  # it passed the checks
        served = (await client.post("/predict", json=events)).json()["predictions"]
        rule = service.holder.baseline
        expected = rule.predict(np.asarray([[ModelInputs.load("cards").compute(e)[n]
                                             for n in rule.features] for e in events],
                                           np.float32)).tolist()
        metrics = (await client.get("/metrics")).text
    assert [p["score"] for p in served] == pytest.approx(expected)
    assert all(p["degraded"] and p["model_version"] == "v0001" for p in served)
    assert 'driftloop_scorer_non_finite_scores_total{role="champion"} 20.0' in metrics
    assert 'driftloop_scorer_degraded_total 20.0' in metrics
