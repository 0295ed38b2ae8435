"""Ingest throughput and added latency, one ingest process, over events.raw and HTTP; beside
its anchors in the same run: an aiokafka batch passthrough process (events.raw -> out, no
parsing or validation) on the same backlog, and fastavro's ``schemaless_writer`` alone on the
same events."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.anchors import Figure, fastavro_encode_rate, passthrough, print_figures, spawned
from bench.stack import embedded_broker, free_port, percentile, scaled, service_process
from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.messaging import ensure_topics

N_RAW = 200_000
N_HTTP = 100_000
HTTP_BATCH = 500


def events(n: int, prefix: str) -> list[bytes]:
    now = int(time.time() * 1000)
    return [orjson.dumps({
        "event_id": f"{prefix}{i}", "card_id": f"card-{i % 5000}", "merchant_id": f"m{i % 300}",
        "amount": float(i % 997) + 0.5, "currency": "EUR", "merchant_category": "5411",
        "channel": "POS", "country": "DE", "event_time": now,
    }) for i in range(n)]


async def preload(bootstrap: str, topic: str, values: list[bytes]) -> float:
    """Produce ``values`` round-robin over the partitions in 1 MiB batches; returns the wall
    time the first batch was sent. The batches are built before that, so the clock of the
    backlog measure does not include this process's own encoding work."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        batches = [producer.create_batch()]
        for value in values:
            if batches[-1].append(key=None, value=value, timestamp=None) is None:
                batches.append(producer.create_batch())
                batches[-1].append(key=None, value=value, timestamp=None)
        started, n = time.time(), len(partitions)
        futures = [await producer.send_batch(batch, topic, partition=partitions[i % n])
                   for i, batch in enumerate(batches)]
        await asyncio.gather(*futures)
        return started
    finally:
        await producer.stop()


