"""The trainer service against the real broker: predictions and labels in, a retrain request,
TRAINED and PROMOTED out with the request in the lineage; then `driftloop models promote` and
`driftloop models rollback` change the registry and publish their events. A request with too
few labels waits and later trains; the consumer keeps reading while a run is in flight, and
a request that arrives meanwhile trains next."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from driftloop.cli.main import app as cli
from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.registry import ModelRegistry
from services.trainer.app import Trainer
from services.trainer.settings import TrainerSettings
from tests.conftest import free_port
from tests.integration.kafka_helpers import drain, produce
from tests.unit.trainer.synthetic import synthetic

LIFECYCLE = "driftloop.models.ModelLifecycle"


def codec() -> AvroCodec:
    schemas = load_schemas()
    return AvroCodec(schemas, LocalSchemaRegistry(schemas))


async def test_retrain_request_to_promoted_model_and_rollback(
        kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    settings = TrainerSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2,
        data_dir=tmp_path, trainer_group=f"{topic_prefix}trainer", trainer_port=free_port(),
        trainer_min_new_labels=0, trainer_min_rows=100, trainer_epochs=10,
        trainer_gate_margin=0.01, trainer_code_version="test")
    trainer = Trainer(settings)
    c = codec()
    predictions, labels = synthetic(1500, seed=3)
    predictions.append({**predictions[0], "event_id": "shadow-1", "shadow": True})
    # labels first for half the events: the join must wait for their predictions
    await produce(kafka_bootstrap, trainer.topics.labels, [
        (lab["event_id"].encode(), c.encode("driftloop.models.Label", lab))
        for lab in labels[:750] + labels[:10]])            # with duplicates
    stopping = asyncio.Event()
    task = asyncio.create_task(trainer.run(stopping))
    try:
        await produce(kafka_bootstrap, trainer.topics.predictions, [
            (p["event_id"].encode(), c.encode("driftloop.models.Prediction", p))
            for p in predictions])
        await produce(kafka_bootstrap, trainer.topics.labels, [
            (lab["event_id"].encode(), c.encode("driftloop.models.Label", lab))
            for lab in labels[750:]])
        for _ in range(200):
            if trainer.store.count_labelled() == 1500:
                break
            await asyncio.sleep(0.1)
        assert trainer.store.count_labelled() == 1500
        assert trainer.store.unmatched_labels() == 0
        request = {"request_id": "req-7", "model_name": "fraud", "reason": "recall dropped",
                   "requested_by": "monitor", "requested_at": int(time.time() * 1000),
                   "evidence": {"detector": "adwin"}}
        encoded = c.encode("driftloop.monitoring.RetrainRequest", request)
        await produce(kafka_bootstrap, trainer.topics.retrain_requests,
                      [(b"fraud", encoded), (b"fraud", encoded)])  # re-delivered: one run
        records = await drain(kafka_bootstrap, trainer.topics.lifecycle, 2, timeout_s=60)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
    events = [c.decode(r.value, LIFECYCLE) for r in records]
    assert [(e["action"], e["version"]) for e in events] == [
        ("TRAINED", "v0001"), ("PROMOTED", "v0001")]
    assert all(r.key == b"fraud" for r in records)
    promoted = events[1]
    assert promoted["lineage"]["request_id"] == "req-7"
    assert promoted["lineage"]["rows"] == "1500"
    assert promoted["lineage"]["code_version"] == "test"
    assert promoted["reason"].startswith("beats roc_auc")
    assert promoted["metrics"]["roc_auc"] > 0.8

    # a second version, promoted by hand, then rolled back: both are events on the topic
    registry = ModelRegistry(settings.registry_root())
    v1 = registry.get("fraud", "v0001")
    registry.register("fraud", registry.load_onnx(v1), v1.metadata)
    env = {"DRIFTLOOP_KAFKA_BOOTSTRAP": kafka_bootstrap, "DRIFTLOOP_TOPIC_PREFIX": topic_prefix,
           "DRIFTLOOP_DATA_DIR": str(tmp_path), "DRIFTLOOP_REGISTRY_URL": ""}
    runner = CliRunner()
    done = await asyncio.to_thread(runner.invoke, cli, ["models", "promote", "v0002",
                                                        "--reason", "by hand"], env=env)
    assert done.exit_code == 0, done.output
    done = await asyncio.to_thread(runner.invoke, cli, ["models", "rollback", "--reason",
                                                        "live recall fell"], env=env)
    assert done.exit_code == 0, done.output
    assert "champion v0002 -> v0001" in done.output
    assert registry.alias("fraud", "champion") == v1
    records = await drain(kafka_bootstrap, trainer.topics.lifecycle, 4, timeout_s=30)
    events = [c.decode(r.value, LIFECYCLE) for r in records]
    assert [(e["action"], e["version"], e["previous_version"]) for e in events[2:]] == [
        ("PROMOTED", "v0002", "v0001"), ("ROLLED_BACK", "v0001", "v0002")]
    assert events[3]["reason"] == "live recall fell"

    listing = await asyncio.to_thread(runner.invoke, cli, ["models", "list"], env=env)
    assert listing.output.split("\n")[0].split()[:2] == ["v0001", "champion"], listing.output
    runs = await asyncio.to_thread(runner.invoke, cli, ["runs"], env=env)
    assert "request=req-7" in runs.output, runs.output
    shown = await asyncio.to_thread(runner.invoke, cli, ["models", "show", "v0001"], env=env)
    assert '"request_id": "req-7"' in shown.output


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_request_waits_for_labels_and_one_arriving_mid_run_trains_next(
        kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    settings = TrainerSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2,
        data_dir=tmp_path, trainer_group=f"{topic_prefix}trainer", trainer_port=free_port(),
        trainer_min_new_labels=0, trainer_min_rows=300, trainer_epochs=5,
        trainer_code_version="test")
    trainer = Trainer(settings)
    c = codec()
    predictions, labels = synthetic(1500, seed=4)
    change_ms = int(predictions[900]["event_time"])  # type: ignore[call-overload]

    async def send(first: int, last: int) -> None:
        await produce(kafka_bootstrap, trainer.topics.predictions, [
            (str(p["event_id"]).encode(), c.encode("driftloop.models.Prediction", p))
            for p in predictions[first:last]])
        await produce(kafka_bootstrap, trainer.topics.labels, [
            (str(lab["event_id"]).encode(), c.encode("driftloop.models.Label", lab))
            for lab in labels[first:last]])

    async def ask(rid: str, evidence: dict[str, str]) -> None:
        await produce(kafka_bootstrap, trainer.topics.retrain_requests, [(b"fraud", c.encode(
            "driftloop.monitoring.RetrainRequest", {
                "request_id": rid, "model_name": "fraud", "reason": f"drift {rid}",
                "requested_by": "monitor", "requested_at": int(time.time() * 1000),
                "evidence": evidence}))])

    # Runs are held at the start until the test lets them go, so "while a run is in flight"
    # is a state the test controls, not a race it hopes to win.
    release, entered = threading.Event(), threading.Event()
    real_run = trainer.job.run

    def held_run(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(60)
        return real_run(*args, **kwargs)

    trainer.job.run = held_run  # type: ignore[method-assign]
    stopping = asyncio.Event()
    task = asyncio.create_task(trainer.run(stopping))
    try:
        await send(0, 1000)
        await until(lambda: trainer.store.count_labelled() == 1000, "the first labels")
        # the change began at event 900: 100 post-change labels, 300 needed
        await ask("r1", {"window_start_ms": str(change_ms)})
        await until(lambda: (p := trainer.pending()) is not None and p.attempts == 1,
                    "the refusal")
        assert not entered.is_set()  # too few labels: no run was even started
        pending = trainer.pending()
        assert pending is not None and pending.request_id == "r1"
        assert pending.waiting_for == (f"100 labelled examples since event time {change_ms};"
                                       " at least 300 are needed")
        assert trainer.pending_gauge._value.get() == 1
        await send(1000, 1300)  # 400 post-change labels: r1 trains now...
        await asyncio.to_thread(entered.wait, 60)
        assert trainer.background.busy
        # ...and while it trains, the consumer keeps reading: labels and a newer request
        await send(1300, 1500)
        await ask("r2", {})
        await until(lambda: trainer.store.count_labelled() == 1500
                    and (p := trainer.pending()) is not None and p.request_id == "r2",
                    "labels and a request read during the run")
        assert trainer.background.busy
        release.set()
        records = await drain(kafka_bootstrap, trainer.topics.lifecycle, 4, timeout_s=120)
        await until(lambda: trainer.pending() is None, "both requests answered")
    finally:
        release.set()
        stopping.set()
        await asyncio.wait_for(task, 60)
    events = [c.decode(r.value, LIFECYCLE) for r in records]
    trained = [e for e in events if e["action"] == "TRAINED"]
    assert [(e["lineage"]["request_id"], e["lineage"]["rows"]) for e in trained] == [
        ("r1", "400"), ("r2", "600")]
    assert trainer.pending_gauge._value.get() == 0


def test_settings_defaults(tmp_path: Path) -> None:
    settings = TrainerSettings(data_dir=tmp_path)
    assert settings.registry_root() == str(tmp_path / "registry")
    assert settings.store_path() == tmp_path / "trainer.db"
    assert settings.model_name() == "fraud"
