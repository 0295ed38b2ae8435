"""Validation rules declared in the schemas, checked without a broker."""

from __future__ import annotations

import math

import pytest

from driftloop.contracts import RecordValidator, ValidationError, load_schemas

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
VALID = {
    "event_id": "e1", "card_id": "c1", "merchant_id": "m1", "amount": 12.5, "currency": "EUR",
    "merchant_category": "5411", "channel": "POS", "country": "DE", "event_time": NOW,
}


@pytest.fixture(scope="module")
def validator() -> RecordValidator:
    return RecordValidator(load_schemas()["driftloop.cards.CardTransaction"])


def test_valid_event_is_returned_normalised(validator: RecordValidator) -> None:
    assert validator.validate(dict(VALID), NOW) == VALID
    iso = validator.validate({**VALID, "event_time": "2026-01-01T00:00:00Z"}, NOW)
    assert iso["event_time"] == NOW


@pytest.mark.parametrize(
    ("change", "error_class", "field"),
    [
        ({"amount": math.nan}, "not_finite", "amount"),
        ({"amount": math.inf}, "not_finite", "amount"),
        ({"amount": -1.0}, "out_of_range", "amount"),
        ({"amount": 1_000_000.01}, "out_of_range", "amount"),
        ({"amount": "12"}, "wrong_type", "amount"),
        ({"amount": True}, "wrong_type", "amount"),
        ({"currency": "XYZ"}, "invalid_enum", "currency"),
        ({"channel": 3}, "invalid_enum", "channel"),
        ({"merchant_category": "54a1"}, "bad_format", "merchant_category"),
        ({"country": "de"}, "bad_format", "country"),
        ({"event_id": ""}, "bad_length", "event_id"),
        ({"card_id": "x" * 65}, "bad_length", "card_id"),
        ({"event_time": NOW + 86_400_001}, "time_in_future", "event_time"),
        ({"event_time": NOW - 31_536_000_001}, "time_too_old", "event_time"),
        ({"event_time": "yesterday"}, "wrong_type", "event_time"),
        ({"event_time": "2026-01-01T00:00:00"}, "wrong_type", "event_time"),
        ({"surprise": 1}, "unknown_field", "surprise"),
    ],
)
def test_rule_violations_name_class_and_field(
    validator: RecordValidator, change: dict[str, object], error_class: str, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        validator.validate({**VALID, **change}, NOW)
    assert (caught.value.error_class, caught.value.field) == (error_class, field)


def test_missing_field_and_non_object(validator: RecordValidator) -> None:
    record = dict(VALID)
    del record["merchant_id"]
    with pytest.raises(ValidationError) as caught:
        validator.validate(record, NOW)
    assert (caught.value.error_class, caught.value.field) == ("missing_field", "merchant_id")
    with pytest.raises(ValidationError) as caught:
        validator.validate([VALID], NOW)
    assert caught.value.error_class == "not_an_object"


def test_every_schema_compiles_a_validator() -> None:
    for schema in load_schemas():
        RecordValidator(schema)
