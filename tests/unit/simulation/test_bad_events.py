"""The demo's broken payloads: seeded, extra to the stream, and every one refused by ingest's
checker with the reason its breakage names."""

from __future__ import annotations

import pytest

from driftloop.contracts import AvroCodec, Domain, RecordValidator, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.simulation import SimulatorConfig, TransactionSimulator, stream_for
from driftloop.simulation.bad_events import BadEvents, breakages
from services.ingest.event_checker import Accepted, EventChecker, Rejected

START_MS = 1_767_225_600_000
EXPECTED = {
    "missing_field": "missing_field",
    "number_as_text": "wrong_type",
    "below_minimum": "out_of_range",
    "unknown_symbol": "invalid_enum",
    "far_future": "time_in_future",
    "extra_field": "unknown_field",
    "null_entity": "wrong_type",
}
# a domain whose schema has no enum gets every other breakage
EXPECTED_BY_DOMAIN = {"cards": EXPECTED,
                      "loans": {k: v for k, v in EXPECTED.items() if k != "unknown_symbol"}}


@pytest.mark.parametrize("name", sorted(EXPECTED_BY_DOMAIN))
def test_every_breakage_is_refused_with_its_reason(name: str) -> None:
    schemas = load_schemas()
    domain = Domain.load(name)
    schema = schemas[domain.event_schema]
    checker = EventChecker(AvroCodec(schemas, LocalSchemaRegistry(schemas)),
                           RecordValidator(schema), domain)
    event = stream_for(domain, seed=3, rate=200.0, start_ms=START_MS).take(1)[0].event
    assert isinstance(checker.check_object(event, None, START_MS), Accepted)
    got = {}
    for breakage_name, breakage in breakages(schema.raw, domain).items():
        result = checker.check_object(breakage(dict(event)), None, START_MS)
        assert isinstance(result, Rejected), breakage_name
        got[breakage_name] = result.error_class
    assert got == EXPECTED_BY_DOMAIN[name]


def test_seeded_and_extra_to_the_stream() -> None:
    events = [e.event for e in TransactionSimulator(
        SimulatorConfig(seed=3, start_ms=START_MS)).take(2000)]
    domain = Domain.load("cards")
    schema = load_schemas()[domain.event_schema].raw
    first, second = (BadEvents(seed=3, rate=0.01, schema=schema, domain=domain)
                     for _ in range(2))
    batches = [events[start:start + 100] for start in range(0, 2000, 100)]
    a = [p for batch in batches for p in first.broken_copies(batch)]
    b = [p for batch in batches for p in second.broken_copies(batch)]
    assert a == b and len(a) == first.sent == sum(first.by_breakage.values())
    assert 5 <= len(a) <= 40  # about 1% of 2,000
    ids = [p.get("event_id") for p in a]
    assert ids == [f"bad-3-{i}" for i in range(len(a))]
    assert all(e["event_id"].startswith("s3-") for e in events)  # the stream is untouched
