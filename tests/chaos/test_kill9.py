"""kill -9 under load: each of the five services is SIGKILLed (its whole process group, no
flush, no commit) several times while a seeded stream flows through ingest's HTTP API, and
restarted by the test. A trained champion serves (the ``champion`` fixture), so the scorer
reads the online features the killed features service writes, and the trainer and monitor
are killed with labels flowing to them.

After the stream and the drain barrier (every group's committed offsets at the end of its
inputs), exactly: every sent event is on events.valid (by event id), every valid event has a
champion prediction, and after de-duplication by event id there is one per event. Raw
duplicates (at-least-once re-deliveries after a kill) are allowed, counted and printed."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest

from driftloop.demo.supervisor import LOOP_ORDER
from driftloop.simulation import (
    AnalystDesk,
    HttpEventSink,
    PacedStream,
    SimulatedEvent,
    SimulatorConfig,
    TransactionSimulator,
)
from tests.chaos.figures import print_figures
from tests.chaos.sizes import ChaosSizes
from tests.chaos.stack import ChaosStack, read_to_end

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1800)]


async def _kill_schedule(stack: ChaosStack, sizes: ChaosSizes, rng: random.Random,
                         log: list[tuple[str, float]]) -> None:
    """Round after round, each service in loop order: killed 0.5-3 s after it was ready,
    then restarted (start + wait for /readyz) before the next victim."""
    for _ in range(sizes.kills):
        for name in LOOP_ORDER:
            # not a wait for a condition: when the fault strikes is the experiment's variable
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            stack.kill(name)
            started = time.monotonic()
            await asyncio.to_thread(stack.restart, name)
            log.append((name, time.monotonic() - started))


async def test_every_event_survives_kill_9_of_every_service(
        stack: ChaosStack, champion: str, analysts: AnalystDesk, sizes: ChaosSizes) -> None:
    seed = sizes.seed * 100 + 2
    simulator = TransactionSimulator(SimulatorConfig(seed=seed, rate=sizes.rate,
                                                     start_ms=int(time.time() * 1000)))
    sent: list[str] = []

    def record(batch: list[SimulatedEvent] | object, now_ms: int) -> None:
        sent.extend(e.event_id for e in batch)  # type: ignore[attr-defined]

    sink = HttpEventSink(stack.url("ingest", "/events"), timeout_s=30)
    # long enough for any kill schedule: stopped once the kills are done and enough was sent
    stream = PacedStream(simulator, sink, duration_s=3600,
                         observers=[record, analysts.observe])
    stopping = asyncio.Event()
    flowing = asyncio.create_task(stream.run(stopping))
    restarts: list[tuple[str, float]] = []
    try:
        await _kill_schedule(stack, sizes, random.Random(seed), restarts)
        while len(sent) < sizes.events and not flowing.done():
            await asyncio.sleep(0.2)
    finally:
        stopping.set()
        await flowing
        await sink.close()
    drain_s = await stack.drained(timeout_s=300)

    prefix = f"s{seed}-"
    valid = Counter(e["event_id"] for e in stack.decode(
        await read_to_end(stack.bootstrap, stack.topics.valid), stack.topics.event_schema)
        if e["event_id"].startswith(prefix))
    champion_predictions = Counter(p["event_id"] for p in stack.decode(
        await read_to_end(stack.bootstrap, stack.topics.predictions),
        "driftloop.models.Prediction") if p["event_id"].startswith(prefix) and not p["shadow"])
    every_letter = stack.decode(await read_to_end(stack.bootstrap, stack.topics.deadletter),
                                "driftloop.ops.DeadLetter")
    letters = [d for d in every_letter if d["service"] != "ingest"]
    refused = Counter(d["error_class"] for d in every_letter if prefix.encode() in d["original"])
    lost = set(sent) - set(valid)
    unscored = set(valid) - set(champion_predictions)
    print_figures("kill -9 under load", {
        "events sent": len(sent), "kills": len(restarts),
        "kills per service": dict(Counter(n for n, _ in restarts)),
        "restart s": " ".join(f"{n}={s:.1f}" for n, s in restarts),
        "refused by ingest": f"{sink.rejected} {dict(refused)}",
        "lost on events.valid": len(lost), "valid without prediction": len(unscored),
        "raw duplicates on events.valid": sum(valid.values()) - len(valid),
        "raw duplicate predictions": sum(champion_predictions.values())
        - len(champion_predictions),
        "dead letters from services": len(letters), "drain s": f"{drain_s:.1f}",
        "champion": champion})
    assert len(restarts) == 5 * sizes.kills
    assert lost == set(), sorted(lost)[:20]
    assert set(valid) == set(sent)  # nothing on events.valid that was not sent
    assert unscored == set(), sorted(unscored)[:20]
    assert set(champion_predictions) == set(valid)  # after de-dup by id: one per event
    assert letters == []  # a kill is no reason to dead-letter a good event
    assert stack.alive() == list(LOOP_ORDER)
