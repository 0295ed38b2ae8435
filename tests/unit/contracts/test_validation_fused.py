"""The fused per-field checks behave exactly as the chain of rules they replace: same
normalised value, or the same error class, message and field. Every field of every schema."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.contracts import RecordValidator, ValidationError, load_schemas
from driftloop.contracts.validation import _constraint_checks, _field_check, _type_check

NOW = 1_767_225_600_000
FIELDS = [(schema.name, spec) for schema in load_schemas() for spec in schema.raw["fields"]]

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.integers(NOW - 40_000_000_000, NOW + 100_000_000),
    st.text(max_size=70), st.from_regex(r"\A[0-9A-Z]{1,5}\Z"),
    st.sampled_from(["EUR", "POS", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "de"]),
    st.binary(max_size=4), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.floats(), max_size=2),
)


def outcome(check: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", check(value, NOW)
    except ValidationError as exc:
        return "invalid", (exc.error_class, str(exc), exc.field)
    except Exception as exc:
        return "raised", type(exc)


def chained(name: str, spec: dict[str, Any]) -> Any:
    checks = [_type_check(name, spec["type"]), *_constraint_checks(name, spec)]

    def check(value: Any, now: int) -> Any:
        for one in checks:
            value = one(value, now)
        return value

    return check


@pytest.mark.parametrize(("schema", "spec"), FIELDS,
                         ids=[f"{s}.{f['name']}" for s, f in FIELDS])
def test_fused_check_equals_the_chain(schema: str, spec: dict[str, Any]) -> None:
    fused, reference = _field_check(spec["name"], spec), chained(spec["name"], spec)

    @settings(max_examples=100, deadline=None, derandomize=True)
    @given(values)
    def check(value: Any) -> None:
        got, expected = outcome(fused, value), outcome(reference, value)
        if expected[0] == "ok" and isinstance(expected[1], float) and expected[1] != expected[1]:
            assert got[0] == "ok" and got[1] != got[1]  # NaN (a field without finite rule)
        else:
            assert got == expected

    check()


def test_unknown_field_is_the_reason_whatever_else_is_wrong() -> None:
    validator = RecordValidator(load_schemas()["driftloop.cards.CardTransaction"])
    for record in ({"event_id": "e1", "zzz": 1, "aaa": 2},  # and missing fields
                   {"event_id": 7, "surprise": 1}):  # and a wrong type
        with pytest.raises(ValidationError) as caught:
            validator.validate(record, NOW)
        assert caught.value.error_class == "unknown_field"
        assert caught.value.field == sorted(k for k in record if k != "event_id")[0]
