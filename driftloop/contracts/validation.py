"""Validation rules compiled from a schema: Avro types plus the ``driftloop.*`` constraints
declared on its fields (lengths, patterns, ranges, time bounds).

Validation happens before encoding because fastavro's own checks are not enough: it accepts
NaN and Infinity, silently drops unknown fields, and its validate() costs 4x the encode."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from driftloop.contracts.schemas import Schema

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class ValidationError(ValueError):
    """A record broke a rule: ``error_class`` is machine-readable, ``field`` names the culprit."""

    def __init__(self, error_class: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.field = field


Check = Callable[[Any, int], Any]  # (value, now_ms) -> normalised value, or raise


def _fail(error_class: str, field: str, message: str) -> ValidationError:
    return ValidationError(error_class, f"{field}: {message}", field)


def _timestamp_ms(name: str, value: Any) -> int:
    """Accept epoch milliseconds or an ISO-8601 string with a zone (JSON has no datetime)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _fail("wrong_type", name, f"not an ISO-8601 time: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            raise _fail("wrong_type", name, "ISO-8601 time needs a zone (e.g. Z or +00:00)")
        return int(parsed.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail("wrong_type", name, "expected epoch milliseconds or ISO-8601")
    return value


def _type_check(name: str, avro_type: Any) -> Check:
    if isinstance(avro_type, list):
        nullable = "null" in avro_type
        others = [t for t in avro_type if t != "null"]
        if len(others) != 1:
            raise NotImplementedError(f"{name}: only [null, T] unions are validated")
        inner = _type_check(name, others[0])

        def union(value: Any, now: int) -> Any:
            if value is None:
                if nullable:
                    return None
                raise _fail("missing_field", name, "must not be null")
            return inner(value, now)

        return union
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        kind = avro_type["type"]
        if logical == "timestamp-millis":
            return lambda value, now: _timestamp_ms(name, value)
        if kind == "enum":
            symbols = frozenset(avro_type["symbols"])

            def enum(value: Any, now: int) -> Any:
                if not isinstance(value, str) or value not in symbols:
                    raise _fail("invalid_enum", name, f"must be one of {sorted(symbols)}")
                return value

            return enum
        if kind == "map":
            values = _type_check(f"{name}[]", avro_type["values"])

            def mapping(value: Any, now: int) -> Any:
                if not isinstance(value, dict):
                    raise _fail("wrong_type", name, "expected an object")
                return {str(k): values(v, now) for k, v in value.items()}

            return mapping
        if kind == "array":
            items = _type_check(f"{name}[]", avro_type["items"])

            def array(value: Any, now: int) -> Any:
                if not isinstance(value, list):
                    raise _fail("wrong_type", name, "expected an array")
                return [items(v, now) for v in value]

            return array
        return _type_check(name, kind)
    if avro_type == "string":

        def string(value: Any, now: int) -> Any:
            if not isinstance(value, str):
                raise _fail("wrong_type", name, "expected a string")
            return value

        return string
    if avro_type in ("double", "float"):

        def number(value: Any, now: int) -> Any:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail("wrong_type", name, "expected a number")
            value = float(value)
            if not math.isfinite(value):
                raise _fail("not_finite", name, "NaN and Infinity are not allowed")
            return value

        return number
    if avro_type in _INT_RANGE:
        low, high = _INT_RANGE[avro_type]

        def integer(value: Any, now: int) -> Any:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail("wrong_type", name, "expected an integer")
            if not low <= value <= high:
                raise _fail("out_of_range", name, f"does not fit an Avro {avro_type}")
            return value

        return integer
    if avro_type == "boolean":

        def boolean(value: Any, now: int) -> Any:
            if not isinstance(value, bool):
                raise _fail("wrong_type", name, "expected true or false")
            return value

        return boolean
    if avro_type == "bytes":

        def raw_bytes(value: Any, now: int) -> Any:
            if not isinstance(value, (bytes, bytearray)):
                raise _fail("wrong_type", name, "expected bytes")
            return bytes(value)

        return raw_bytes
    raise NotImplementedError(f"{name}: Avro type {avro_type!r} is not validated")


def _constraint_checks(name: str, spec: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "driftloop.minLength" in spec or "driftloop.maxLength" in spec:
        low, high = spec.get("driftloop.minLength", 0), spec.get("driftloop.maxLength", 1 << 30)

        def length(value: Any, now: int) -> Any:
            if value is not None and not low <= len(value) <= high:
                raise _fail("bad_length", name, f"length must be {low}..{high}")
            return value

        checks.append(length)
    if "driftloop.pattern" in spec:
        pattern = re.compile(spec["driftloop.pattern"])

        def matches(value: Any, now: int) -> Any:
            if value is not None and (len(value) > 256 or not pattern.match(value)):
                raise _fail("bad_format", name, f"must match {pattern.pattern}")
            return value

        checks.append(matches)
    if "driftloop.minimum" in spec or "driftloop.maximum" in spec:
        low_f = spec.get("driftloop.minimum", -math.inf)
        high_f = spec.get("driftloop.maximum", math.inf)

        def within(value: Any, now: int) -> Any:
            if value is not None and not low_f <= value <= high_f:
                raise _fail("out_of_range", name, f"must be within [{low_f}, {high_f}]")
            return value

        checks.append(within)
    if "driftloop.maxFutureSeconds" in spec or "driftloop.maxPastSeconds" in spec:
        future_ms = int(spec.get("driftloop.maxFutureSeconds", 10**12)) * 1000
        past_ms = int(spec.get("driftloop.maxPastSeconds", 10**12)) * 1000

        def plausible_time(value: Any, now: int) -> Any:
            if value > now + future_ms:
                raise _fail("time_in_future", name, "too far in the future")
            if value < now - past_ms:
                raise _fail("time_too_old", name, "too far in the past")
            return value

        checks.append(plausible_time)
    return checks


_STRING_RULES = frozenset({"driftloop.minLength", "driftloop.maxLength", "driftloop.pattern"})
_NUMBER_RULES = frozenset({"driftloop.minimum", "driftloop.maximum"})
_TIME_RULES = frozenset({"driftloop.maxFutureSeconds", "driftloop.maxPastSeconds"})


def _fused_check(name: str, spec: dict[str, Any]) -> Check | None:
    """One function doing the type check and the constraints of the common field shapes (a
    string with a length and a pattern, a bounded number, a bounded time), in the same order
    and with the same errors as the chain of ``_type_check`` and ``_constraint_checks``: one
    call per field instead of one per rule. None for the other shapes (unions, maps, other
    combinations of rules), which keep the chain."""
    avro_type = spec["type"]
    rules = {key for key in spec if key.startswith("driftloop.")}
    if avro_type == "string" and rules <= _STRING_RULES:
        has_length = bool(rules & {"driftloop.minLength", "driftloop.maxLength"})
        low, high = spec.get("driftloop.minLength", 0), spec.get("driftloop.maxLength", 1 << 30)
        pattern = spec.get("driftloop.pattern")
        match = re.compile(pattern).match if pattern is not None else None

        def string(value: Any, now: int) -> Any:
            if not isinstance(value, str):
                raise _fail("wrong_type", name, "expected a string")
            if has_length and not low <= len(value) <= high:
                raise _fail("bad_length", name, f"length must be {low}..{high}")
            if match is not None and (len(value) > 256 or not match(value)):
                raise _fail("bad_format", name, f"must match {pattern}")
            return value

        return string
    if avro_type in ("double", "float") and rules <= _NUMBER_RULES:
        low_f = spec.get("driftloop.minimum", -math.inf)
        high_f = spec.get("driftloop.maximum", math.inf)
        isfinite = math.isfinite

        def number(value: Any, now: int) -> Any:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail("wrong_type", name, "expected a number")
            value = float(value)
            if not isfinite(value):
                raise _fail("not_finite", name, "NaN and Infinity are not allowed")
            if not low_f <= value <= high_f:  # always true without bounds: value is finite
                raise _fail("out_of_range", name, f"must be within [{low_f}, {high_f}]")
            return value

        return number
    if (isinstance(avro_type, dict) and avro_type.get("logicalType") == "timestamp-millis"
            and rules <= _TIME_RULES):
        bounded = bool(rules)
        future_ms = int(spec.get("driftloop.maxFutureSeconds", 10**12)) * 1000
        past_ms = int(spec.get("driftloop.maxPastSeconds", 10**12)) * 1000

        def timestamp(value: Any, now: int) -> Any:
            if type(value) is not int:  # bool, str (ISO-8601) and the rest
                value = _timestamp_ms(name, value)
            if bounded:
                if value > now + future_ms:
                    raise _fail("time_in_future", name, "too far in the future")
                if value < now - past_ms:
                    raise _fail("time_too_old", name, "too far in the past")
            return value

        return timestamp
    return None


def _field_check(name: str, spec: dict[str, Any]) -> Check:
    fused = _fused_check(name, spec)
    if fused is not None:
        return fused
    checks = (_type_check(name, spec["type"]), *_constraint_checks(name, spec))
    if len(checks) == 1:
        return checks[0]

    def chain(value: Any, now: int) -> Any:
        for check in checks:
            value = check(value, now)
        return value

    return chain


_MISSING = object()


class RecordValidator:
    """Checks a decoded JSON object (or Avro record) against a schema and returns the record
    normalised for encoding: unknown fields rejected, defaults filled, times in epoch ms."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        # Per field, in schema order: name, check, required, default.
        self._plan = tuple(
            (spec["name"], _field_check(spec["name"], spec), "default" not in spec,
             spec.get("default"))
            for spec in schema.raw["fields"])
        self._names = frozenset(name for name, *_ in self._plan)

    def _reject_unknown_fields(self, record: dict[Any, Any]) -> None:
        extra = record.keys() - self._names
        if extra:
            name = sorted(map(str, extra))[0][:64]
            raise ValidationError("unknown_field", f"unknown field {name!r}", name)

    def validate(self, record: Any, now_ms: int) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise ValidationError("not_an_object", "each event must be a JSON object")
        out: dict[str, Any] = {}
        known = 0
        try:
            for name, check, required, default in self._plan:
                value = record.get(name, _MISSING)
                if value is not _MISSING:
                    known += 1
                    out[name] = check(value, now_ms)
                elif required:
                    raise ValidationError("missing_field", f"{name}: is required", name)
                else:
                    out[name] = default
        except Exception:
            # An unknown field is the reason given first, as if it had been looked for first
            # (it is looked for only on failure: on the happy path counting is enough).
            self._reject_unknown_fields(record)
            raise
        if known != len(record):
            self._reject_unknown_fields(record)
        return out
