"""Scorer benchmark: the scorer as its own process (``python -m services.scorer``) against the
embedded broker and a private Redis holding online features. Prints time to ready, end-to-end
throughput on a backlog (consume -> features -> infer -> publish), p50/p99 event-to-prediction
latency at a paced 5,000 events/s, and the scorer's RSS."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.messaging import ensure_topics
from driftloop.messaging.embedded_broker import EmbeddedBroker
from driftloop.registry import ModelRegistry
from driftloop.runtime import CommonSettings
from tests.integration.test_scorer import FEATURES, write_features
from tests.unit.scorer.onnx_factory import logistic_onnx, metadata

SCHEMA = "driftloop.cards.CardTransaction"
BACKLOG = 50_000
RATE, SECONDS = 5_000, 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event(i: int, now_ms: int) -> dict[str, object]:
    return {"event_id": f"b{i}", "card_id": f"card-{i % 20}", "merchant_id": f"m{i % 97}",
            "amount": float(i % 500), "currency": "EUR", "merchant_category": "5411",
            "channel": "ONLINE" if i % 3 == 0 else "POS", "country": "DE",
            "event_time": now_ms}


async def count_predictions(bootstrap: str, topic: str, expected: int, timeout_s: float
                            ) -> list[int]:
    """Prediction record timestamps (ms) until ``expected`` arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=10)
    await consumer.start()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(stamps) < expected and time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                stamps.extend(r.timestamp for r in part)
    finally:
        await consumer.stop()
    return stamps


async def run(bootstrap: str, redis_url: str, data_dir: Path) -> None:
    prefix = f"bench{int(time.time())}."
    topics = CommonSettings(topic_prefix=prefix).topics()  # type: ignore[call-arg]
    await ensure_topics(bootstrap, topics.all_names(), 4)
    await write_features(redis_url)
    registry = ModelRegistry(str(data_dir / "registry"))
    mv = registry.register("fraud", logistic_onnx([0.2, 0.5, 1.0, -0.01], -2.0),
                           metadata(FEATURES))
    registry.promote("fraud", mv.version, "bench", "bench")
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                max_batch_size=1 << 20)
    await producer.start()
    now_ms = int(time.time() * 1000)
    futures = []
    for i in range(BACKLOG):
        e = event(i, now_ms)
        futures.append(await producer.send(topics.valid, codec.encode(SCHEMA, e),
                                           key=str(e["card_id"]).encode()))
    await asyncio.gather(*futures)

    port = free_port()
    env = {**os.environ, "DRIFTLOOP_KAFKA_BOOTSTRAP": bootstrap, "DRIFTLOOP_TOPIC_PREFIX": prefix,
           "DRIFTLOOP_DATA_DIR": str(data_dir), "DRIFTLOOP_REDIS_URL": redis_url,
           "DRIFTLOOP_SCORER_PORT": str(port), "DRIFTLOOP_SCORER_GROUP": f"{prefix}scorer",
           "DRIFTLOOP_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "services.scorer"], env=env)
    try:
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.02)
        ready_s = time.monotonic() - started
        print(f"time to ready: {ready_s:.2f} s")
        stamps = await count_predictions(bootstrap, topics.predictions, BACKLOG, 120)
        span_s = (max(stamps) - min(stamps)) / 1000
        print(f"throughput (backlog of {BACKLOG:,}, Redis features): "
              f"{len(stamps) / max(span_s, 1e-3):,.0f} events/s")

        # Paced load: send RATE events/s; latency = prediction time - event produce time.
        sent: dict[bytes, int] = {}
        futures = []
        t0 = time.monotonic()
        for i in range(RATE * SECONDS):
            due = t0 + i / RATE
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            e = event(BACKLOG + i, int(time.time() * 1000))
            key = str(e["event_id"]).encode()
            sent[key] = int(time.time() * 1000)
            futures.append(await producer.send(topics.valid, codec.encode(SCHEMA, e),
                                               key=str(e["card_id"]).encode(),
                                               timestamp_ms=sent[key]))
        await asyncio.gather(*futures)
        achieved = RATE * SECONDS / (time.monotonic() - t0)
        consumer = AIOKafkaConsumer(topics.predictions, bootstrap_servers=bootstrap,
                                    group_id=None, auto_offset_reset="earliest",
                                    fetch_max_wait_ms=10)
        await consumer.start()
        latencies: list[int] = []
        deadline = time.monotonic() + 60
        while len(latencies) < RATE * SECONDS and time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                latencies.extend(r.timestamp - sent[r.key] for r in part if r.key in sent)
        await consumer.stop()
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[int(len(latencies) * 0.99)]
        print(f"latency at {achieved:,.0f} events/s offered ({len(latencies):,} events): "
              f"p50 {p50} ms, p99 {p99} ms, max {latencies[-1]} ms")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        print(f"scorer RSS: {rss.split()[1]} kB now, {hwm.split()[1]} kB peak")
    finally:
        await producer.stop()
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    binary = shutil.which("redis-server") or "redis-server"
    redis_port = free_port()
    redis = subprocess.Popen([binary, "--port", str(redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(broker.bootstrap, f"redis://127.0.0.1:{redis_port}/0", Path(tmp)))
    finally:
        redis.terminate()
        redis.wait(timeout=5)
        broker.stop()


if __name__ == "__main__":
    main()
