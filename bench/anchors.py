"""Plain-tool anchors: the work of each hot path done with the libraries a user would pick
instead (aiokafka, fastavro, redis-py, onnxruntime, River) and none of driftloop's machinery,
measured in the same run as the service. A busy machine slows both; slow code shows only in
the ratio (driftloop / anchor), which is what the targets are written against.

Each anchor does the same work as its service minus what the service adds on purpose
(validation, windows, tracing, dead letters, metrics), so the ratio is the price of those.
Only Feast's key layout is borrowed (``redis_layout``): a plain redis-py user reading Feast's
store has to spell the same keys. Anchors that stand for a service process run in a process
of their own (``spawned``), so both sides pay the same process boundary."""

from __future__ import annotations

import asyncio
import io
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from driftloop.featurestore import redis_layout as layout

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
#: one micro-batch of the anchors, as the services' batch loops take them
BATCH = 5000


def avro_schema(file: str) -> Any:
    """A parsed schema straight from schemas/*.avsc, as a fastavro user loads it."""
    return fastavro.schema.load_schema(str(SCHEMAS / file))


# -- the table --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """One figure beside its anchor. ``ratio`` is driftloop / anchor for both kinds: a
    throughput wants it high (target ``>= x``), a latency low (target ``<= x``)."""

    name: str
    driftloop: float
    anchor: float
    unit: str
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.driftloop / self.anchor if self.anchor else float("nan")


def _shown(value: float, unit: str) -> str:
    return f"{value:,.2f} {unit}" if unit == "ms" else f"{value:,.0f} {unit}"


def print_figures(figures: Sequence[Figure]) -> None:
    """One line per figure: name, driftloop, anchor, ratio (and the target, if any)."""
    print(f"{'figure':<50}{'driftloop':>17}{'anchor':>17}{'ratio':>8}  target")
    for f in figures:
        print(f"{f.name:<50}{_shown(f.driftloop, f.unit):>17}{_shown(f.anchor, f.unit):>17}"
              f"{f.ratio:>7.2f}x  {f.target}", flush=True)


# -- running an anchor as its own process ----------------------------------------------------
@contextmanager
def spawned(target: Callable[..., None], *args: Any) -> Iterator[multiprocessing.Process]:
    """``target(*args)`` in a fresh interpreter (spawn: no inherited event loop or sockets),
    terminated on exit."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args,
                                                           daemon=True)
    process.start()
    try:
        yield process
    finally:
        process.terminate()
        process.join(15)


async def _send_by_partition(producer: AIOKafkaProducer, topic: str,
                             by_partition: dict[int, list[tuple[bytes | None, bytes]]]) -> None:
    """aiokafka's batch API (one send() per record caps near 25k/s here), awaited."""
    futures = []
    for partition, items in by_partition.items():
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)


async def _consumer(closing: AsyncExitStack, bootstrap: str, source: str, group: str
                    ) -> AIOKafkaConsumer:
    """The anchors' consumer of ``source``, started, and stopped by ``closing`` however its
    block ends (a failed start included: stop() is safe on a client that never started)."""
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                fetch_max_wait_ms=10, max_partition_fetch_bytes=8 << 20)
    closing.push_async_callback(consumer.stop)
    await consumer.start()
    return consumer


async def _producer(closing: AsyncExitStack, bootstrap: str) -> AIOKafkaProducer:
    """The anchors' producer, started, and stopped (flushed) by ``closing``. Made after the
    consumer, it is stopped before it: the stack unwinds last in, first out."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                max_batch_size=1 << 20, max_request_size=4 << 20)
    closing.push_async_callback(producer.stop)
    await producer.start()
    return producer


async def _consume_forever(bootstrap: str, source: str, sink: str, group: str,
                           handle: Callable[[list[ConsumerRecord]],
                                            dict[int, list[tuple[bytes | None, bytes]]]]
                           ) -> None:
    """consume -> handle -> produce (acknowledged) -> commit, until the process is stopped:
    the at-least-once loop anyone writes with aiokafka."""
    async with AsyncExitStack() as closing:
        consumer = await _consumer(closing, bootstrap, source, group)
        producer = await _producer(closing, bootstrap)
        while True:
            polled = await consumer.getmany(timeout_ms=100, max_records=BATCH)
            if not polled:
                continue
            records = [r for batch in polled.values() for r in batch]
            await _send_by_partition(producer, sink, handle(records))
            await consumer.commit()


# -- ingest: passthrough and Avro encode ------------------------------------------------------
def _mirror(records: list[ConsumerRecord]) -> dict[int, list[tuple[bytes | None, bytes]]]:
    out: dict[int, list[tuple[bytes | None, bytes]]] = {}
    for r in records:
        out.setdefault(r.partition, []).append((r.key, r.value))
    return out


def passthrough(bootstrap: str, source: str, sink: str, group: str) -> None:
    """Process target: every record of ``source`` to the same partition of ``sink``, as is
    (no parsing, no validation)."""
    asyncio.run(_consume_forever(bootstrap, source, sink, group, _mirror))


def fastavro_encode_rate(records: Sequence[dict[str, Any]], schema_file: str) -> float:
    """Records/s of fastavro's ``schemaless_writer`` alone (records already Python values)."""
    schema = avro_schema(schema_file)
    write = fastavro.schemaless_writer
    started = time.perf_counter()
    for record in records:
        buf = io.BytesIO()
        write(buf, schema, record)
        buf.getvalue()
    return len(records) / (time.perf_counter() - started)


