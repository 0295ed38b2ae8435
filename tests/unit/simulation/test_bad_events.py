"""The demo's broken payloads: seeded, extra to the stream, and every one refused by ingest's
checker with the reason its breakage names."""

from __future__ import annotations

import pytest

from driftloop.contracts import AvroCodec, Domain, RecordValidator, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.simulation import SimulatorConfig, TransactionSimulator
from driftloop.simulation.bad_events import BREAKAGES, BadEvents
from services.ingest.event_checker import Accepted, EventChecker, Rejected

START_MS = 1_767_225_600_000
EXPECTED = {
    "missing_amount": "missing_field",
    "amount_as_text": "wrong_type",
    "negative_amount": "out_of_range",
    "unknown_channel": "invalid_enum",
    "far_future": "time_in_future",
    "extra_field": "unknown_field",
    "null_card": "wrong_type",
}


@pytest.fixture(scope="module")
def checker() -> EventChecker:
    schemas = load_schemas()
    domain = Domain.load("cards")
    return EventChecker(AvroCodec(schemas, LocalSchemaRegistry(schemas)),
                        RecordValidator(schemas[domain.event_schema]), domain)


def test_every_breakage_is_refused_with_its_reason(checker: EventChecker) -> None:
    event = TransactionSimulator(SimulatorConfig(seed=3, start_ms=START_MS)).next().event
    assert isinstance(checker.check_object(event, None, START_MS), Accepted)
    got = {}
    for name, breakage in BREAKAGES.items():
        result = checker.check_object(breakage(dict(event)), None, START_MS)
        assert isinstance(result, Rejected), name
        got[name] = result.error_class
    assert got == EXPECTED


def test_seeded_and_extra_to_the_stream() -> None:
    events = [e.event for e in TransactionSimulator(
        SimulatorConfig(seed=3, start_ms=START_MS)).take(2000)]
    first, second = BadEvents(seed=3, rate=0.01), BadEvents(seed=3, rate=0.01)
    batches = [events[start:start + 100] for start in range(0, 2000, 100)]
    a = [p for batch in batches for p in first.broken_copies(batch)]
    b = [p for batch in batches for p in second.broken_copies(batch)]
    assert a == b and len(a) == first.sent == sum(first.by_breakage.values())
    assert 5 <= len(a) <= 40  # about 1% of 2,000
    ids = [p.get("event_id") for p in a]
    assert ids == [f"bad-3-{i}" for i in range(len(a))]
    assert all(e["event_id"].startswith("s3-") for e in events)  # the stream is untouched
