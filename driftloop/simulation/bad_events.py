"""Broken payloads as buggy applications send them: the stream the demo plays carries a few,
so the dead-letter path is exercised and shown next to the loop.

They are *extra* payloads, never replacements: the seeded transaction stream stays the same
whatever the bad rate, and every bad payload carries an id (``bad-<seed>-<n>``, where it has
an event id at all) so a test can tell it apart from a real event."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]


def _missing_amount(e: Payload) -> Payload:
    return {k: v for k, v in e.items() if k != "amount"}


def _amount_as_text(e: Payload) -> Payload:
    return {**e, "amount": f"{e['amount']} EUR"}


def _negative_amount(e: Payload) -> Payload:
    return {**e, "amount": -abs(float(e["amount"])) - 1.0}


def _unknown_channel(e: Payload) -> Payload:
    return {**e, "channel": "CARRIER_PIGEON"}


def _far_future(e: Payload) -> Payload:
    return {**e, "event_time": int(e["event_time"]) + 400 * 86_400_000}


def _extra_field(e: Payload) -> Payload:
    return {**e, "cvv": "123"}  # never accept what a schema does not declare


def _null_card(e: Payload) -> Payload:
    return {**e, "card_id": None}


#: name -> how a payload breaks; the name says what ingest should complain about.
BREAKAGES: dict[str, Callable[[Payload], Payload]] = {
    "missing_amount": _missing_amount,
    "amount_as_text": _amount_as_text,
    "negative_amount": _negative_amount,
    "unknown_channel": _unknown_channel,
    "far_future": _far_future,
    "extra_field": _extra_field,
    "null_card": _null_card,
}


class BadEvents:
    """Decides, per batch, which broken payloads to add. Seeded: the same seed and the same
    batches give the same bad payloads."""

    def __init__(self, seed: int, rate: float) -> None:
        self.rate = rate
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
            name = self._rng.choice(sorted(BREAKAGES))
            renamed = {**event, "event_id": f"bad-{self._seed}-{self.sent}"}
            out.append(BREAKAGES[name](renamed))
            self.sent += 1
            self.by_breakage[name] = self.by_breakage.get(name, 0) + 1
        return out