# -- features: decode -> HSET pipelined per batch -----------------------------------------
@dataclass
class RedisWriter:
    """aiokafka + redis-py: decode each event, one HSET per entity and batch (its newest
    event), pipelined, into the keys and fields the features service writes for ``view``
    (Feast's layout). The value of every feature is the event's amount: no windows."""

    redis_url: str
    project: str
    view: str
    join_key: str
    features: Sequence[str]
    applied: int = 0

    async def run(self, bootstrap: str, topic: str, group: str, stopping: asyncio.Event
                  ) -> None:
        import redis.asyncio as aioredis

        schema = avro_schema("../domains/cards/card_transaction.avsc")
        fields = [layout.feature_field(self.view, f) for f in self.features]
        ts_field = layout.ts_field(self.view)
        async with AsyncExitStack() as closing:
            client = aioredis.Redis.from_url(self.redis_url)
            closing.push_async_callback(client.aclose)
            consumer = await _consumer(closing, bootstrap, topic, group)
            while not stopping.is_set():
                polled = await consumer.getmany(timeout_ms=100, max_records=BATCH)
                newest: dict[str, dict[str, Any]] = {}
                count = 0
                for batch in polled.values():
                    for r in batch:
                        event = fastavro.schemaless_reader(io.BytesIO(r.value[5:]), schema,
                                                           None)
                        newest[event[self.join_key]] = event
                        count += 1
                if not count:
                    continue
                pipe = client.pipeline(transaction=False)
                for entity, event in newest.items():
                    value = layout.encode_double(event["amount"])
                    mapping = {ts_field: layout.encode_timestamp(event["event_time"])}
                    mapping.update((f, value) for f in fields)
                    pipe.hset(layout.entity_key(self.project, self.join_key, entity),
                              mapping=mapping)  # type: ignore[arg-type]
                await pipe.execute()
                await consumer.commit()
                self.applied += count


