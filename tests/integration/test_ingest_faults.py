"""Ingest against the real broker, on the faults a fuzz and a corrupt-artifact campaign found
(issue 14): what reaches events.valid, what is dead-lettered and with which reason."""

from __future__ import annotations

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
