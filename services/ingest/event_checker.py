"""Turning untrusted bytes into validated domain events, or into a precise reason why not.
Pure: no Kafka, no HTTP, no clock (``now_ms`` is passed in)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from driftloop.contracts import AvroCodec, DecodeError, Domain, RecordValidator, ValidationError


@dataclass(frozen=True, slots=True)
class Accepted:
    record: dict[str, Any]
    event_id: str
    entity_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    original: bytes
    error_class: str
    reason: str
    field: str | None = None
    event_id: str | None = None


Checked = Accepted | Rejected


class MalformedBatch(ValueError):
    """A whole HTTP batch is unreadable JSON; ``error_class`` is the reason's class."""

    error_class = "malformed_json"


def _can_nest(avro_type: Any) -> bool:
    """Whether values of this Avro type can hold other containers (arrays, maps, records)."""
    if isinstance(avro_type, list):
        return any(_can_nest(t) for t in avro_type)
    if isinstance(avro_type, dict):
        return avro_type.get("type") in ("array", "map", "record")
    return False


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


class EventChecker:
    """Validates one domain's events. JSON comes from HTTP and events.raw; Avro (Confluent
    wire format, magic byte 0) from events.raw."""

    def __init__(self, codec: AvroCodec, validator: RecordValidator, domain: Domain,
                 max_event_bytes: int = 64 << 10, max_json_depth: int = 16) -> None:
        self._codec = codec
        self._validator = validator
        self._domain = domain
        self._max_event_bytes = max_event_bytes
        self._max_depth = max_json_depth
        self._event_id = domain.event_id_field
        self._entity = domain.entity_field
        # A record that passed validation has the schema's shape, so it can only be too deep
        # when the schema itself nests containers; for flat schemas (the usual case) the depth
        # walk is needed only to name the reason of a rejection.
        self._flat = not any(_can_nest(f["type"]) for f in validator.schema.raw["fields"])

    def _too_deep(self, obj: Any) -> bool:
        # Only dicts and lists can be deep, so only an object holding one is walked.
        return (isinstance(obj, dict)
                and any(isinstance(v, (dict, list)) for v in obj.values())
                and _depth_exceeds(obj, self._max_depth))

    def check_object(self, obj: Any, original: bytes | None, now_ms: int) -> Checked:
        """Validate one already-parsed JSON value (``original`` None: re-serialised lazily).
        Too deep wins over every other reason, as if depth were checked first."""
        try:
            record = self._validator.validate(obj, now_ms)
            if not self._flat and self._too_deep(obj):
                raise ValidationError("too_deep", f"nesting deeper than {self._max_depth}")
        except ValidationError as exc:
            if exc.error_class != "too_deep" and self._too_deep(obj):
                exc = ValidationError("too_deep", f"nesting deeper than {self._max_depth}")
            event_id = obj.get(self._event_id) if isinstance(obj, dict) else None
            return Rejected(
                original if original is not None else orjson.dumps(obj),
                exc.error_class, str(exc), exc.field,
                event_id if isinstance(event_id, str) else None,
            )
        return Accepted(record, record[self._event_id], record[self._entity])

    def check_message(self, value: bytes | None, now_ms: int) -> Checked:
        """One events.raw message: a JSON object, or an Avro record in the wire format."""
        if not value:
            return Rejected(b"", "empty", "empty message")
        if len(value) > self._max_event_bytes:
            return Rejected(value, "too_large", f"event over {self._max_event_bytes} bytes")
        if value[0] == 0:
            try:
                obj = self._codec.decode(value, reader=self._domain.event_schema, untrusted=True)
            except DecodeError as exc:  # malformed_avro, or trailing_bytes after a record
                return Rejected(value, exc.error_class, str(exc))
            event_time = obj.get(self._domain.event_time_field)
            if isinstance(event_time, datetime):  # fastavro returns datetimes for timestamps
                obj[self._domain.event_time_field] = int(event_time.timestamp() * 1000)
            return self.check_object(obj, value, now_ms)
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return Rejected(value, "malformed_json", f"not JSON: {exc}")
        return self.check_object(obj, value, now_ms)

    def check_body(self, body: bytes, now_ms: int, ndjson: bool = False) -> Iterator[Checked]:
        """An HTTP batch: a JSON array of events, or NDJSON (one event per line). ``ndjson``
        (the client said application/x-ndjson) settles a body whose first line is an array.

        A JSON array is parsed whole, so one syntax-level fault in it (NaN, invalid UTF-8,
        nesting past the parser's 1024 levels) leaves no item to trust: it raises
        ``MalformedBatch`` (ingest answers 400 and publishes nothing of the body). NDJSON is
        independent lines: each bad line is its own rejection."""
        if not ndjson and body.lstrip()[:1] == b"[":
            try:
                items = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise MalformedBatch(f"batch is not a JSON array: {exc}") from exc
            return (self.check_object(item, None, now_ms) for item in items)
        return (self.check_message(line, now_ms) for line in body.splitlines() if line.strip())
