"""Features benchmarks: service throughput with Redis (the card stage, and end to end through
the merchant stage), freshness at 5,000 events/s, and the online lookup of a 100-entity
batch. Starts its own embedded broker and redis-server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.featurestore import FeatureClient
from driftloop.messaging import KafkaClients, Outbound, Publisher
from driftloop.messaging.embedded_broker import EmbeddedBroker
from services.features.app import Features
from services.features.settings import FeaturesSettings

SCHEMA = "driftloop.cards.CardTransaction"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _event(i: int, now_ms: int) -> dict:
    return {"event_id": f"e{i}", "card_id": f"c{i % 5000}", "merchant_id": f"m{i % 97}",
            "amount": float(i % 500), "currency": "EUR", "merchant_category": "5411",
            "channel": "POS", "country": "DE", "event_time": now_ms}


def p99(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.99) - 1]


async def _run(bootstrap: str, redis_url: str, data_dir: Path) -> None:
    codec = AvroCodec(load_schemas(), LocalSchemaRegistry(load_schemas()))
    settings = FeaturesSettings.model_validate({
        "kafka_bootstrap": bootstrap, "redis_url": redis_url, "data_dir": data_dir,
        "topic_partitions": 2, "features_port": _port(), "features_group": "bench"})
    service = Features(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(stopping))
    while not service.health.ready:
        await asyncio.sleep(0.05)
    producer = KafkaClients(bootstrap).producer()
    await producer.start()
    publisher = Publisher(producer)
    applied = service.events.labels("applied")
    # The merchant stage: every applied event is one input of its merchant.
    merchant = service.inputs.labels("events", "applied")

    # Throughput: a backlog of N events, timed from the first to the last one applied, by
    # the card stage and then by the merchant stage (through features.repartition).
    n = 40_000
    now = int(time.time() * 1000)
    records = [Outbound(service.topics.valid, codec.encode(SCHEMA, _event(i, now + i)),
                        f"c{i % 5000}".encode()) for i in range(n)]
    await publisher.publish(records)
    start_count, merchant_start = applied._value.get(), merchant._value.get()
    started = time.perf_counter()
    card_elapsed = None
    while merchant._value.get() - merchant_start < n:
        if card_elapsed is None and applied._value.get() - start_count >= n:
            card_elapsed = time.perf_counter() - started
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    card_elapsed = card_elapsed or elapsed
    print(f"features service, Redis online store, card stage: {n / card_elapsed:,.0f} events/s "
          f"({n} events in {card_elapsed:.2f}s, including offline parquet and re-keying)")
    print(f"features service, end to end through the merchant stage: {n / elapsed:,.0f} "
          f"events/s ({n} events in {elapsed:.2f}s)")

    # Freshness at 5,000 events/s: time from publish to the value readable online.
    # fraud_v1: the card view alone, looked up by card id
    client = FeatureClient.from_settings(
        settings.store_settings().model_copy(update={"feature_service": "fraud_v1"}))
    lags: list[float] = []
    base = n
    for tick in range(50):  # 50 ticks of 100 events every 20 ms = 5,000 events/s
        batch_start = base + tick * 100
        batch = [_event(batch_start + j, now + batch_start + j) for j in range(100)]
        for j, e in enumerate(batch):
            e["card_id"] = f"fresh{batch_start + j}"
        sent = time.perf_counter()
        await publisher.publish([Outbound(service.topics.valid, codec.encode(SCHEMA, e),
                                          e["card_id"].encode()) for e in batch])
        probe = batch[-1]["card_id"]
        while (await client.lookup([probe])).defaulted[0]:
            await asyncio.sleep(0.002)
        lags.append(time.perf_counter() - sent)
        await asyncio.sleep(max(0.0, 0.02 - (time.perf_counter() - sent)))
    print(f"freshness at ~5,000 events/s: p50 {statistics.median(lags) * 1000:.0f} ms, "
          f"p99 {p99(lags) * 1000:.0f} ms")

    # Online lookup of a 100-entity batch: by card (fraud_v1), and as the scorer reads it,
    # 100 rows of (card, merchant), two views each (fraud_v2).
    await _time_lookups("100 entities", client, [f"c{i}" for i in range(100)])
    both = FeatureClient.from_settings(settings.store_settings())
    await _time_lookups("100 card+merchant rows (fraud_v2)", both,
                        [{"card_id": f"c{i}", "merchant_id": f"m{i % 50}"} for i in range(100)])
    await both.close()
    await client.close()
    await producer.stop()
    stopping.set()
    await task


async def _time_lookups(what: str, client: FeatureClient,
                        entities: list[str] | list[dict[str, str]]) -> None:
    times = []
    for _ in range(2000):
        t0 = time.perf_counter()
        result = await client.lookup(entities)
        times.append(time.perf_counter() - t0)
    assert not result.degraded
    print(f"online lookup, {what}, Redis: p50 {statistics.median(times) * 1000:.2f} ms, "
          f"p99 {p99(times) * 1000:.2f} ms")


def main() -> None:
    broker = EmbeddedBroker(port=_port())
    broker.start()
    port = _port()
    redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port",
                              str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            asyncio.run(_run(broker.bootstrap, f"redis://127.0.0.1:{port}/0", Path(data_dir)))
    finally:
        redis.terminate()
        redis.wait()
        broker.stop()
