"""The flat-record fast path writes exactly fastavro's bytes, and declines what it does not
know. Every schema is tried, with its golden sample and with generated records (right
types, wrong types, edge values, missing fields)."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.contracts import load_schemas
from driftloop.contracts.flat_encoder import flat_encoder
from driftloop.contracts.schemas import Schema
from tests.contract.samples import sample_for

SCHEMAS = list(load_schemas())
FLAT = [s for s in SCHEMAS if flat_encoder(s.raw) is not None]

odd_values = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
              | st.binary(max_size=5) | st.datetimes())
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=2000)  # UTF-8 encodable


def mostly(typed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # one value in twenty of any type (one_of would flatten odd_values and weigh it 7:1)
    return st.integers(0, 19).flatmap(lambda i: odd_values if i == 0 else typed)


def values_for(avro_type: Any) -> st.SearchStrategy[Any]:
    """Mostly values of the type (edges included), sometimes anything at all."""
    if isinstance(avro_type, list):
        return st.one_of(*(values_for(t) for t in avro_type))
    if isinstance(avro_type, dict):
        if avro_type["type"] == "enum":
            return mostly(st.sampled_from(avro_type["symbols"]))
        return values_for(avro_type["type"])
    typed = {
        "null": st.none(),
        "string": text | st.text(max_size=3),
        "bytes": st.binary(max_size=2000),
        "boolean": st.booleans(),
        "double": st.floats(),
        "float": st.floats(width=32) | st.floats(),
        "int": st.integers(-(2**31) - 2, 2**31 + 1),
        "long": st.integers(-(2**63) - 2, 2**63 + 1),
    }[avro_type]
    return mostly(typed)


def records_for(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    fields = {f["name"]: values_for(f["type"]) for f in schema.raw["fields"]}
    complete = st.fixed_dictionaries(fields)
    some = st.fixed_dictionaries({}, optional=fields)
    return st.integers(0, 3).flatmap(lambda i: some if i == 0 else complete)


def fastavro_bytes(schema: Schema, record: Any) -> bytes | None:
    buf = io.BytesIO()
    try:
        fastavro.schemaless_writer(buf, schema.parsed, record)
    except Exception:
        return None
    return buf.getvalue()


def test_flat_schemas_are_found() -> None:
    names = {s.name for s in FLAT}
    assert {"driftloop.cards.CardTransaction", "driftloop.ops.DeadLetter"} <= names
    assert "driftloop.models.Prediction" not in names  # a map: fastavro's


@pytest.mark.parametrize("schema", FLAT, ids=lambda s: s.name)
def test_golden_sample_bytes_match_fastavro(schema: Schema) -> None:
    encode = flat_encoder(schema.raw)
    assert encode is not None
    assert encode(b"\x00HEAD", sample_for(schema.name)) == (
        b"\x00HEAD" + fastavro_bytes(schema, sample_for(schema.name)))


@pytest.mark.parametrize("schema", FLAT, ids=lambda s: s.name)
def test_generated_records_match_fastavro_or_are_declined(schema: Schema) -> None:
    encode = flat_encoder(schema.raw)
    assert encode is not None

    taken = []

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(records_for(schema))
    def check(record: dict[str, Any]) -> None:
        fast = encode(b"", record)
        if fast is not None:  # whatever the fast path writes, fastavro writes the same
            assert fast == fastavro_bytes(schema, record)
            taken.append(record)

    check()
    assert len(taken) >= 30  # the comparison happened, not only the declines


def test_declines_what_fastavro_converts() -> None:
    schema = load_schemas()["driftloop.cards.CardTransaction"]
    encode = flat_encoder(schema.raw)
    assert encode is not None
    sample = sample_for(schema.name)
    assert encode(b"", sample) is not None
    for change in ({"amount": 42}, {"amount": True}, {"event_time": 1.5}, {"currency": "XYZ"},
                   {"event_time": 2**63}):
        assert encode(b"", {**sample, **change}) is None
    assert encode(b"", {k: v for k, v in sample.items() if k != "country"}) is None
    assert encode(b"", [sample]) is None
