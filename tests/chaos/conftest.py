"""Fixtures of the chaos suite: one loop (five service processes, a private Redis, small
disks under the registry and the offline store) shared by the package's tests, and a trained
champion serving in it. The broker is the session's (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.demo.supervisor import LOOP_ORDER
from driftloop.messaging import KafkaClients
from driftloop.simulation import (
    AnalystBot,
    AnalystConfig,
    AnalystDesk,
    HttpEventSink,
    PacedStream,
    SimulatorConfig,
    TransactionSimulator,
)
from tests.chaos.sizes import ChaosSizes
from tests.chaos.stack import ChaosStack, start_stack, stop_stack, wait_for
from tests.conftest import free_port

#: The services' settings for the suite: seven processes share two cores, so lookups get the
#: demo's generous deadlines; the first model is trained after a few hundred labels, quickly;
#: label-count retraining is off, so every later run is one a test (or the monitor) asked for.
SERVICE_ENV = {
    "DRIFTLOOP_TRAINER_FIRST_MODEL_LABELS": "300",
    "DRIFTLOOP_TRAINER_MIN_NEW_LABELS": "0",
    "DRIFTLOOP_TRAINER_EPOCHS": "15",
    "DRIFTLOOP_FEATURE_DEADLINE_MS": "500",
    "DRIFTLOOP_SCORER_FEATURE_DEADLINE_S": "1.0",
    "DRIFTLOOP_TRACE_SAMPLE_RATIO": "0",
    "DRIFTLOOP_MONITOR_SNAPSHOT_INTERVAL_S": "10",
}


@pytest.fixture(scope="package")
def sizes() -> ChaosSizes:
    return ChaosSizes.from_env()


@pytest.fixture(scope="package")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ChaosStack]:
    out: Path = tmp_path_factory.mktemp("chaos")
    prefix = f"chaos{os.getpid()}."
    ports = {name: free_port() for name in LOOP_ORDER}
    started = time.monotonic()
    loop = start_stack(out, kafka_bootstrap, prefix, ports, free_port(), SERVICE_ENV)
    print(f"chaos stack ready in {time.monotonic() - started:.1f}s under {out}", flush=True)
    try:
        yield loop
    finally:
        stop_stack(loop)


@pytest.fixture(scope="package")
async def analysts(stack: ChaosStack, sizes: ChaosSizes) -> AsyncIterator[AnalystDesk]:
    """The analyst bot, labelling for the whole package: half the traffic audited and most
    frauds disputed, within a second, so the trainer has labels from the first seconds."""
    codec = AvroCodec(load_schemas(), LocalSchemaRegistry(load_schemas()))
    bot = AnalystBot(AnalystConfig(seed=sizes.seed, sample_rate=0.5, min_delay_s=0.2,
                                   max_delay_s=0.8, dispute_rate=0.9, dispute_min_delay_s=0.5,
                                   dispute_max_delay_s=1.5, noise=0.0))
    desk = AnalystDesk(bot, KafkaClients(stack.bootstrap, client_id="chaos-analysts"), codec,
                       stack.topics, group_id=f"{stack.topics.prefix}analyst-bot")
    stopping = asyncio.Event()
    task = asyncio.create_task(desk.run(stopping))
    yield desk
    stopping.set()
    await asyncio.wait_for(task, 30)


@pytest.fixture(scope="package")
async def champion(stack: ChaosStack, analysts: AnalystDesk, sizes: ChaosSizes) -> str:
    """A trained champion serving in the scorer (not the declared baseline rule): a warm-up
    stream flows, labelled by the analysts, until the trainer's first model is promoted."""
    simulator = TransactionSimulator(SimulatorConfig(seed=sizes.seed * 100 + 1,
                                                     rate=sizes.rate,
                                                     start_ms=int(time.time() * 1000)))
    sink = HttpEventSink(stack.url("ingest", "/events"))
    stream = PacedStream(simulator, sink, duration_s=600, observers=[analysts.observe])
    stopping = asyncio.Event()
    task = asyncio.create_task(stream.run(stopping))

    def trained() -> str | None:
        serving = stack.champion_version()
        return serving[0] if serving is not None and not serving[1] else None

    try:
        version: str = await wait_for(trained, 240, "a trained champion in the scorer", 1.0)
    finally:
        stopping.set()
        await task
        await sink.close()
    print(f"champion {version} after {stream.sent} warm-up events", flush=True)
    return version
