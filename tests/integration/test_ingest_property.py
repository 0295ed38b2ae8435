"""Property: whatever applications send, ingest never crashes and accounts for every input
exactly once (valid + dead-lettered = sent), over events.raw and over HTTP."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from tests.integration.kafka_helpers import drain, produce

SCHEMA = "driftloop.cards.CardTransaction"
NOW = int(time.time() * 1000)
FIELDS = ["event_id", "card_id", "merchant_id", "amount", "currency", "merchant_category",
          "channel", "country", "event_time"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
valid_events = st.fixed_dictionaries({
    "card_id": st.text("abc123", min_size=1, max_size=8),
    "merchant_id": st.text("mxyz", min_size=1, max_size=8),
    "amount": st.floats(0, 1_000_000, allow_nan=False),
    "currency": st.sampled_from(["EUR", "USD", "GBP", "CHF", "JPY", "OTHER"]),
    "merchant_category": st.from_regex(r"\A[0-9]{4}\Z"),
    "channel": st.sampled_from(["POS", "ONLINE", "ATM", "CONTACTLESS", "OTHER"]),
    "country": st.from_regex(r"\A[A-Z]{2}\Z"),
    "event_time": st.integers(NOW - 3_600_000, NOW + 3_600_000),
})


@st.composite
def broken_events(draw: Any) -> dict[str, Any]:
    event = dict(draw(valid_events))
    how = draw(st.sampled_from(["replace", "delete", "extra"]))
    name = draw(st.sampled_from(FIELDS[1:]))
    if how == "replace":
        event[name] = draw(json_values)
    elif how == "delete":
        event.pop(name, None)
    else:
        event[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in FIELDS))] = 1
    return event


payloads = st.one_of(
    valid_events.map(lambda e: ("event", e)),
    broken_events().map(lambda e: ("event", e)),
    json_values.map(lambda v: ("json", v)),
    st.binary(max_size=200).map(lambda b: ("bytes", b)),
    valid_events.map(lambda e: ("avro", e)),
    st.tuples(valid_events, st.binary(min_size=1, max_size=20)).map(lambda t: ("avro+junk", t)),
)


def to_json(value: Any) -> bytes:
    """The standard library writes what applications really send: NaN, huge integers..."""
    return json.dumps(value).encode()


def generate(n: int) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(payloads)
    def collect(payload: tuple[str, Any]) -> None:
        out.append(payload)

    collect()
    return out


async def test_every_input_accounted_for_exactly_once(ingest, kafka_bootstrap: str) -> None:
    service, client = ingest
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    generated = generate(2400)
    kafka_values: list[bytes] = []
    http_lines: list[bytes] = []
    event_ids: dict[bytes, str] = {}
    for i, (kind, value) in enumerate(generated):
        if kind == "event":
            value = {**value, "event_id": f"p{i}"}
            data = to_json(value)
            event_ids[data] = f"p{i}"
            (http_lines if i % 2 else kafka_values).append(data)
        elif kind == "json":
            (http_lines if i % 2 else kafka_values).append(to_json(value))
        elif kind == "bytes":
            kafka_values.append(value)
        else:
            event, junk = (value, b"") if kind == "avro" else value
            data = codec.encode(SCHEMA, {**event, "event_id": f"p{i}"}) + junk
            event_ids[data] = f"p{i}"
            kafka_values.append(data)
    kafka_values = list(dict.fromkeys(kafka_values))  # identical random bytes: count once
    http_lines = [line for line in dict.fromkeys(http_lines) if line.strip()]
    sent = len(kafka_values) + len(http_lines)
    assert sent >= 2000

    await produce(kafka_bootstrap, service.topics.raw, [(None, v) for v in kafka_values])
    for start in range(0, len(http_lines), 500):
        reply = await client.post("/events", content=b"\n".join(http_lines[start:start + 500]),
                                  headers={"content-type": "application/x-ndjson"})
        assert reply.status_code == 200
        assert len(reply.json()["results"]) == len(http_lines[start:start + 500])

    valid = await drain(kafka_bootstrap, service.topics.valid, 1, timeout_s=5)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, sent - len(valid),
                       timeout_s=60, settle_s=1.0)
    valid = await drain(kafka_bootstrap, service.topics.valid, sent - len(dead),
                        timeout_s=30, settle_s=1.0)
    assert len(valid) + len(dead) == sent

    valid_ids = Counter(codec.decode(r.value, SCHEMA)["event_id"] for r in valid)
    dead_originals = Counter(codec.decode(r.value, "driftloop.ops.DeadLetter")["original"]
                             for r in dead)
    expected = Counter([*kafka_values, *http_lines])
    for data, times in expected.items():
        seen = dead_originals[data] + valid_ids.get(event_ids.get(data, ""), 0)
        assert seen == times, data[:80]
    # Both outcomes really happened, in numbers the generator makes likely.
    assert len(valid) > 500 and len(dead) > 500
