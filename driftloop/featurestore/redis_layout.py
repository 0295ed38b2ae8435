"""Feast's Redis online-store layout, spoken without importing Feast.

Feast (feast/infra/online_stores/redis.py) keeps one Redis hash per entity:

- key: the entity key serialized as Feast's ``serialize_entity_key`` version 3 does
  (little-endian counts and lengths, join-key names, then typed values) + the project name;
- one hash field per feature: murmur3-32 of ``"<view>:<feature>"``, 4 bytes little-endian,
  holding a serialized ``feast.types.ValueProto``;
- one field ``_ts:<view>`` holding a serialized ``google.protobuf.Timestamp``.

Writing and reading exactly this layout keeps ``feast materialize``, ``get_online_features``
and the Feast CLI working on the same Redis, while the scorer never pays ``import feast``.
Values are declared Float64 in Feast, i.e. ``ValueProto.double_val`` (field 5, fixed64)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import mmh3

_STRING = 2  # feast ValueType.STRING
_U32 = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")


def feature_field(view: str, feature: str) -> bytes:
    """The hash field of one feature (Feast's ``_mmh3``)."""
    return struct.pack("<Q", mmh3.hash(f"{view}:{feature}", signed=False))[:4]


def ts_field(view: str) -> bytes:
    return f"_ts:{view}".encode()


def entity_key(project: str, join_key: str, entity_id: str) -> bytes:
    """Feast's ``_redis_key`` for a single string join key, serialization version 3."""
    name = join_key.encode()
    value = entity_id.encode()
    return b"".join((_U32.pack(1), _U32.pack(_STRING), _U32.pack(len(name)), name,
                     _U32.pack(_STRING), _U32.pack(len(value)), value, project.encode()))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def encode_double(value: float) -> bytes:
    """``ValueProto(double_val=value).SerializeToString()``."""
    return b"\x29" + _DOUBLE.pack(value)


def decode_number(data: bytes | None) -> float | None:
    """A numeric ValueProto -> float; None for a missing or null value (or a non-number)."""
    if not data:
        return None
    tag = data[0]
    if tag == 0x29:  # double_val
        return float(_DOUBLE.unpack_from(data, 1)[0])
    if tag == 0x35:  # float_val
        return float(_FLOAT.unpack_from(data, 1)[0])
    if tag in (0x18, 0x20):  # int32_val, int64_val (two's complement varint)
        value, _ = _read_varint(data, 1)
        return float(value - (1 << 64) if value >= 1 << 63 else value)
    if tag == 0x38:  # bool_val
        return float(data[1])
    return None


def encode_timestamp(when: datetime) -> bytes:
    """``google.protobuf.Timestamp`` of ``when`` (seconds field 1, nanos field 2)."""
    micros = round(when.timestamp() * 1_000_000)
    seconds, rest = divmod(micros, 1_000_000)
    out = b"\x08" + _varint(seconds) if seconds else b""
    if rest:
        out += b"\x10" + _varint(rest * 1000)
    return out


def decode_timestamp(data: bytes | None) -> datetime | None:
    if data is None:
        return None
    seconds = nanos = 0
    pos = 0
    while pos < len(data):
        tag = data[pos]
        value, pos = _read_varint(data, pos + 1)
        if tag == 0x08:
            seconds = value
        elif tag == 0x10:
            nanos = value
    return datetime.fromtimestamp(seconds + nanos / 1e9, tz=UTC)
