"""EventChecker: untrusted bytes in, an accepted event or a precise reason out."""

from __future__ import annotations

import orjson
import pytest

from driftloop.contracts import AvroCodec, Domain, RecordValidator, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from services.ingest.event_checker import Accepted, EventChecker, MalformedBatch, Rejected

NOW = 1_767_225_600_000
EVENT = {
    "event_id": "e1", "card_id": "c1", "merchant_id": "m1", "amount": 12.5, "currency": "EUR",
    "merchant_category": "5411", "channel": "POS", "country": "DE", "event_time": NOW,
}


@pytest.fixture(scope="module")
def checker() -> EventChecker:
    schemas = load_schemas()
    domain = Domain.load("cards")
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    return EventChecker(codec, RecordValidator(schemas[domain.event_schema]), domain,
                        max_event_bytes=4096, max_json_depth=4)


def classes(results: list) -> list[str]:
    return ["ok" if isinstance(r, Accepted) else r.error_class for r in results]


def test_json_array_body(checker: EventChecker) -> None:
    body = orjson.dumps([EVENT, {**EVENT, "amount": "x"}, 7])
    assert classes(list(checker.check_body(body, NOW))) == ["ok", "wrong_type", "not_an_object"]


def test_ndjson_body_keeps_going_after_a_bad_line(checker: EventChecker) -> None:
    body = b"\n".join([orjson.dumps(EVENT), b"{broken", b"", orjson.dumps({**EVENT, "x": 1})])
    results = list(checker.check_body(body, NOW))
    assert classes(results) == ["ok", "malformed_json", "unknown_field"]
    assert results[1].original == b"{broken"


def test_avro_with_bytes_after_a_complete_record_is_refused(checker: EventChecker) -> None:
    schemas = load_schemas()
    codec = AvroCodec(schemas, LocalSchemaRegistry(schemas))
    good = codec.encode(Domain.load("cards").event_schema, EVENT)
    assert isinstance(checker.check_message(good, NOW), Accepted)
    result = checker.check_message(good + b"garbage", NOW)
    assert isinstance(result, Rejected)
    assert (result.error_class, result.reason) == (
        "trailing_bytes", "7 trailing bytes after the Avro record")
    assert result.original == good + b"garbage"


GOOD = orjson.dumps(EVENT)
SYNTAX_FAULTS = [b'{"event_id": "e2", "amount": NaN}', b'{"event_id": "\xff\xfe"}',
                 b"[" * 1100 + b"]" * 1100]


@pytest.mark.parametrize("fault", SYNTAX_FAULTS, ids=["nan", "invalid_utf8", "too_deep"])
def test_json_array_with_one_syntax_fault_is_refused_whole(
        checker: EventChecker, fault: bytes) -> None:
    """No item of an unparseable array can be trusted, the valid ones included."""
    with pytest.raises(MalformedBatch, match="^batch is not a JSON array: ") as caught:
        checker.check_body(b"[" + GOOD + b"," + fault + b"," + GOOD + b"]", NOW)
    assert caught.value.error_class == "malformed_json"


def test_ndjson_syntax_faults_are_one_rejection_per_line(checker: EventChecker) -> None:
    body = b"\n".join([GOOD, *SYNTAX_FAULTS, GOOD])
    results = list(checker.check_body(body, NOW, ndjson=True))
    assert classes(results) == ["ok", "malformed_json", "malformed_json", "malformed_json", "ok"]
    assert [r.original for r in results[1:4]] == SYNTAX_FAULTS


def test_accepted_event_carries_ids(checker: EventChecker) -> None:
    result = checker.check_message(orjson.dumps(EVENT), NOW)
    assert isinstance(result, Accepted)
    assert (result.event_id, result.entity_id) == ("e1", "c1")


@pytest.mark.parametrize(
    ("payload", "error_class"),
    [
        (b"", "empty"),
        (b"\xff\xfe\xfd", "malformed_json"),
        (b'{"amount": NaN}', "malformed_json"),
        (b'{"amount": Infinity}', "malformed_json"),
        (b"[" * 1500 + b"]" * 1500, "malformed_json"),
        (b"x" * 5000, "too_large"),
        (b"\x00\x00\x00\x00\x01", "malformed_avro"),
    ],
)
def test_hostile_messages(checker: EventChecker, payload: bytes, error_class: str) -> None:
    result = checker.check_message(payload, NOW)
    assert isinstance(result, Rejected)
    assert result.error_class == error_class
    assert result.original == payload


def test_deep_nesting_within_parser_limits_is_refused(checker: EventChecker) -> None:
    nested: object = 1
    for _ in range(10):
        nested = {"a": nested}
    result = checker.check_message(orjson.dumps({**EVENT, "merchant_id": nested}), NOW)
    assert isinstance(result, Rejected) and result.error_class == "too_deep"


def test_rejection_keeps_event_id_for_the_dead_letter_key(checker: EventChecker) -> None:
    result = checker.check_message(orjson.dumps({**EVENT, "amount": -1}), NOW)
    assert isinstance(result, Rejected) and result.event_id == "e1"


def test_valid_but_too_deep_is_refused_when_the_schema_nests() -> None:
    """Depth is looked at after validation; a schema with nested arrays still gets it."""
    from driftloop.contracts.schemas import parse_schema

    schema = parse_schema({"type": "record", "name": "Nested", "namespace": "t", "fields": [
        {"name": "event_id", "type": "string"}, {"name": "card_id", "type": "string"},
        {"name": "at", "type": "long"},
        {"name": "tags", "type": {"type": "array", "items": {"type": "array", "items": "string"}}},
    ]})
    domain = Domain("nested", "t.Nested", "card_id", "event_id", "at", "m")
    schemas = load_schemas()
    checker = EventChecker(AvroCodec(schemas, LocalSchemaRegistry(schemas)),
                           RecordValidator(schema), domain, max_json_depth=3)
    event = {"event_id": "e1", "card_id": "c1", "at": NOW}
    assert isinstance(checker.check_object({**event, "tags": [[]]}, None, NOW), Accepted)
    for tags in ([["a"]],  # valid, and 4 deep
                 [[["a"]]]):  # a wrong type too
        deep = checker.check_object({**event, "tags": tags}, None, NOW)
        assert isinstance(deep, Rejected) and deep.error_class == "too_deep"
        assert deep.event_id == "e1"