async def count_until(bootstrap: str, topic: str, n: int, timeout_s: float = 120) -> float:
    """Consume ``topic`` until ``n`` records; returns the wall time the last one arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=10,
                                max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    seen, last = 0, time.time()
    deadline = time.monotonic() + timeout_s
    try:
        while seen < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=100, max_records=10_000)).values():
                now = time.time()
                seen += len(records)
                last = now
    finally:
        await consumer.stop()
    if seen < n:
        raise RuntimeError(f"only {seen}/{n} records on {topic}")
    return last


async def backlog_rate(bootstrap: str, source: str, sink: str, n: int, prefix: str) -> float:
    """Events/s of whatever moves ``source`` to ``sink``: one event through first (so the
    consumer group has joined), then the clock runs from the first batch of ``n`` offered to
    the last one arriving on ``sink`` (the reader drains while the rest is still arriving)."""
    await preload(bootstrap, source, events(1, f"{prefix}warmup"))
    await count_until(bootstrap, sink, 1)
    started = await preload(bootstrap, source, events(n, prefix))
    last = await count_until(bootstrap, sink, n + 1)
    return n / (last - started)


async def run(anchors: bool = True) -> None:
    n_raw, n_http = scaled(N_RAW, 1000), scaled(N_HTTP, 4 * HTTP_BATCH)
    with embedded_broker() as bootstrap:
        port = free_port()
        prefix = "bench."
        env = {"DRIFTLOOP_KAFKA_BOOTSTRAP": bootstrap, "DRIFTLOOP_TOPIC_PREFIX": prefix,
               "DRIFTLOOP_INGEST_PORT": str(port), "DRIFTLOOP_LOG_LEVEL": "WARNING",
               "DRIFTLOOP_TOPIC_PARTITIONS": "4"}
        base = f"http://127.0.0.1:{port}"
        rows = []
        figures = []
        with service_process("ingest", env, f"{base}/readyz"):
            # /readyz answers once the broker and topics are there, but the consumer group
            # join takes a few seconds more on Tansu (it holds JoinGroup for about half the
            # session timeout, 10 s in aiokafka): one event through first (backlog_rate), so
            # that no measure below includes the join.
            # 1. events.raw backlog: the clock starts when the first batch is offered; ingest
            # drains the topic while the rest is still arriving (much faster than it reads).
            raw_rate = await backlog_rate(bootstrap, f"{prefix}events.raw",
                                          f"{prefix}events.valid", n_raw, "r")
            rows.append(("events.raw backlog", raw_rate, "", ""))
            if anchors:
                figures += await anchor_figures(bootstrap, prefix, n_raw, raw_rate)

            # 2. HTTP batches of 500 from 4 concurrent clients.
            bodies = [b"[" + b",".join(chunk) + b"]" for chunk in
                      (lambda evs: [evs[i:i + HTTP_BATCH] for i in range(0, len(evs), HTTP_BATCH)])(
                          events(n_http, "h"))]
            latencies: list[float] = []

            async def client(part: list[bytes]) -> None:
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    for body in part:
                        t0 = time.perf_counter()
                        reply = await http.post("/events", content=body)
                        reply.raise_for_status()
                        latencies.append((time.perf_counter() - t0) * 1000)

            t0 = time.perf_counter()
            await asyncio.gather(*(client(bodies[i::4]) for i in range(4)))
            elapsed = time.perf_counter() - t0
            rows.append((f"HTTP batches of {HTTP_BATCH}", n_http / elapsed,
                         f"{percentile(latencies, 0.5):.1f}", f"{percentile(latencies, 0.99):.1f}"))

            # 3. Added latency at a steady 5,000 events/s over events.raw.
            lat: list[float] = []
            rate, seconds = 5000, scaled(5)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
            await producer.start()
            consumer_lat = asyncio.create_task(latency_probe(bootstrap, prefix, rate * seconds,
                                                             lat))
            await asyncio.sleep(0.5)  # let the probe join at the end of the topic
            for tick in range(seconds * 100):
                now_ms = time.time() * 1000
                for j in range(rate // 100):
                    i = tick * 1000 + j
                    await producer.send(f"{prefix}events.raw", orjson.dumps({
                        "event_id": f"l{i}", "card_id": f"card-{i % 5000}", "merchant_id": "m1",
                        "amount": 1.0, "currency": "EUR", "merchant_category": "5411",
                        "channel": "POS", "country": "DE", "event_time": int(now_ms)}),
                        timestamp_ms=int(now_ms))
                await asyncio.sleep(max(0.0, 0.01 - (time.time() * 1000 - now_ms) / 1000))
            await producer.stop()
            await consumer_lat
            rows.append(("events.raw at 5,000/s", float("nan"),
                         f"{percentile(lat, 0.5):.1f}", f"{percentile(lat, 0.99):.1f}"))
    print(f"{'path':<28}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for name, rate_, p50, p99 in rows:
        shown = "" if rate_ != rate_ else f"{rate_:,.0f}"
        print(f"{name:<28}{shown:>12}{p50:>10}{p99:>10}")
    if figures:
        print_figures(figures)


async def anchor_figures(bootstrap: str, prefix: str, n: int, raw_rate: float
                         ) -> list[Figure]:
    """The same backlog through a bare passthrough process, and fastavro encoding alone."""
    source, sink = f"{prefix}anchor.raw", f"{prefix}anchor.out"
    await ensure_topics(bootstrap, [source, sink], 4)
    with spawned(passthrough, bootstrap, source, sink, f"{prefix}anchor"):
        passed = await backlog_rate(bootstrap, source, sink, n, "a")
    records = [orjson.loads(e) for e in events(n, "f")]
    encoded = fastavro_encode_rate(records, "../domains/cards/card_transaction.avsc")
    return [Figure("events.raw backlog vs aiokafka passthrough", raw_rate, passed,
                   "events/s", ">= 0.3x"),
            Figure("events.raw backlog vs fastavro encode alone", raw_rate, encoded,
                   "events/s")]


async def latency_probe(bootstrap: str, prefix: str, n: int, out: list[float]) -> None:
    """Added latency: arrival on events.valid minus the event_time the producer stamped at
    send time (the steady phase sets event_time = send time). Only this phase's events (ids
    ``l...``) count: on Tansu, "latest" is the start of the last record batch of a partition,
    not its end, so a consumer starting there first reads the tail of the previous phase (the
    HTTP events, stamped seconds earlier): that alone made the p99 of this measure 2-5 s."""
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    consumer = AIOKafkaConsumer(f"{prefix}events.valid", bootstrap_servers=bootstrap,
                                group_id=None, auto_offset_reset="latest", fetch_max_wait_ms=5)
    await consumer.start()
    deadline = time.monotonic() + 60
    try:
        while len(out) < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time() * 1000
                for r in records:
                    event = codec.decode(r.value)
                    if event["event_id"].startswith("l"):
                        out.append(now - event["event_time"].timestamp() * 1000)
    finally:
        await consumer.stop()


def main(anchors: bool = True) -> None:
    asyncio.run(run(anchors))


if __name__ == "__main__":
    main()
