"""Features benchmarks: service throughput with Redis (the card stage, and end to end through
the merchant stage), freshness at 5,000 events/s, and the online lookup of a 100-entity
batch. Starts its own embedded broker and redis-server. Beside them, in the same run: the
same events through a bare aiokafka + redis-py pipeline writing the same keys (one pipelined
HSET per entity and batch), and the same lookups through a raw redis-py HMGET pipeline and
through Feast's own ``get_online_features`` (Feast is imported here anyway: the service
runs ``feast apply`` in this process)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.anchors import (
    Figure,
    RedisWriter,
    feast_latencies,
    hmget_latencies,
    print_figures,
)
from bench.stack import embedded_broker, free_port, percentile, redis_server, scaled
from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.featurestore import FeatureClient
from driftloop.messaging import KafkaClients, Outbound, Publisher, ensure_topics
from services.features.app import Features
from services.features.settings import FeaturesSettings

SCHEMA = "driftloop.cards.CardTransaction"


def _event(i: int, now_ms: int) -> dict:
    return {"event_id": f"e{i}", "card_id": f"c{i % 5000}", "merchant_id": f"m{i % 97}",
            "amount": float(i % 500), "currency": "EUR", "merchant_category": "5411",
            "channel": "POS", "country": "DE", "event_time": now_ms}


def _ms(times: list[float], q: float) -> float:
    return percentile(times, q) * 1000


async def _run(bootstrap: str, redis_url: str, data_dir: Path, anchors: bool) -> None:
    codec = AvroCodec(load_schemas(), LocalSchemaRegistry(load_schemas()))
    settings = FeaturesSettings.model_validate({
        "kafka_bootstrap": bootstrap, "redis_url": redis_url, "data_dir": data_dir,
        "topic_partitions": 2, "features_port": free_port(), "features_group": "bench"})
    service = Features(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(stopping))
    while not service.health.ready:
        await asyncio.sleep(0.05)
    try:
        producer = KafkaClients(bootstrap).producer()
        await producer.start()
        publisher = Publisher(producer)
        applied = service.events.labels("applied")
        # The merchant stage: every applied event is one input of its merchant.
        merchant = service.inputs.labels("events", "applied")

        # Throughput: a backlog of N events, timed from the first to the last one applied, by
        # the card stage and then by the merchant stage (through features.repartition).
        n = scaled(40_000, 1000)
        figures: list[Figure] = []
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
        if anchors:
            bare = await _bare_writer_rate(bootstrap, redis_url, service, publisher, codec,
                                           records)
            figures.append(Figure("card stage vs aiokafka + redis-py HSET pipeline",
                                  n / card_elapsed, bare, "events/s"))

        # Freshness at 5,000 events/s: time from publish to the value readable online.
        # fraud_v1: the card view alone, looked up by card id
        client = FeatureClient.from_settings(
            settings.store_settings().model_copy(update={"feature_service": "fraud_v1"}))
        lags: list[float] = []
        base = n
        for tick in range(scaled(50, 5)):  # ticks of 100 events every 20 ms = 5,000 events/s
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
        print(f"freshness at ~5,000 events/s: p50 {_ms(lags, 0.5):.0f} ms, "
              f"p99 {_ms(lags, 0.99):.0f} ms")

        # Online lookup of a 100-entity batch: by card (fraud_v1), and as the scorer reads it,
        # 100 rows of (card, merchant), two views each (fraud_v2).
        cards = [{"card_id": f"c{i}"} for i in range(100)]
        pairs = [{"card_id": f"c{i}", "merchant_id": f"m{i % 50}"} for i in range(100)]
        both = FeatureClient.from_settings(settings.store_settings())
        for service_name, lookup_client, rows in (("fraud_v1", client, cards),
                                                  ("fraud_v2", both, pairs)):
            what = f"100 {'cards' if service_name == 'fraud_v1' else 'card+merchant rows'} " \
                   f"({service_name})"
            times = await _time_lookups(what, lookup_client, rows)
            if anchors:
                figures += await _lookup_anchors(times, service, service_name, rows,
                                                 redis_url)
        await both.close()
        await client.close()
        await producer.stop()
    finally:
        stopping.set()
        await task
    if figures:
        print_figures(figures)


async def _time_lookups(what: str, client: FeatureClient, entities: list[dict[str, str]]
                        ) -> list[float]:
    await client.lookup(entities)  # connects
    times = []
    for _ in range(scaled(2000, 100)):
        t0 = time.perf_counter()
        result = await client.lookup(entities)
        times.append(time.perf_counter() - t0)
    assert not result.degraded
    print(f"online lookup, {what}, Redis: p50 {_ms(times, 0.5):.2f} ms, "
          f"p99 {_ms(times, 0.99):.2f} ms")
    return times


async def _until(done: Callable[[], bool], task: asyncio.Task[None], what: str,
                 timeout_s: float = 120.0) -> None:
    """Poll ``done()``; a crashed ``task`` raises its error, a stuck one times out."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if task.done():
            task.result()
            raise RuntimeError(f"{what}: the anchor stopped early")
        if time.monotonic() > deadline:
            task.cancel()
            raise TimeoutError(f"{what}: not done in {timeout_s:.0f}s")
        await asyncio.sleep(0.01)


