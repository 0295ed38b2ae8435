"""The stores fail under load: Redis frozen (SIGSTOP: every command hangs), then restarted
empty, then the offline store's disk full to the last byte, one after the other while a seeded
stream flows through ingest's HTTP API and a trained champion serves.

After the stream and the drain barrier, exactly: every sent event is on events.valid, every
valid event has a champion prediction (degraded while Redis was away, never missing), no
service dead-lettered a good event or restarted, and the offline store (the training data)
holds one row per sent event: the rows of the full-disk seconds were retried until written,
not dropped."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pyarrow.parquet as pq
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
from tests.chaos.stack import ChaosStack, read_to_end, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1200)]


def _offline_rows(stack: ChaosStack, view: str, since_ms: int) -> set[tuple[str, int]]:
    """(entity, event time in ms) of every offline row of ``view`` from ``since_ms`` on."""
    rows: set[tuple[str, int]] = set()
    for path in (stack.offline_disk.path / view).glob("*.parquet"):
        table = pq.read_table(path, columns=["card_id", "event_timestamp"]).to_pydict()
        for card, at in zip(table["card_id"], table["event_timestamp"], strict=True):
            ms = round(at.timestamp() * 1000)
            if ms >= since_ms:
                rows.add((card, ms))
    return rows


async def test_frozen_and_restarted_redis_and_a_full_offline_disk_lose_nothing(
        stack: ChaosStack, champion: str, analysts: AnalystDesk, sizes: ChaosSizes) -> None:
    seed = sizes.seed * 100 + 4
    start_ms = int(time.time() * 1000)
    simulator = TransactionSimulator(SimulatorConfig(seed=seed, rate=sizes.rate,
                                                     start_ms=start_ms))
    sent: dict[str, tuple[str, int]] = {}

    def record(batch: list[SimulatedEvent] | object, now_ms: int) -> None:
        for e in batch:  # type: ignore[attr-defined]
            sent[e.event_id] = (e.entity_id, int(e.event["event_time"]))

    pids = {name: stack.pid(name) for name in LOOP_ORDER}
    sink = HttpEventSink(stack.url("ingest", "/events"), timeout_s=30)
    stream = PacedStream(simulator, sink, duration_s=3600, observers=[record, analysts.observe])
    stopping = asyncio.Event()
    flowing = asyncio.create_task(stream.run(stopping))
    faults: dict[str, float] = {}

    async def fault(name: str, start: object, end: object) -> None:
        # not a wait for a condition: how long a fault lasts is the experiment's variable
        await asyncio.sleep(2.0)
        began = time.monotonic()
        start()  # type: ignore[operator]
        await asyncio.sleep(sizes.freeze_s)
        end()  # type: ignore[operator]
        faults[name] = round(time.monotonic() - began, 1)

    try:
        await fault("redis frozen s", stack.redis.freeze, stack.redis.thaw)
        await fault("redis restarted empty s", lambda: None, stack.redis.restart)
        await fault("offline disk full s", stack.offline_disk.fill, stack.offline_disk.free)
        while len(sent) < sizes.events and not flowing.done():
            await asyncio.sleep(0.2)
    finally:
        stopping.set()
        await flowing
        await sink.close()
    drain_s = await stack.drained(timeout_s=300)

    prefix = f"s{seed}-"
    valid = {e["event_id"] for e in stack.decode(
        await read_to_end(stack.bootstrap, stack.topics.valid), stack.topics.event_schema)
        if e["event_id"].startswith(prefix)}
    predictions = [p for p in stack.decode(
        await read_to_end(stack.bootstrap, stack.topics.predictions),
        "driftloop.models.Prediction") if p["event_id"].startswith(prefix) and not p["shadow"]]
    scored = Counter(p["event_id"] for p in predictions)
    degraded = {p["event_id"] for p in predictions if p["degraded"]}
    letters = [d for d in stack.decode(await read_to_end(
        stack.bootstrap, stack.topics.deadletter), "driftloop.ops.DeadLetter")
        if d["service"] != "ingest"]
    offline = await wait_for(
        lambda: (rows if len(rows := _offline_rows(stack, "card_activity", start_ms))
                 >= len(set(sent.values())) else None), 60, "every offline row")
    print_figures("stores fail under load", {
        "events sent": len(sent), **faults, "refused by ingest": sink.rejected,
        "lost on events.valid": len(set(sent) - valid),
        "valid without prediction": len(valid - set(scored)),
        "degraded predictions": len(degraded),
        "raw duplicate predictions": sum(scored.values()) - len(scored),
        "offline rows (card, time)": len(offline),
        "dead letters from services": len(letters), "drain s": f"{drain_s:.1f}",
        "champion": champion})
    assert valid == set(sent)
    assert set(scored) == valid  # one per event after de-dup by id, degraded or not
    assert degraded  # the frozen store was noticed, not waited out
    assert offline == set(sent.values())  # the training data has every event's row
    assert letters == []
    assert {name: stack.pid(name) for name in LOOP_ORDER} == pids  # nothing crashed