# -- lookup: raw HMGET pipeline, Feast's SDK ---------------------------------------------
async def hmget_latencies(redis_url: str, project: str,
                          plan: Sequence[tuple[str, Sequence[str], Sequence[str]]],
                          rows: Sequence[dict[str, str]], repeats: int) -> list[float]:
    """Seconds per lookup of ``rows`` with one redis-py pipeline of HMGETs (``plan``: join
    key, view, feature names per view), keys built from the ids each time, replies raw."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    wanted = [(join_key, [layout.feature_field(view, f) for f in names])
              for join_key, view, names in plan]
    times = []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            pipe = client.pipeline(transaction=False)
            for join_key, fields in wanted:
                for row in rows:
                    pipe.hmget(layout.entity_key(project, join_key, row[join_key]), fields)
            await pipe.execute()
            times.append(time.perf_counter() - t0)
    finally:
        await client.aclose()
    return times


def feast_latencies(store: Any, service: str, rows: Sequence[dict[str, str]], repeats: int
                    ) -> list[float]:
    """Seconds per ``FeatureStore.get_online_features(...).to_dict()`` of ``rows``."""
    features = store.get_feature_service(service)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        store.get_online_features(features=features, entity_rows=list(rows)).to_dict()
        times.append(time.perf_counter() - t0)
    return times


# -- scorer: consume -> HMGET -> onnxruntime -> produce -----------------------------------
@dataclass(frozen=True)
class BareModel:
    """What the bare scorer needs: the ONNX bytes, its input and output names, its features
    in order, and which of them are online (read from Redis) rather than computed."""

    onnx: bytes
    input_name: str
    output_name: str
    features: tuple[str, ...]
    online_view: str
    join_key: str
    online: tuple[str, ...]


def _event_input(name: str, event: dict[str, Any]) -> float:
    if name == "log_amount":
        return math.log1p(max(float(event["amount"]), 0.0))
    if "=" in name:
        field, value = name.split("=", 1)
        return 1.0 if event[field] == value else 0.0
    return float(event[name])


async def _bare_scorer(bootstrap: str, source: str, sink: str, group: str, redis_url: str,
                       project: str, model: BareModel) -> None:
    import onnxruntime as ort
    import redis.asyncio as aioredis

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.onnx, options, providers=["CPUExecutionProvider"])
    event_schema = avro_schema("../domains/cards/card_transaction.avsc")
    prediction = avro_schema("prediction.avsc")
    header = b"\x00" + (1).to_bytes(4, "big")  # a fixed schema id: nobody decodes these
    fields = [layout.feature_field(model.online_view, f) for f in model.online]
    async with AsyncExitStack() as closing:
        redis = aioredis.Redis.from_url(redis_url)
        closing.push_async_callback(redis.aclose)
        consumer = await _consumer(closing, bootstrap, source, group)
        producer = await _producer(closing, bootstrap)
        while True:
            polled = await consumer.getmany(timeout_ms=100, max_records=2000)
            if not polled:
                continue
            records = [r for batch in polled.values() for r in batch]
            events = [fastavro.schemaless_reader(io.BytesIO(r.value[5:]), event_schema, None)
                      for r in records]
            entities = list(dict.fromkeys(e[model.join_key] for e in events))
            pipe = redis.pipeline(transaction=False)
            for entity in entities:
                pipe.hmget(layout.entity_key(project, model.join_key, entity), fields)
            online = {entity: {n: layout.decode_number(raw) or 0.0 for n, raw in zip(
                model.online, reply, strict=True)}
                for entity, reply in zip(entities, await pipe.execute(), strict=True)}
            rows = [[online[e[model.join_key]][n] if n in model.online else _event_input(n, e)
                     for n in model.features] for e in events]
            matrix = np.asarray(rows, np.float32)
            scores = session.run([model.output_name], {model.input_name: matrix})[0].reshape(-1)
            now = int(time.time() * 1000)
            out: dict[int, list[tuple[bytes | None, bytes]]] = {}
            for r, e, row, score in zip(records, events, rows, scores.tolist(), strict=True):
                buf = io.BytesIO()
                buf.write(header)
                fastavro.schemaless_writer(buf, prediction, {
                    "event_id": e["event_id"], "entity_id": e[model.join_key],
                    "model_name": "bare", "model_version": "v1", "score": score,
                    "label": int(score >= 0.5), "confidence": abs(score - 0.5) * 2,
                    "features": dict(zip(model.features, row, strict=True)),
                    "event_time": e["event_time"], "scored_at": now, "latency_ms": 0.0})
                out.setdefault(r.partition, []).append((e["event_id"].encode(), buf.getvalue()))
            await _send_by_partition(producer, sink, out)
            await consumer.commit()


def bare_scorer(bootstrap: str, source: str, sink: str, group: str, redis_url: str,
                project: str, model: BareModel) -> None:
    """Process target: the scorer's loop with nothing but aiokafka, redis-py, onnxruntime and
    fastavro; predictions go to the partition the event came from."""
    asyncio.run(_bare_scorer(bootstrap, source, sink, group, redis_url, project, model))


# -- monitor: River's detectors --------------------------------------------------------------
def river_detector_rate(streams: Sequence[Sequence[float]], errors: Sequence[int]) -> float:
    """Predictions/s through River's ``drift.PageHinkley`` on every stream of a prediction
    (its features and score: one row per prediction) and ``drift.ADWIN`` on each labelled
    error, default parameters (the monitor's)."""
    from river import drift

    detectors = [drift.PageHinkley() for _ in streams[0]]
    adwin = drift.ADWIN()
    started = time.perf_counter()
    for row in streams:
        for detector, value in zip(detectors, row, strict=True):
            detector.update(value)
    for error in errors:
        adwin.update(error)
    return len(streams) / (time.perf_counter() - started)
