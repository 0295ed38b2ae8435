"""Ingest against the real broker: HTTP batches and events.raw land in the right topics."""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from tests.integration.kafka_helpers import drain, produce

SCHEMA = "driftloop.cards.CardTransaction"


def event(i: int, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": f"e{i}", "card_id": f"card-{i % 7}", "merchant_id": "m1", "amount": 10.0 + i,
        "currency": "EUR", "merchant_category": "5411", "channel": "POS", "country": "DE",
        "event_time": int(time.time() * 1000),
    }
    base.update(overrides)
    return base


def codec() -> AvroCodec:
    schemas = load_schemas()
    return AvroCodec(schemas, LocalSchemaRegistry(schemas))


async def test_http_batch_routes_valid_and_invalid(ingest, kafka_bootstrap: str) -> None:
    service, client = ingest
    batch = [event(1), event(2, amount=-5.0),
             event(3), {"event_id": "e4"}, event(5, extra="x")]
    reply = await client.post("/events", json=batch)
    assert reply.status_code == 200
    body = reply.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    assert [r["accepted"] for r in body["results"]] == [True, False, True, False, False]
    assert [r.get("error") for r in body["results"]] == [
        None, "out_of_range", None, "missing_field", "unknown_field"]

    valid = await drain(kafka_bootstrap, service.topics.valid, 2)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 3)
    assert sorted(r.key for r in valid) == [b"card-1", b"card-3"]
    decoded = [codec().decode(r.value, SCHEMA) for r in valid]
    assert sorted(d["event_id"] for d in decoded) == ["e1", "e3"]
    assert all(dict(r.headers)["traceparent"].startswith(b"00-") for r in valid)
    reasons = sorted(dict(r.headers)["driftloop.error.class"] for r in dead)
    assert reasons == [b"missing_field", b"out_of_range", b"unknown_field"]
    letter = codec().decode(dead[0].value, "driftloop.ops.DeadLetter")
    assert letter["source"] == "http" and letter["service"] == "ingest"


async def test_http_limits(ingest) -> None:
    service, client = ingest
    too_big = b"[" + b" " * (service.settings.ingest_max_body_bytes + 1) + b"]"
    assert (await client.post("/events", content=too_big)).status_code == 413
    reply = await client.post("/events", content=b"[{not json")
    assert reply.status_code == 400 and reply.json()["detail"]["error"] == "malformed_json"


async def test_raw_topic_json_and_avro(ingest, kafka_bootstrap: str) -> None:
    service, _ = ingest
    good_avro = codec().encode(SCHEMA, event(10))
    bomb = good_avro[:5] + b"\x02a" + b"\xfe\xff\xff\xff\x0f"
    values = [
        (b"e11", orjson.dumps(event(11))),
        (b"e10", good_avro),
        (None, b"\xff\xfe not utf8"),
        (None, bomb),
        (None, b'{"event_id": "e12", "amount": NaN}'),
    ]
    await produce(kafka_bootstrap, service.topics.raw, values)
    valid = await drain(kafka_bootstrap, service.topics.valid, 2)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 3)
    assert sorted(codec().decode(r.value, SCHEMA)["event_id"] for r in valid) == ["e10", "e11"]
    assert len(dead) == 3
    headers = [dict(r.headers) for r in dead]
    assert all(h["driftloop.error.topic"] == service.topics.raw.encode() for h in headers)
    raw = {(r.partition, r.offset): r.value for r in
           await drain(kafka_bootstrap, service.topics.raw, len(values))}
    for record, h in zip(dead, headers, strict=True):
        position = (int(h["driftloop.error.partition"]), int(h["driftloop.error.offset"]))
        assert codec().decode(record.value, "driftloop.ops.DeadLetter")["original"] == raw[position]
    assert sorted(h["driftloop.error.class"] for h in headers) == [
        b"malformed_avro", b"malformed_json", b"malformed_json"]



async def test_raw_offsets_are_committed_once_outputs_are_acknowledged(
        ingest, kafka_bootstrap: str) -> None:
    """The events.raw loop runs pipelined (the next batch is validated while the broker
    acknowledges the previous one): every output still lands, and the group's committed
    offsets reach the end of events.raw, so a restart would re-read nothing."""
    service, _ = ingest
    values = [(f"e{i}".encode(), orjson.dumps(event(i))) for i in range(300)]
    values += [(None, b"{bad")] * 20
    await produce(kafka_bootstrap, service.topics.raw, values)
    valid = await drain(kafka_bootstrap, service.topics.valid, 300)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 20)
    assert sorted(codec().decode(r.value, SCHEMA)["event_id"] for r in valid) == sorted(
        f"e{i}" for i in range(300))
    assert len(dead) == 20
    # The group's committed offsets, read without joining it (assign, never subscribe).
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap,
                              group_id=service.settings.ingest_group, enable_auto_commit=False)
    await reader.start()
    try:
        await reader.topics()  # metadata
        partitions = [TopicPartition(service.topics.raw, p)
                      for p in reader.partitions_for_topic(service.topics.raw) or ()]
        assert partitions
        reader.assign(partitions)
        committed = 0
        for _ in range(100):
            committed = sum([await reader.committed(tp) or 0 for tp in partitions])
            if committed == len(values):
                break
            await asyncio.sleep(0.1)
        assert committed == len(values)
    finally:
        await reader.stop()
