"""An ordinary Kafka client reads what ingest writes. Both sides of this test that touch Kafka
are librdkafka (confluent-kafka), with no driftloop code: events go in as any application
would send them, and events.valid / events.deadletter are read back the way kcat -C reads a
topic (assign every partition from the beginning, no consumer group), the Confluent wire
format is taken apart by hand and the Avro body decoded with fastavro from schemas/*.avsc."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
from pathlib import Path
from typing import Any

import fastavro
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EVENT_SCHEMA = "driftloop.cards.CardTransaction"
DEAD_LETTER_SCHEMA = "driftloop.ops.DeadLetter"


def avro_schema(file: str) -> Any:
    return fastavro.parse_schema(json.loads((SCHEMAS / file).read_text()))


def event(i: int, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": f"p{i}", "card_id": f"card-{i}", "merchant_id": "m1", "amount": 10.0 + i,
        "currency": "EUR", "merchant_category": "5411", "channel": "POS", "country": "DE",
        "event_time": int(time.time() * 1000),
    }
    base.update(overrides)
    return base


def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors: list[object] = []
    for key, value in values:
        producer.produce(topic, value, key,
                         on_delivery=lambda err, _msg: errors.append(err) if err else None)
    assert producer.flush(30) == 0 and errors == []


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0,
               settle_s: float = 0.5) -> list[Message]:
    """Every partition from the beginning, until ``expected`` records (then ``settle_s`` more
    so an extra record would be seen). librdkafka wants a group.id even though assign() never
    joins a group nor commits; it is not used."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "plain-reader",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(partitions)])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < (settle_until or deadline):
            message = consumer.poll(0.1)
            if message is None:
                continue
            assert message.error() is None, message.error()
            messages.append(message)
            if len(messages) >= expected and settle_until is None:
                settle_until = time.monotonic() + settle_s
        return messages
    finally:
        consumer.close()


def wire_format(value: bytes) -> tuple[int, bytes]:
    """Confluent wire format: magic byte 0, 4-byte big-endian schema id, the Avro body."""
    magic, schema_id = struct.unpack(">bI", value[:5])
    assert magic == 0
    return schema_id, value[5:]


async def test_plain_client_reads_valid_and_deadletter(ingest, kafka_bootstrap: str) -> None:
    service, client = ingest
    topics = service.topics
    # Over HTTP: two valid events and one with a negative amount.
    reply = await client.post("/events", json=[event(1), event(2, amount=-1.0), event(3)])
    assert reply.json()["accepted"] == 2
    # Over events.raw, from a plain librdkafka producer: one valid, one that is not JSON.
    raw = [(b"p4", orjson.dumps(event(4))), (b"p5", b"{not json")]
    await asyncio.to_thread(produce, kafka_bootstrap, topics.raw, raw)

    valid = await asyncio.to_thread(read_topic, kafka_bootstrap, topics.valid, 3)
    dead = await asyncio.to_thread(read_topic, kafka_bootstrap, topics.deadletter, 2)
    raw_read = await asyncio.to_thread(read_topic, kafka_bootstrap, topics.raw, 2)

    # events.valid: keyed by card, Avro in the wire format, a W3C traceparent per event.
    event_schema = avro_schema("../domains/cards/card_transaction.avsc")
    decoded = {}
    for message in valid:
        schema_id, body = wire_format(message.value())
        assert schema_id == service.codec.schema_id(EVENT_SCHEMA)
        record = fastavro.schemaless_reader(io.BytesIO(body), event_schema)
        assert message.key() == record["card_id"].encode()
        assert dict(message.headers())["traceparent"].startswith(b"00-")
        decoded[record["event_id"]] = record
    assert sorted(decoded) == ["p1", "p3", "p4"]
    assert decoded["p4"]["amount"] == 14.0 and decoded["p4"]["currency"] == "EUR"

    # events.deadletter: the reason in driftloop.error.* headers and in the DeadLetter value.
    letter_schema = avro_schema("dead_letter.avsc")
    letters = {}
    for message in dead:
        headers = {k: v.decode() for k, v in message.headers()}
        schema_id, body = wire_format(message.value())
        assert schema_id == service.codec.schema_id(DEAD_LETTER_SCHEMA)
        letter = fastavro.schemaless_reader(io.BytesIO(body), letter_schema)
        assert letter["error_class"] == headers["driftloop.error.class"]
        assert letter["reason"] == headers["driftloop.error.message"]
        assert headers["driftloop.error.service"] == "ingest"
        letters[headers["driftloop.error.topic"]] = (headers, letter)
    assert sorted(letters) == sorted(["http", topics.raw])

    http_headers, http_letter = letters["http"]
    assert http_headers["driftloop.error.class"] == "out_of_range"
    assert http_headers["driftloop.error.field"] == "amount"
    assert "driftloop.error.offset" not in http_headers
    assert orjson.loads(http_letter["original"])["event_id"] == "p2"

    raw_headers, raw_letter = letters[topics.raw]
    assert raw_headers["driftloop.error.class"] == "malformed_json"
    source = next(m for m in raw_read if m.key() == b"p5")
    assert (int(raw_headers["driftloop.error.partition"]),
            int(raw_headers["driftloop.error.offset"])) == (source.partition(), source.offset())
    assert (raw_letter["source_partition"], raw_letter["source_offset"]) == (
        source.partition(), source.offset())
    assert raw_letter["original"] == b"{not json"
