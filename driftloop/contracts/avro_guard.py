"""A cheap structural pre-check of untrusted Avro bytes, before fastavro decodes them.

fastavro trusts length and count prefixes: a 5-byte payload announcing a huge array makes it
allocate tens of megabytes before failing. This walk follows the writer schema over the bytes
and refuses any length or count that the remaining bytes cannot possibly hold, so a hostile
payload fails in microseconds and never allocates."""

from __future__ import annotations

from typing import Any


class AvroBoundsError(ValueError):
    """The bytes cannot be a record of the schema: a length or count is impossible."""


_FIXED_SIZE = {"null": 0, "boolean": 1, "float": 4, "double": 8}


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    shift = 0
    result = 0
    while True:
        if pos >= len(data):
            raise AvroBoundsError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise AvroBoundsError("varint longer than 10 bytes")
    return (result >> 1) ^ -(result & 1), pos


def _min_size(schema: Any) -> int:
    """Smallest encoding of a value of ``schema`` (zero for null and empty records)."""
    if isinstance(schema, str):
        return _FIXED_SIZE.get(schema, 1)
    if isinstance(schema, list):
        return 1
    kind = schema["type"]
    if kind == "record":
        return sum(_min_size(f["type"]) for f in schema["fields"])
    if kind == "fixed":
        return int(schema["size"])
    if isinstance(kind, (dict, list)):
        return _min_size(kind)
    return _FIXED_SIZE.get(kind, 1)


def check_bounds(schema: Any, data: bytes, pos: int = 0, max_items: int = 100_000) -> int:
    """Walk ``data`` from ``pos`` as a value of ``schema`` (a parsed schema with named types
    expanded inline, as fastavro.parse_schema(..., expand=True) gives). Returns the end offset."""
    if isinstance(schema, list):
        branch, pos = _read_long(data, pos)
        if not 0 <= branch < len(schema):
            raise AvroBoundsError(f"union branch {branch} out of range")
        return check_bounds(schema[branch], data, pos, max_items)
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(kind, (dict, list)):
        return check_bounds(kind, data, pos, max_items)
    if kind in _FIXED_SIZE:
        end = pos + _FIXED_SIZE[kind]
    elif kind in ("int", "long", "enum"):
        _, end = _read_long(data, pos)
    elif kind in ("string", "bytes"):
        size, pos = _read_long(data, pos)
        if size < 0 or pos + size > len(data):
            raise AvroBoundsError(f"{kind} length {size} exceeds the {len(data) - pos} bytes left")
        end = pos + size
    elif kind == "fixed":
        end = pos + int(schema["size"])
    elif kind == "record":
        for fld in schema["fields"]:
            pos = check_bounds(fld["type"], data, pos, max_items)
        end = pos
    elif kind in ("array", "map"):
        item = schema["items"] if kind == "array" else schema["values"]
        item_min = _min_size(item) + (1 if kind == "map" else 0)
        end = pos
        while True:
            count, end = _read_long(data, end)
            if count == 0:
                break
            if count < 0:  # a negative count is followed by the block's byte size
                count = -count
                _, end = _read_long(data, end)
            if count > max_items or count * item_min > len(data) - end:
                raise AvroBoundsError(f"{kind} block of {count} items cannot fit the bytes left")
            for _ in range(count):
                if kind == "map":
                    end = check_bounds("string", data, end, max_items)
                end = check_bounds(item, data, end, max_items)
    else:
        raise AvroBoundsError(f"unsupported Avro type {kind!r}")
    if end > len(data):
        raise AvroBoundsError("value runs past the end of the bytes")
    return end
