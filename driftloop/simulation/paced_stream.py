"""Playing the simulated stream at its rate in real time, into a sink, telling observers (the
analyst bot, the ground-truth record, baselines) about every batch it sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from driftloop.simulation.bad_events import BadEvents
from driftloop.simulation.event_sink import EventSink
from driftloop.simulation.simulated_event import SimulatedEvent
from driftloop.simulation.streams import EventStream

Observer = Callable[[Sequence[SimulatedEvent], int], None]


class PacedStream:
    """Sends what the clock says is due every ``tick_s``: at 2,000 events/s and 50 ms ticks,
    batches of 100. A slow sink makes the stream fall behind, never skip events.

    ``extend``, when given, is asked once ``duration_s`` of events are sent: while it says
    True the stream goes on (at most to ``max_duration_s``). A run that must see something
    happen (a retrained model serving long enough to be judged) waits for that condition,
    not for a duration tuned to one machine's speed."""

    def __init__(self, simulator: EventStream, sink: EventSink, *, duration_s: float,
                 observers: Sequence[Observer] = (), tick_s: float = 0.05,
                 max_batch: int = 5000, bad: BadEvents | None = None,
                 extend: Callable[[], bool] | None = None,
                 max_duration_s: float | None = None) -> None:
        self.simulator = simulator
        self._sink = sink
        self._duration_s = duration_s
        self._extend = extend
        self._max_duration_s = max(duration_s, max_duration_s or duration_s)
        self._observers = list(observers)
        self._tick_s = tick_s
        self._max_batch = max_batch
        self.bad = bad
        self.sent = 0
        self.accepted = 0
        self.started_ms: int | None = None

    @property
    def total(self) -> int:
        """Events to send: ``duration_s`` of them, more while ``extend`` asks for more."""
        rate = self.simulator.rate
        planned = int(self._duration_s * rate)
        if (self._extend is None or self.simulator.index < planned
                or not self._extend()):
            return planned
        return int(self._max_duration_s * rate)

    @property
    def duration_s(self) -> float:
        """Seconds of stream sent so far (the planned duration once it is over)."""
        return self.simulator.index / self.simulator.rate

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.started_ms = int(time.time() * 1000)
        rate = self.simulator.rate
        while not stopping.is_set() and self.simulator.index < (total := self.total):
            due = min(total, int((loop.time() - t0) * rate) + 1)
            count = min(due - self.simulator.index, self._max_batch)
            if count > 0:
                batch = self.simulator.take(count)
                now_ms = int(time.time() * 1000)
                # observers first: a label request may come back before send() returns
                for observer in self._observers:
                    observer(batch, now_ms)
                payloads = [e.event for e in batch]
                if self.bad is not None:  # broken extras, seen by no observer
                    payloads += self.bad.broken_copies(payloads)
                self.accepted += await self._sink.send(payloads)
                self.sent += count
            try:
                await asyncio.wait_for(stopping.wait(), self._tick_s)
            except TimeoutError:
                pass
