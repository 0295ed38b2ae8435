"""PacedStream's length: the planned duration, or longer while ``extend`` asks for more."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from driftloop.simulation import PacedStream, SimulatorConfig, TransactionSimulator


class ListSink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def send(self, events: Sequence[dict[str, Any]]) -> int:
        self.events.extend(events)
        return len(events)

    async def close(self) -> None:
        pass


def _run(stream: PacedStream) -> None:
    asyncio.run(stream.run(asyncio.Event()))


def test_without_extend_it_sends_exactly_the_planned_events() -> None:
    sink = ListSink()
    stream = PacedStream(TransactionSimulator(SimulatorConfig(seed=3, rate=2000)), sink,
                         duration_s=0.05, tick_s=0.001)
    _run(stream)
    assert stream.sent == len(sink.events) == 100
    assert stream.duration_s == 0.05


def test_extend_keeps_it_going_until_the_condition_holds_then_stops() -> None:
    sink = ListSink()
    asked: list[int] = []
    stream: PacedStream

    def extend() -> bool:  # the condition: 150 events seen past the planned 100
        asked.append(stream.simulator.index)
        return stream.simulator.index < 250

    stream = PacedStream(TransactionSimulator(SimulatorConfig(seed=3, rate=2000)), sink,
                         duration_s=0.05, tick_s=0.001, extend=extend, max_duration_s=10)
    _run(stream)
    assert 250 <= stream.sent == len(sink.events) < 20000
    assert min(asked) >= 100  # never asked before the planned events were out


def test_extend_is_bounded_by_max_duration() -> None:
    sink = ListSink()
    stream = PacedStream(TransactionSimulator(SimulatorConfig(seed=3, rate=2000)), sink,
                         duration_s=0.05, tick_s=0.001, extend=lambda: True,
                         max_duration_s=0.1)
    _run(stream)
    assert stream.sent == len(sink.events) == 200
