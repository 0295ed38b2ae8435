"""Ingest against the real broker, on the faults a fuzz and a corrupt-artifact campaign found
(issue 14): what reaches events.valid, what is dead-lettered and with which reason."""

from __future__ import annotations

import orjson

from tests.integration.kafka_helpers import drain, produce
from tests.integration.test_ingest import SCHEMA, codec, event


async def test_avro_with_trailing_bytes_is_dead_lettered(ingest, kafka_bootstrap: str) -> None:
    """Garbage after a complete record of a flat schema once reached events.valid."""
    service, _ = ingest
    good = codec().encode(SCHEMA, event(1))
    padded = codec().encode(SCHEMA, event(2)) + b"\x02zz"
    await produce(kafka_bootstrap, service.topics.raw, [(b"e1", good), (b"e2", padded)])
    valid = await drain(kafka_bootstrap, service.topics.valid, 1)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 1)
    assert [codec().decode(r.value, SCHEMA)["event_id"] for r in valid] == ["e1"]
    assert [dict(r.headers)["driftloop.error.class"] for r in dead] == [b"trailing_bytes"]
    letter = codec().decode(dead[0].value, "driftloop.ops.DeadLetter")
    assert letter["error_class"] == "trailing_bytes"
    assert letter["original"] == padded


SYNTAX_FAULTS = [b'{"event_id": "e2", "amount": NaN}', b'{"event_id": "\xff\xfe"}',
                 b"[" * 1100 + b"]" * 1100]


async def test_json_array_with_a_syntax_fault_is_refused_and_nothing_published(
        ingest, kafka_bootstrap: str) -> None:
    """Once answered 200 with one malformed_json dead letter for the whole body: the valid
    events beside the bad item were neither published nor refused."""
    service, client = ingest
    for fault in SYNTAX_FAULTS:
        body = b"[" + orjson.dumps(event(1)) + b"," + fault + b"," + orjson.dumps(event(3)) + b"]"
        reply = await client.post("/events", content=body,
                                  headers={"content-type": "application/json"})
        assert reply.status_code == 400
        detail = reply.json()["detail"]
        assert detail["error"] == "malformed_json"
        assert detail["reason"].startswith("batch is not a JSON array: ")
    # A marker batch after them: once it is on the topics, anything of the refused bodies
    # would be too (one producer, replies after acknowledgement).
    marker = await client.post("/events", json=[event(9), {"event_id": "e10"}])
    assert marker.status_code == 200
    valid = await drain(kafka_bootstrap, service.topics.valid, 1)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 1)
    assert [codec().decode(r.value, SCHEMA)["event_id"] for r in valid] == ["e9"]
    assert [dict(r.headers)["driftloop.error.class"] for r in dead] == [b"missing_field"]


async def test_ndjson_syntax_faults_are_dead_lettered_line_by_line(
        ingest, kafka_bootstrap: str) -> None:
    service, client = ingest
    body = b"\n".join([orjson.dumps(event(1)), *SYNTAX_FAULTS, orjson.dumps(event(5))])
    reply = await client.post("/events", content=body,
                              headers={"content-type": "application/x-ndjson"})
    assert reply.status_code == 200
    assert [r.get("error") for r in reply.json()["results"]] == [
        None, "malformed_json", "malformed_json", "malformed_json", None]
    valid = await drain(kafka_bootstrap, service.topics.valid, 2)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 3)
    assert sorted(codec().decode(r.value, SCHEMA)["event_id"] for r in valid) == ["e1", "e5"]
    originals = sorted(codec().decode(r.value, "driftloop.ops.DeadLetter")["original"]
                       for r in dead)
    assert originals == sorted(SYNTAX_FAULTS)
