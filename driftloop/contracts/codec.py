"""Avro in the Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the
Avro binary body. Ordinary Kafka tooling (kcat -s value=avro, Kafka Connect, ksqlDB) reads it."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro

from driftloop.contracts.avro_guard import AvroBoundsError, check_bounds
from driftloop.contracts.flat_encoder import flat_encoder
from driftloop.contracts.schema_registry import SchemaRegistry, SchemaRegistryError
from driftloop.contracts.schemas import SchemaSet

MAGIC = 0
_HEADER = struct.Struct(">bI")


class EncodeError(ValueError):
    """A record does not fit its schema (wrong type, missing field)."""


class DecodeError(ValueError):
    """Bytes are not a readable record: wrong framing, unknown schema id, corrupt body.
    ``error_class`` names the fault for a dead letter (``malformed_avro``, ``trailing_bytes``)."""

    def __init__(self, message: str, error_class: str = "malformed_avro") -> None:
        super().__init__(message)
        self.error_class = error_class


def _trailing(extra: int) -> DecodeError:
    return DecodeError(f"{extra} trailing bytes after the Avro record", "trailing_bytes")


def _guard_schema(raw: dict[str, Any]) -> Any:
    """The expanded schema to bounds-check against, or None when the schema has no arrays or
    maps: fastavro only over-allocates on their counts (string lengths it reads lazily)."""
    text = json.dumps(raw)
    if '"array"' not in text and '"map"' not in text:
        return None
    return fastavro.parse_schema(raw, expand=True, _write_hint=False)


class AvroCodec:
    """Encodes records of the named schemas and decodes any registered writer version into the
    current (reader) version: schema evolution happens here, once, for every service."""

    def __init__(self, schemas: SchemaSet, registry: SchemaRegistry) -> None:
        self._schemas = schemas
        self._registry = registry
        self._headers: dict[str, bytes] = {}
        self._expanded: dict[int, Any] = {}
        self._flat: dict[str, Any] = {}

    def _header(self, schema_name: str) -> bytes:
        header = self._headers.get(schema_name)
        if header is None:
            schema = self._schemas[schema_name]
            subject = f"{schema_name}-value"
            header = _HEADER.pack(MAGIC, self._registry.register(subject, schema))
            self._headers[schema_name] = header
        return header

    def encode(self, schema_name: str, record: dict[str, Any]) -> bytes:
        header = self._header(schema_name)
        # Flat records (events, dead letters...) take the fast path; the rest, and any record
        # the fast path declines, fastavro's writer (same bytes either way).
        try:
            flat = self._flat[schema_name]
        except KeyError:
            flat = self._flat[schema_name] = flat_encoder(self._schemas[schema_name].raw)
        if flat is not None:
            data = flat(header, record)
            if data is not None:
                return data
        buf = io.BytesIO()
        buf.write(header)
        try:
            fastavro.schemaless_writer(buf, self._schemas[schema_name].parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"record does not fit {schema_name}: {exc}") from exc
        return buf.getvalue()

    def schema_id(self, schema_name: str) -> int:
        return int(_HEADER.unpack(self._header(schema_name))[1])

    def decode(
        self, data: bytes, reader: str | None = None, untrusted: bool = False
    ) -> dict[str, Any]:
        """Decode ``data``; with ``reader`` the record is resolved to that schema (the current
        version), else returned as written. ``untrusted`` bytes get a bounds check first."""
        if len(data) < _HEADER.size or data[0] != MAGIC:
            raise DecodeError("not Confluent wire format (missing magic byte 0 and schema id)")
        _, schema_id = _HEADER.unpack_from(data)
        try:
            writer = self._registry.lookup(schema_id)
        except SchemaRegistryError as exc:
            raise DecodeError(str(exc)) from exc
        body = data[_HEADER.size :]
        expanded: Any = None
        if untrusted:
            if schema_id not in self._expanded:
                self._expanded[schema_id] = _guard_schema(writer.raw)
            expanded = self._expanded[schema_id]
        if untrusted and expanded is not None:
            try:
                end = check_bounds(expanded, body)
            except AvroBoundsError as exc:
                raise DecodeError(f"corrupt Avro body: {exc}") from exc
            if end != len(body):
                raise _trailing(len(body) - end)
        reader_schema = self._schemas[reader].parsed if reader else None
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(stream, writer.parsed, reader_schema)
        except Exception as exc:  # fastavro raises many types on corrupt input
            raise DecodeError(f"corrupt Avro body: {type(exc).__name__}: {exc}") from exc
        # A record must be the whole value, for every schema: bytes after it mean the value
        # was not what its writer sent (concatenated, padded, or a longer record cut to fit a
        # shorter schema). The reader's position costs nothing to ask.
        if stream.tell() != len(body):
            raise _trailing(len(body) - stream.tell())
        if not isinstance(record, dict):
            raise DecodeError("Avro body is not a record")
        return record
