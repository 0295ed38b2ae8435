"""The Confluent wire format and the defences against hostile Avro."""

from __future__ import annotations

import struct

import pytest

from driftloop.contracts import AvroCodec, DecodeError, EncodeError, load_schemas
from driftloop.contracts.avro_guard import AvroBoundsError, check_bounds
from driftloop.contracts.schema_registry import LocalSchemaRegistry, local_schema_id
from tests.contract.samples import sample_for

EVENT = "driftloop.cards.CardTransaction"
RECORD = {
    "event_id": "e1", "card_id": "c1", "merchant_id": "m1", "amount": 12.5, "currency": "EUR",
    "merchant_category": "5411", "channel": "POS", "country": "DE", "event_time": 1_767_225_600_000,
}


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    schemas = load_schemas()
    return AvroCodec(schemas, LocalSchemaRegistry(schemas))


def test_wire_format_header(codec: AvroCodec) -> None:
    data = codec.encode(EVENT, RECORD)
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == local_schema_id(load_schemas()[EVENT]) == codec.schema_id(EVENT)


def test_roundtrip(codec: AvroCodec) -> None:
    decoded = codec.decode(codec.encode(EVENT, RECORD), EVENT, untrusted=True)
    assert decoded["event_id"] == "e1" and decoded["amount"] == 12.5
    assert int(decoded["event_time"].timestamp() * 1000) == RECORD["event_time"]


def test_encode_rejects_wrong_types(codec: AvroCodec) -> None:
    with pytest.raises(EncodeError):
        codec.encode(EVENT, {**RECORD, "amount": "a lot"})


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01\x00\x00\x00\x01abc", b"\x00\xff\xff\xff\xffabc", b"\x00\x00"],
)
def test_decode_rejects_bad_framing(codec: AvroCodec, data: bytes) -> None:
    with pytest.raises(DecodeError):
        codec.decode(data, EVENT, untrusted=True)


def test_string_length_bomb_fails_fast(codec: AvroCodec) -> None:
    header = codec.encode(EVENT, RECORD)[:5]
    with pytest.raises(DecodeError):
        codec.decode(header + b"\x02a" + b"\xfe\xff\xff\xff\x0f", EVENT, untrusted=True)


def test_array_count_bomb_is_refused_before_allocation() -> None:
    """A 5-byte count announcing ~2^31 items must be refused by arithmetic, not by trying."""
    schema = {"type": "array", "items": "long"}
    with pytest.raises(AvroBoundsError, match="cannot fit"):
        check_bounds(schema, b"\xfe\xff\xff\xff\x0f")
    assert check_bounds(schema, b"\x04\x02\x04\x00") == 4


def test_prediction_with_map_and_array_roundtrips_with_guard(codec: AvroCodec) -> None:
    prediction = {
        "event_id": "e1", "entity_id": "c1", "model_name": "fraud", "model_version": "v1",
        "score": 0.25, "label": 0, "confidence": 0.5, "threshold": 0.5,
        "features": {"amount": 12.5, "count_1h": 3.0}, "defaulted_features": ["x"],
        "degraded": False, "shadow": False, "event_time": 1, "scored_at": 2, "latency_ms": 1.5,
    }
    data = codec.encode("driftloop.models.Prediction", prediction)
    back = codec.decode(data, "driftloop.models.Prediction", untrusted=True)
    assert back["features"] == {"amount": 12.5, "count_1h": 3.0}
    with pytest.raises(DecodeError):
        codec.decode(data + b"\x00", "driftloop.models.Prediction", untrusted=True)


@pytest.mark.parametrize("untrusted", [True, False])
@pytest.mark.parametrize("garbage", [b"\x00", b"\x02a", b"junk after the record"])
def test_trailing_bytes_are_refused_for_flat_schemas(
        codec: AvroCodec, untrusted: bool, garbage: bytes) -> None:
    """A flat schema (no arrays or maps) skips the bounds walk; the whole value must still be
    one record, else garbage after a complete record would pass as the record."""
    data = codec.encode(EVENT, RECORD) + garbage
    with pytest.raises(DecodeError, match=f"^{len(garbage)} trailing bytes") as caught:
        codec.decode(data, EVENT, untrusted=untrusted)
    assert caught.value.error_class == "trailing_bytes"


def test_trailing_bytes_are_refused_for_every_schema(codec: AvroCodec) -> None:
    """Every schema, flat or nested, trusted or not: its contract sample plus one byte."""
    for schema in load_schemas():
        data = codec.encode(schema.name, sample_for(schema.name))
        assert codec.decode(data, schema.name, untrusted=True)
        name = schema.name
        for untrusted in (True, False):
            with pytest.raises(DecodeError) as caught:
                codec.decode(data + b"\x00", name, untrusted=untrusted)
            assert caught.value.error_class == "trailing_bytes", name


def test_other_corruption_keeps_its_class(codec: AvroCodec) -> None:
    with pytest.raises(DecodeError) as caught:
        codec.decode(codec.encode(EVENT, RECORD)[:-3], EVENT, untrusted=True)
    assert caught.value.error_class == "malformed_avro"
