"""Scorer against the real broker, real Redis (through the real FeatureClient), the real model
registry and real onnxruntime."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.model_inputs import ModelInputs
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.featurestore import FeatureClient, FeatureDeclarations, FeatureStoreSettings
from driftloop.featurestore.online_store import RedisOnlineStore
from driftloop.registry import ModelRegistry, lifecycle_record
from services.scorer.app import Scorer
from services.scorer.settings import ScorerSettings
from tests.conftest import free_port
from tests.integration.kafka_helpers import drain
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata

SCHEMA = "driftloop.cards.CardTransaction"
PREDICTION = "driftloop.models.Prediction"
FEATURES = ["amount_count_10m", "log_amount", "channel=ONLINE", "amount_sum_1h"]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CARDS = 20


def codec() -> AvroCodec:
    schemas = load_schemas()
    return AvroCodec(schemas, LocalSchemaRegistry(schemas))


def event(i: int, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": f"e{i}", "card_id": f"card-{i % CARDS}", "merchant_id": "m1",
        "amount": 10.0 + i % 50, "currency": "EUR", "merchant_category": "5411",
        "channel": "ONLINE" if i % 3 == 0 else "POS", "country": "DE",
        "event_time": int(time.time() * 1000)}
    base.update(overrides)
    return base


#: every online feature of the feature service, and every input a prediction logs
ONLINE = {f.name for f in FeatureDeclarations.load().service(
    FeatureStoreSettings(domain="cards").service_name()).features}
SERVED = ONLINE | set(ModelInputs.load("cards").names)


def online_values(card: int) -> dict[str, float]:
    # Values exact in float32, so "features as scored" equal what the client returned.
    return {"amount_count_10m": float(card), "amount_sum_1h": 12.5 * card}


async def write_features(redis_url: str) -> None:
    decl = FeatureDeclarations.load()
    service = decl.service("fraud_v1")
    store = RedisOnlineStore(redis_url, decl.project, service, 2.0)
    now = datetime.now(UTC)
    await store.write(service.views[0], {f"card-{c}": (now, online_values(c))
                                         for c in range(CARDS)})
    await store.close()


async def produce_events(bootstrap: str, topic: str, events: Sequence[dict[str, object]]
                         ) -> None:
    c = codec()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(
            topic, c.encode(SCHEMA, e), key=str(e["card_id"]).encode(),
            headers=[("traceparent", f"00-{TRACE_ID}-{i + 1:016x}-01".encode())])
            for i, e in enumerate(events)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def publish_lifecycle(bootstrap: str, topic: str, records: Sequence[dict[str, object]]
                            ) -> None:
    c = codec()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(topic, c.encode("driftloop.models.ModelLifecycle",
                                                          record), key=b"fraud")
    finally:
        await producer.stop()


def settings_for(kafka: str, prefix: str, data_dir: Path, **extra: object) -> ScorerSettings:
    values: dict[str, object] = dict(
        kafka_bootstrap=kafka, topic_prefix=prefix, scorer_port=free_port(),
        scorer_group=f"{prefix}scorer", topic_partitions=2, data_dir=data_dir,
        scorer_sample_rate=0.0, scorer_low_confidence=0.0,
        # a guard above the client's deadline (see feature_client)
        scorer_feature_deadline_s=2.0)
    values.update(extra)
    return ScorerSettings(**values)  # type: ignore[arg-type]


def feature_client(redis_url: str, data_dir: Path, **extra: object) -> FeatureClient:
    """A client whose lookup deadline is generous by default: these tests are about what is
    scored, and a busy machine must not turn a slow first lookup into defaults (a fresh-clone
    run failed so: one lookup over 25 ms served every feature at its default). The frozen-
    store test sets its own."""
    values: dict[str, object] = {"feature_deadline_ms": 1000.0, **extra}
    return FeatureClient.from_settings(FeatureStoreSettings(  # type: ignore[call-arg]
        redis_url=redis_url, data_dir=data_dir, **values))


@asynccontextmanager
async def running(settings: ScorerSettings, features: FeatureClient
                  ) -> AsyncIterator[tuple[Scorer, httpx.AsyncClient]]:
    service = Scorer(settings, features)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(stopping))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.scorer_port}") as client:
        for _ in range(400):
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        else:
            pytest.fail("scorer did not become ready")
        try:
            yield service, client
        finally:
            stopping.set()
            await asyncio.wait_for(task, 20)


def decode_all(records) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    c = codec()
    return [c.decode(r.value, PREDICTION) for r in records]


async def test_one_prediction_per_event_with_features_as_scored(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    await write_features(redis_url)
    registry = ModelRegistry(str(tmp_path / "registry"))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    v2 = registry.register("fraud", logistic_onnx([0.1, 0.1, 0.1, 0.1], -1.0),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    registry.set_alias("fraud", "challenger", v2.version, "test", "pytest")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, _):
        events = [event(i) for i in range(300)]
        events.append(event(300, card_id="card-unknown"))
        await produce_events(kafka_bootstrap, service.topics.valid, events)
        records = await drain(kafka_bootstrap, service.topics.predictions, 2 * len(events))
    predictions = decode_all(records)
    champion = [p for p in predictions if not p["shadow"]]
    shadow = [p for p in predictions if p["shadow"]]
    assert sorted(p["event_id"] for p in champion) == sorted(str(e["event_id"]) for e in events)
    assert sorted(p["event_id"] for p in shadow) == sorted(str(e["event_id"]) for e in events)
    assert all(r.key == c.decode(r.value, PREDICTION)["event_id"].encode()
               for c in [codec()] for r in records)
    assert {p["model_version"] for p in champion} == {"v0001"}
    assert {p["model_version"] for p in shadow} == {"v0002"}
    for p in champion:
        card = str(p["entity_id"])
        features = p["features"]
        # the model's input in its order, then every other input logged for the next model
        assert list(features)[:len(FEATURES)] == FEATURES  # type: ignore[call-overload]
        assert set(features) <= SERVED  # type: ignore[operator]
        if card == "card-unknown":
            assert p["defaulted_features"][:2] == ["amount_count_10m", "amount_sum_1h"]
            assert (features["amount_count_10m"], features["amount_sum_1h"]) == (0.0, 0.0)
        else:
            expected = online_values(int(card.removeprefix("card-")))
            assert {k: features[k] for k in expected} == expected  # type: ignore[index]
            assert not set(expected) & set(p["defaulted_features"])  # type: ignore[call-overload]
        assert p["degraded"] is False
    traceparents = [dict(r.headers)["traceparent"].decode() for r in records]
    assert all(tp.split("-")[1] == TRACE_ID for tp in traceparents)


async def test_hot_swap_under_load_and_corrupt_versions_refused(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    await write_features(redis_url)
    root = tmp_path / "registry"
    registry = ModelRegistry(str(root))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    v2 = registry.register("fraud", logistic_onnx([0.1, 0.1, 0.1, 0.1], -1.0),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    good = logistic_onnx([0.1, 0.1, 0.1, 0.1], 0.0)
    flipped = registry.register("fraud", good, metadata(FEATURES))
    artifact = root / "models" / "fraud" / "versions" / flipped.version / "model.onnx"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    broken = [flipped,
              registry.register("fraud", good[:-20], metadata(FEATURES)),
              registry.register("fraud", logistic_onnx([0.1, 0.1], 0.0), metadata(FEATURES)),
              registry.register("fraud", b"not onnx at all", metadata(FEATURES))]
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, scorer_max_records=100)
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, _):
        swapped = service.swaps.labels("champion", "swapped")
        refused = service.swaps.labels("champion", "refused")
        chunks = [[event(c * 200 + i) for i in range(200)] for c in range(10)]
        for number, chunk in enumerate(chunks):
            await produce_events(kafka_bootstrap, service.topics.valid, chunk)
            if number == 3:
                await publish_lifecycle(kafka_bootstrap, service.topics.lifecycle, [
                    lifecycle_record("PROMOTED", mv, previous="v0001", reason="corrupt",
                                     actor="pytest") for mv in broken])
            if number == 5:
                registry.promote("fraud", v2.version, "better", "pytest")
                await publish_lifecycle(kafka_bootstrap, service.topics.lifecycle, [
                    lifecycle_record("PROMOTED", v2, previous="v0001", reason="better",
                                     actor="pytest")])
                for _ in range(200):  # the last chunks must be scored after the swap
                    if swapped._value.get() == 1:
                        break
                    await asyncio.sleep(0.05)
        total = sum(len(c) for c in chunks)
        records = await drain(kafka_bootstrap, service.topics.predictions, total)
        assert (refused._value.get(), swapped._value.get()) == (4, 1)
    predictions = decode_all(records)
    ids = [str(p["event_id"]) for p in predictions]
    assert len(ids) == total and len(set(ids)) == total  # 0 lost, 0 double-scored
    versions = [str(p["model_version"]) for p in predictions]
    assert set(versions) == {"v0001", "v0002"}
    assert {str(p["event_id"]) for p, v in zip(predictions, versions, strict=True)
            if v == "v0001"} >= {str(e["event_id"]) for e in chunks[0]}
    assert {str(p["event_id"]) for p, v in zip(predictions, versions, strict=True)
            if v == "v0002"} >= {str(e["event_id"]) for e in chunks[-1]}
    by_partition: dict[int, list[str]] = defaultdict(list)
    for record, version in zip(records, versions, strict=True):
        by_partition[record.partition].append(version)
    for sequence in by_partition.values():  # one switch per partition, never back
        assert sequence == sorted(sequence)


async def test_http_predict(kafka_bootstrap: str, redis_url: str, topic_prefix: str,
                            tmp_path: Path) -> None:
    await write_features(redis_url)
    registry = ModelRegistry(str(tmp_path / "registry"))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, api_token="s3cret",
                            scorer_max_body_bytes=4096)
    auth = {"Authorization": "Bearer s3cret"}
    async with running(settings, feature_client(redis_url, tmp_path)) as (service, client):
        same = [event(7), event(8, channel="ATM")]
        assert (await client.post("/predict", json=same)).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.post("/predict", json=same, headers=wrong)).status_code == 401
        big = b"[" + b" " * 5000 + b"]"
        assert (await client.post("/predict", content=big, headers=auth)).status_code == 413
        invalid = await client.post("/predict", json=[event(1, amount=-5.0)], headers=auth)
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["error"] == "out_of_range"
        assert (await client.post("/predict", content=b"{nope", headers=auth)).status_code == 422
        reply = await client.post("/predict", json=same, headers=auth)
        assert reply.status_code == 200
        http = reply.json()["predictions"]
        single = await client.post("/predict", json=same[0], headers=auth)
        assert single.json()["predictions"][0]["score"] == http[0]["score"]
        assert (await client.get("/docs")).status_code == 200
        await produce_events(kafka_bootstrap, service.topics.valid, same)
        stream = {p["event_id"]: p for p in decode_all(
            await drain(kafka_bootstrap, service.topics.predictions, 2))}
        metrics = (await client.get("/metrics")).text
    for p in http:
        s = stream[p["event_id"]]
        assert (p["score"], p["features"], p["model_version"], p["label"]) == (
            s["score"], s["features"], s["model_version"], s["label"])
    assert 'driftloop_scorer_model_info{baseline="false",role="champion",version="v0001"} 1.0' \
        in metrics
    assert 'driftloop_scorer_predictions_total{role="champion",source="http"} 3.0' in metrics


@pytest.fixture
def own_redis() -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.025)
    yield f"redis://127.0.0.1:{port}/0", proc  # type: ignore[misc]
    os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    proc.wait(timeout=5)


async def test_frozen_redis_degrades_then_recovers(
        kafka_bootstrap: str, own_redis: tuple[str, subprocess.Popen[bytes]],
        topic_prefix: str, tmp_path: Path) -> None:
    redis_url, proc = own_redis
    await write_features(redis_url)
    registry = ModelRegistry(str(tmp_path / "registry"))
    v1 = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    registry.promote("fraud", v1.version, "test", "pytest")
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path,
                            scorer_feature_deadline_s=0.25)
    # a deadline a frozen store always misses and a live one meets even on a busy machine
    client = feature_client(redis_url, tmp_path, feature_breaker_reset_s=0.2,
                            feature_deadline_ms=150.0)
    async with running(settings, client) as (service, _):
        topic = service.topics.predictions
        await produce_events(kafka_bootstrap, service.topics.valid,
                             [event(i) for i in range(50)])
        before = decode_all(await drain(kafka_bootstrap, topic, 50))
        os.kill(proc.pid, signal.SIGSTOP)  # frozen: connections hang, nothing answers
        await produce_events(kafka_bootstrap, service.topics.valid,
                             [event(i) for i in range(50, 100)])
        during = decode_all(await drain(kafka_bootstrap, topic, 100))[50:]
        os.kill(proc.pid, signal.SIGCONT)
        after: list[dict[str, object]] = []
        for attempt in range(40):  # the breaker lets a probe through after its reset time
            await asyncio.sleep(0.1)
            first = 100 + attempt * 10
            await produce_events(kafka_bootstrap, service.topics.valid,
                                 [event(i) for i in range(first, first + 10)])
            after = decode_all(await drain(kafka_bootstrap, topic, first + 10, settle_s=0.1))
            after = after[first:]
            if after and not any(p["degraded"] for p in after):
                break
        degraded_total = service.degraded._value.get()
    assert not any(p["degraded"] for p in before)
    assert len(during) == 50 and all(p["degraded"] for p in during)
    assert all(p["defaulted_features"][:2] == ["amount_count_10m", "amount_sum_1h"]
               and set(p["defaulted_features"]) == ONLINE for p in during)  # type: ignore[call-overload]
    # degraded at the deadline, not after the socket's timeout (seconds): a wide bound, so a
    # busy machine's scheduling delay does not decide the verdict
    assert all(float(p["latency_ms"]) < settings.scorer_feature_deadline_s * 1000 + 1500
               for p in during)
    assert after and not any(p["degraded"] for p in after)
    assert {k: after[0]["features"][k] for k in ("amount_count_10m",)} == {  # type: ignore[index]
        "amount_count_10m": online_values(int(str(after[0]["entity_id"])[5:]))["amount_count_10m"]}
    assert degraded_total >= 50


def test_label_cli_publishes_a_label(kafka_bootstrap: str, topic_prefix: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from driftloop.cli.main import app

    monkeypatch.setenv("DRIFTLOOP_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("DRIFTLOOP_TOPIC_PREFIX", topic_prefix)
    asyncio.run(__import__("driftloop.messaging", fromlist=["ensure_topics"]).ensure_topics(
        kafka_bootstrap, [f"{topic_prefix}labels"], 1))
    result = CliRunner().invoke(app, ["label", "e42", "1", "--by", "analyst:ada"])
    assert result.exit_code == 0, result.output
    (record,) = asyncio.run(drain(kafka_bootstrap, f"{topic_prefix}labels", 1))
    label = codec().decode(record.value, "driftloop.models.Label")
    assert record.key == b"e42"
    assert (label["event_id"], label["label"], label["labelled_by"]) == ("e42", 1, "analyst:ada")
