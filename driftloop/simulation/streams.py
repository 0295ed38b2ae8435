"""A domain's stream generator, as its domain.toml declares it (``[stream] generator =
"module:function"``): demos, ``driftloop simulate``, the tests and the benchmarks play a domain
by name, never by importing its generator.

A generator is a function ``(seed, rate, start_ms, drifts) -> EventStream``: pure and seeded
(event i of seed s is the same on every machine, whatever the pace it is played at), in
stream time (event i happens ``i / rate`` seconds after ``start_ms``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from driftloop.contracts.domain import Domain, DomainError
from driftloop.simulation.drift_schedule import DriftSchedule
from driftloop.simulation.simulated_event import SimulatedEvent


class EventStream(Protocol):
    @property
    def rate(self) -> float:
        """Events per second of stream time."""
        ...

    @property
    def index(self) -> int:
        """How many events have been generated so far."""
        ...

    def take(self, n: int) -> list[SimulatedEvent]: ...


Generator = Callable[[int, float, int, DriftSchedule], EventStream]


def generator_of(domain: Domain) -> Generator:
    """The domain's declared generator function, imported."""
    ref = domain.stream.get("generator")
    if not isinstance(ref, str) or ":" not in ref:
        raise DomainError(f"domain {domain.name!r} declares no [stream] generator = "
                          "'module:function' in its domain.toml")
    module_name, _, attr = ref.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise DomainError(f"domain {domain.name!r}: stream generator {ref!r} cannot be "
                          f"imported: {exc}") from exc
    generator: Generator = function
    return generator


def stream_for(domain: Domain, *, seed: int, rate: float, start_ms: int,
               drifts: DriftSchedule | None = None) -> EventStream:
    """The domain's stream: seeded, at ``rate`` events per stream second, with ``drifts``
    (default: the domain's declared ones)."""
    schedule = drifts if drifts is not None else DriftSchedule.parse(
        str(domain.stream.get("drifts", "")))
    return generator_of(domain)(seed, rate, start_ms, schedule)
