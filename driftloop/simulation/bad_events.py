"""Broken payloads as buggy applications send them: the stream the demo plays carries a few,
so the dead-letter path is exercised and shown next to the loop.

The breakages are derived from the domain's event schema (any domain gets them): a required
field missing, a number sent as text, a number below its declared minimum, a symbol its enum
does not know, an event time far in the future, a field the schema does not declare, and a
null entity. They are *extra* payloads, never replacements: the seeded stream stays the same
whatever the bad rate, and every bad payload carries an id (``bad-<seed>-<n>``, where it has
an event id at all) so a test can tell it apart from a real event."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from driftloop.contracts.domain import Domain

Payload = dict[str, Any]
Breakage = Callable[[Payload], Payload]
_NUMBERS = ("int", "long", "float", "double")


def _base_type(field: dict[str, Any]) -> Any:
    kind = field["type"]
    return kind.get("type") if isinstance(kind, dict) and "logicalType" not in kind else kind


def breakages(schema: dict[str, Any], domain: Domain) -> dict[str, Breakage]:
    """name -> how a payload breaks, for this schema; the name says what ingest should
    complain about."""
    fields = schema["fields"]
    keys = {domain.event_id_field, domain.entity_field, domain.event_time_field}
    numbers = [f["name"] for f in fields
               if _base_type(f) in _NUMBERS and f["name"] not in keys]
    bounded = [f for f in fields if "driftloop.minimum" in f]
    enums = [f for f in fields if isinstance(f["type"], dict) and f["type"].get("type") == "enum"]
    entity, when = domain.entity_field, domain.event_time_field
    out: dict[str, Breakage] = {
        "far_future": lambda e: {**e, when: int(e[when]) + 400 * 86_400_000},
        "extra_field": lambda e: {**e, "undeclared_field": "123"},  # never accept it
        "null_entity": lambda e: {**e, entity: None},
    }
    if numbers:
        name = numbers[0]
        out["missing_field"] = lambda e: {k: v for k, v in e.items() if k != name}
        out["number_as_text"] = lambda e: {**e, name: f"{e[name]} units"}
    if bounded:
        low = bounded[0]
        out["below_minimum"] = lambda e: {
            **e, low["name"]: float(low["driftloop.minimum"]) - 1.0}
    if enums:
        enum = enums[0]["name"]
        out["unknown_symbol"] = lambda e: {**e, enum: "CARRIER_PIGEON"}
    return out


class BadEvents:
    """Decides, per batch, which broken payloads to add. Seeded: the same seed and the same
    batches give the same bad payloads."""

    def __init__(self, seed: int, rate: float, schema: dict[str, Any], domain: Domain) -> None:
        self.rate = rate
        self.breakages = breakages(schema, domain)
        self._names = sorted(self.breakages)
        self._id_field = domain.event_id_field
        self._rng = random.Random(f"bad:{seed}")
        self._seed = seed
        self.sent = 0
        self.by_breakage: dict[str, int] = {}

    def broken_copies(self, batch: list[Payload]) -> list[Payload]:
        """Broken copies of about ``rate`` of the batch's events (each copy renamed)."""
        out = []
        for event in batch:
            if self._rng.random() >= self.rate:
                continue
            name = self._rng.choice(self._names)
            renamed = {**event, self._id_field: f"bad-{self._seed}-{self.sent}"}
            out.append(self.breakages[name](renamed))
            self.sent += 1
            self.by_breakage[name] = self.by_breakage.get(name, 0) + 1
        return out
