"""The monitor against the real broker: predictions and labels in; drift signals, retrain
requests and (through the registry) a rollback on models.lifecycle out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftloop.registry import ModelRegistry, lifecycle_record
from services.monitor.app import LIFECYCLE, PREDICTION, Monitor
from services.monitor.settings import MonitorSettings
from tests.conftest import free_port
from tests.integration.kafka_helpers import drain, produce


def predictions_and_labels(monitor: Monitor, version: str, error: float, start: int, n: int,
                           seed: int, shift_from: int | None = None
                           ) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    rng = np.random.default_rng(seed)
    preds, labels = [], []
    for i in range(start, start + n):
        x = rng.normal(0, 1, 3)
        if shift_from is not None and i >= shift_from:
            x[0] += 1.0
        truth = int(rng.random() < 0.3)
        decided = truth ^ int(rng.random() < error)
        eid = f"e{i}".encode()
        preds.append((eid, monitor.codec.encode(PREDICTION, {
            "event_id": eid.decode(), "entity_id": "c1", "model_name": "fraud",
            "model_version": version, "score": 0.8 if decided else 0.2, "label": decided,
            "confidence": 0.6, "features": {"a": x[0], "b": x[1], "c": x[2]},
            "event_time": 1_700_000_000_000 + i, "scored_at": 1_700_000_000_000 + i,
            "latency_ms": 1.0})))
        labels.append((eid, monitor.codec.encode("driftloop.models.Label", {
            "event_id": eid.decode(), "label": truth, "labelled_by": "test",
            "labelled_at": 1_700_000_000_000 + i + 5000})))
    return preds, labels


async def test_monitor_signals_requests_and_rolls_back(kafka_bootstrap: str, topic_prefix: str,
                                                       tmp_path: Path) -> None:
    settings = MonitorSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, monitor_port=free_port(),
        monitor_group=f"{topic_prefix}monitor", topic_partitions=1, data_dir=tmp_path,
        monitor_retrain_cooldown_s=3600, monitor_snapshot_interval_s=0.5)
    registry = ModelRegistry(str(tmp_path / "registry"))
    meta: dict[str, Any] = {"features": ["a", "b", "c"], "input_name": "x",
                            "output_name": "p", "threshold": 0.5}
    v1 = registry.register("fraud", b"onnx-1", meta)
    v2 = registry.register("fraud", b"onnx-2", meta)
    registry.promote("fraud", v1.version, "first", "test")
    monitor = Monitor(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(monitor.run(stopping))
    try:
        for _ in range(200):
            if monitor.health.ready:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("monitor did not become ready")
        # v1: a good model; its input "a" shifts after 2,000 events and its error rises.
        preds, labels = predictions_and_labels(monitor, v1.version, 0.05, 0, 2000, 1)
        p2, l2 = predictions_and_labels(monitor, v1.version, 0.30, 2000, 1500, 2,
                                        shift_from=2000)
        await produce(kafka_bootstrap, monitor.topics.predictions, preds + p2)
        await produce(kafka_bootstrap, monitor.topics.labels, labels + l2)
        requests = await drain(kafka_bootstrap, monitor.topics.retrain_requests, 1, 60)
        assert len(requests) == 1
        request = monitor.codec.decode(requests[0].value)
        assert request["evidence"]["step"] == "1" and "concept drift" in request["reason"]
        signals = [monitor.codec.decode(r.value) for r in
                   await drain(kafka_bootstrap, monitor.topics.drift_signals, 2, 30)]
        kinds = {(s["kind"], s["subject"]) for s in signals}
        assert ("DATA", "a") in kinds and ("CONCEPT", "error") in kinds

        # A worse v2 is promoted: the monitor takes it back through the registry.
        registry.promote("fraud", v2.version, "retrained", "trainer")
        promoted = lifecycle_record("PROMOTED", v2, previous=v1.version, reason="retrained",
                                    actor="trainer")
        await produce(kafka_bootstrap, monitor.topics.lifecycle,
                      [(b"fraud", monitor.codec.encode(LIFECYCLE, promoted))])
        # v2's predictions must come after the monitor has read the promotion
        for _ in range(600):
            if monitor.watcher.model("fraud").champion == v2.version:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the monitor never read v2's promotion")
        p3, l3 = predictions_and_labels(monitor, v2.version, 0.60, 3500, 600, 3,
                                        shift_from=0)
        await produce(kafka_bootstrap, monitor.topics.predictions, p3)
        await produce(kafka_bootstrap, monitor.topics.labels, l3)
        events = await drain(kafka_bootstrap, monitor.topics.lifecycle, 2, 60)
        rolled = [monitor.codec.decode(r.value) for r in events]
        rolled = [e for e in rolled if e["action"] == "ROLLED_BACK"]
        assert len(rolled) == 1
        assert (rolled[0]["version"], rolled[0]["previous_version"]) == (v1.version, v2.version)
        evidence = rolled[0]["metrics"]
        assert evidence["live_roc_auc"] < evidence["predecessor_roc_auc"] - 0.03
        current = registry.alias("fraud", "champion")
        assert current is not None and current.version == v1.version
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
    # The state survived as JSON and loads back into a monitor with the same detectors.
    restarted = Monitor(settings)
    assert restarted.watcher.models["fraud"].versions[v1.version].predictions == 3500
