"""Monitor benchmark: predictions/s through one monitor's batch handler (Avro decode, joins,
Page-Hinkley on 30 features + score, ADWIN on the error, live quality, policies), detection
delays on River's synthetic streams, and false alarms over 50,000 stationary events."""

from __future__ import annotations

import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.monitor.app import LABEL, PREDICTION, Monitor
from services.monitor.decisions import DriftFinding, RetrainDecision
from services.monitor.model_watcher import ModelWatcher
from services.monitor.settings import MonitorSettings

N = 200_000
BATCH = 5000
CHANGE = 5000


@dataclass
class Record:  # what the handler reads of aiokafka's ConsumerRecord
    topic: str
    value: bytes
    key: bytes | None = None
    partition: int = 0
    offset: int = 0


def throughput() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        monitor = Monitor(MonitorSettings(data_dir=Path(tmp), monitor_snapshot_interval_s=1e9))
        rng = np.random.default_rng(0)
        x = rng.normal(0, 1, (N, 30))
        preds, labels = [], []
        for i in range(N):
            score = float(1 / (1 + np.exp(-x[i, 0])))
            preds.append(Record(monitor.topics.predictions, monitor.codec.encode(PREDICTION, {
                "event_id": f"e{i}", "entity_id": "c", "model_name": "fraud",
                "model_version": "v1", "score": score, "label": int(score > 0.5),
                "confidence": 0.5, "features": {f"f{j:02d}": float(v) for j, v in
                                                enumerate(x[i])},
                "event_time": i, "scored_at": i, "latency_ms": 1.0})))
            labels.append(Record(monitor.topics.labels, monitor.codec.encode(LABEL, {
                "event_id": f"e{i}", "label": int(rng.random() < 0.3), "labelled_by": "b",
                "labelled_at": i + 1000})))
        started = time.perf_counter()
        for s in range(0, N, BATCH):
            monitor.handle(preds[s:s + BATCH] + labels[s:s + BATCH])
        secs = time.perf_counter() - started
        print(f"throughput: {N / secs:,.0f} predictions/s (+ as many labels) through one "
              f"monitor handler, 30 features + score + error, batches of {BATCH}")
        watcher = ModelWatcher()
        decoded = [monitor.codec.decode(r.value, PREDICTION) for r in preds[:50_000]]
        started = time.perf_counter()
        for s in range(0, len(decoded), BATCH):
            watcher.on_predictions(decoded[s:s + BATCH])
        secs = time.perf_counter() - started
        print(f"detectors alone (decoded): {len(decoded) / secs:,.0f} predictions/s")


def delays() -> None:
    from tests.unit.monitor.synthetic import drifting

    for name in ("sea", "agrawal", "hyperplane"):
        for seed in (1, 2, 3):
            w = ModelWatcher()
            found = None
            for chunk in _batched(drifting(name, seed, CHANGE, CHANGE + 2000), 500):
                out = w.on_predictions([p for p, _ in chunk])
                out += w.on_labels([lab for _, lab in chunk])
                concept = [d for d in out if isinstance(d, DriftFinding) and d.kind == "CONCEPT"]
                if concept and found is None:
                    found = concept[0].events_seen - CHANGE
            print(f"detection delay {name:10s} seed {seed}: "
                  f"{'missed' if found is None else f'{found} events'}")


def false_alarms() -> None:
    from tests.unit.monitor.synthetic import drifting

    w = ModelWatcher()
    signals = requests = 0
    for chunk in _batched(drifting("sea", 3, 10**9, 50_000), 2000):
        out = w.on_predictions([p for p, _ in chunk]) + w.on_labels([lab for _, lab in chunk])
        out += w.tick(chunk[-1][0]["event_time"])
        signals += sum(isinstance(d, DriftFinding) for d in out)
        requests += sum(isinstance(d, RetrainDecision) for d in out)
    print(f"stationary SEA, 50,000 events: {signals} drift signals, {requests} retrain requests")


def _batched(items, n):  # type: ignore[no-untyped-def]
    it = iter(items)
    while chunk := list(itertools.islice(it, n)):
        yield chunk


def main() -> None:
    throughput()
    delays()
    false_alarms()
