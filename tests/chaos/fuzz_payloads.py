"""Seeded broken payloads for ingest, each with what must become of it. Pure: no I/O.

Every payload starts as a valid simulated event with its own id (``z<seed>-<n>``) and is
then broken one way. Bit flips never touch the event id (nor, in Avro, the header and the
id's bytes), so whatever a flip does, an accepted payload is found on events.valid by its
own id. ``expect`` is ``valid`` (the unbroken controls), ``dead`` (must not be accepted: a
dead letter, or over HTTP a refusal when the body is not JSON at all) or ``either``."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from driftloop.contracts import AvroCodec
from driftloop.simulation import SimulatorConfig, TransactionSimulator

VALID, DEAD, EITHER = "valid", "dead", "either"


@dataclass(frozen=True)
class Payload:
    index: int
    kind: str
    event_id: str
    body: bytes
    expect: str


def _flip(data: bytes, start: int, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(start, len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def _json(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def _id_end(text: bytes, event_id: str) -> int:
    """Where the JSON text's event id value ends (flips start after it)."""
    return text.index(event_id.encode()) + len(event_id) + 1


def _replace(event: dict[str, Any], field: str, literal: bytes) -> bytes:
    """The event's JSON with one value replaced by a raw literal (NaN, huge numbers...)."""
    marker = "__chaos__"
    return _json({**event, field: marker}).replace(f'"{marker}"'.encode(), literal)


WRONG_TYPES: tuple[tuple[str, Any], ...] = (
    ("amount", "12.50"), ("event_time", "yesterday"), ("card_id", 5), ("currency", 3),
    ("channel", None), ("event_id", 17), ("country", ["DE"]), ("amount", True))


def json_mutations(rng: random.Random) -> dict[str, tuple[str, Callable[[dict[str, Any]], bytes]]]:
    """kind -> (expectation, mutation of one event into bytes)."""
    def bitflip(e: dict[str, Any]) -> bytes:
        text = _json(e)
        return _flip(text, _id_end(text, e["event_id"]), rng)

    def truncate(e: dict[str, Any]) -> bytes:
        text = _json(e)
        return text[:rng.randrange(1, len(text) - 1)]

    def wrong_type(e: dict[str, Any]) -> bytes:
        field, value = rng.choice(WRONG_TYPES)
        return _json({**e, field: value})

    def deep(e: dict[str, Any]) -> bytes:
        depth = rng.choice((20, 40, 3000))  # 3,000 is past the parser's own limit too
        return _json(e)[:-1] + b',"nested":' + b"[" * depth + b"]" * depth + b"}"

    def invalid_utf8(e: dict[str, Any]) -> bytes:
        text = _json(e)
        at = text.index(e["country"].encode(), _id_end(text, e["event_id"]))
        return text[:at] + rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80")) + text[at:]

    return {
        "control_json": (VALID, _json),
        "bitflip_json": (EITHER, bitflip),
        "truncated_json": (DEAD, truncate),
        "trailing_garbage_json": (DEAD, lambda e: _json(e) + rng.choice(
            (b"x", b"}", b" 1", b"\x00\x01", b'{"a":1}'))),
        "wrong_type": (DEAD, wrong_type),
        "nan": (DEAD, lambda e: _replace(e, "amount", rng.choice(
            (b"NaN", b"Infinity", b"-Infinity")))),
        "huge_number": (DEAD, lambda e: _replace(e, rng.choice(("amount", "event_time")),
                                                 rng.choice((b"1e300", b"1e999",
                                                             str(2 ** 70).encode())))),
        "invalid_utf8": (DEAD, invalid_utf8),
        "deep_nesting": (DEAD, deep),
        "unknown_field": (DEAD, lambda e: _json({**e, "favourite_colour": "blue"})),
        "empty_object": (DEAD, lambda e: b"{}"),
        "empty": (DEAD, lambda e: b""),
    }


def avro_mutations(codec: AvroCodec, schema: str, rng: random.Random
                   ) -> dict[str, tuple[str, Callable[[dict[str, Any]], bytes]]]:
    """Confluent wire-format bodies (events.raw only)."""
    def encode(e: dict[str, Any]) -> bytes:
        return codec.encode(schema, e)

    def protected(e: dict[str, Any]) -> int:
        # magic byte, 4-byte schema id, then the id: a zig-zag varint length and its bytes
        return 5 + 1 + len(e["event_id"].encode())

    return {
        "control_avro": (VALID, encode),
        "bitflip_avro": (EITHER, lambda e: _flip(encode(e), protected(e), rng)),
        "truncated_avro": (DEAD, lambda e: encode(e)[:-rng.randint(1, 8)]),
        "trailing_bytes_avro": (DEAD, lambda e: encode(e) + rng.randbytes(rng.randint(1, 8))),
        "schema_id_avro": (DEAD, lambda e: encode(e)[:1] + rng.randbytes(4) + encode(e)[5:]),
    }


def payloads(seed: int, count: int, start_ms: int, codec: AvroCodec, schema: str,
             channel: str) -> list[Payload]:
    """``count`` payloads for ``channel`` (``http``: JSON kinds; ``raw``: JSON and Avro),
    the kinds taken in turn so every kind gets its share."""
    rng = random.Random(f"fuzz:{seed}:{channel}")
    kinds = json_mutations(rng)
    if channel == "raw":
        kinds |= avro_mutations(codec, schema, rng)
    names = sorted(kinds)
    simulator = TransactionSimulator(SimulatorConfig(seed=seed, start_ms=start_ms))
    out = []
    for i, simulated in enumerate(simulator.take(count)):
        event_id = f"z{seed}{channel[0]}-{i:06d}"
        kind = names[i % len(names)]
        expect, mutate = kinds[kind]
        out.append(Payload(i, kind, event_id, mutate({**simulated.event,
                                                       "event_id": event_id}), expect))
    return out


def http_bodies(items: list[Payload], seed: int) -> list[list[Payload]]:
    """HTTP requests of 1-3 payloads each (a JSON array); an ``empty`` payload is a request
    of its own with an empty body."""
    rng = random.Random(f"fuzz:{seed}:bodies")
    bodies: list[list[Payload]] = []
    pending = [p for p in items if p.kind != "empty"]
    bodies += [[p] for p in items if p.kind == "empty"]
    while pending:
        take = rng.randint(1, 3)
        bodies.append(pending[:take])
        pending = pending[take:]
    return bodies


def body_bytes(request: list[Payload]) -> bytes:
    if len(request) == 1 and request[0].kind == "empty":
        return b""
    return b"[" + b",".join(p.body for p in request) + b"]"