async def _bare_writer_rate(bootstrap: str, redis_url: str, service: Features,
                            publisher: Publisher, codec: AvroCodec,
                            records: list[Outbound]) -> float:
    """The backlog's events again, on a topic of their own, through ``RedisWriter`` (in this
    process, as the service is) into another Redis database; timed as the card stage is."""
    topic = f"{service.topics.prefix}anchor.valid"  # not one of the catalog's
    await ensure_topics(bootstrap, [topic], service.settings.topic_partitions)
    view = service.views[0]
    writer = RedisWriter(redis_url.rsplit("/", 1)[0] + "/1", service.declarations.project,
                         view.name, view.entity.join_key, [f.name for f in view.features])
    stopping = asyncio.Event()
    task = asyncio.create_task(writer.run(bootstrap, topic, "anchor", stopping))
    # One event through first: the consumer group's join is not part of the measure.
    await publisher.publish([Outbound(topic, records[0].value, records[0].key)])
    await _until(lambda: writer.applied >= 1, task, "the anchor writer's first event")
    await publisher.publish([Outbound(topic, r.value, r.key) for r in records])
    started = time.perf_counter()
    await _until(lambda: writer.applied >= len(records) + 1, task, "the anchor writer's backlog")
    elapsed = time.perf_counter() - started
    stopping.set()
    await task
    return len(records) / elapsed


async def _lookup_anchors(times: list[float], service: Features, service_name: str,
                          rows: list[dict[str, str]], redis_url: str
                          ) -> list[Figure]:
    """p50 and p99 of the same lookup through raw HMGETs and through Feast's SDK."""
    declared = service.declarations.service(service_name)
    plan = [(v.entity.join_key, v.name, [f.name for f in v.features]) for v in declared.views]
    project = service.declarations.project
    repeats = scaled(2000, 100)
    await hmget_latencies(redis_url, project, plan, rows, 1)  # connects
    raw = await hmget_latencies(redis_url, project, plan, rows, repeats)
    store: Any = service.store
    feast_latencies(store, service_name, rows, 3)  # connects, fills Feast's caches
    feast = feast_latencies(store, service_name, rows, max(20, repeats // 10))
    figures = []
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        figures.append(Figure(f"lookup {service_name} {label} vs raw HMGET", _ms(times, q),
                              _ms(raw, q), "ms", "<= 1.5x" if label == "p99" else ""))
        figures.append(Figure(f"lookup {service_name} {label} vs Feast SDK", _ms(times, q),
                              _ms(feast, q), "ms"))
    return figures


def main(anchors: bool = True) -> None:
    with embedded_broker() as bootstrap, redis_server() as redis_url, \
            tempfile.TemporaryDirectory() as data_dir:
        asyncio.run(_run(bootstrap, redis_url, Path(data_dir), anchors))
