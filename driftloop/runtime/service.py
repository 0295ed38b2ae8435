"""Running a service until SIGINT or SIGTERM, then stopping it cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

from driftloop.messaging import ensure_topics, wait_for_broker
from driftloop.runtime.health import Health
from driftloop.runtime.settings import CommonSettings
from driftloop.telemetry import setup_tracing


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run_until_stopped(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stopping)``; the first SIGINT/SIGTERM sets ``stopping`` so the service can
    finish its batch, commit and close its clients."""

    async def runner() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await main(stopping)

    asyncio.run(runner())


class _Service(Protocol):
    async def run(self, stopping: asyncio.Event) -> None: ...


#: The longest a stopping service waits for its last spans to be exported.
SPAN_FLUSH_TIMEOUT_MS = 5000


def serve_service(name: str, settings: CommonSettings,
                  build: Callable[[], _Service]) -> None:
    """The ``main()`` of every service: logging, tracing (service.name = ``name``), then the
    service built by ``build`` runs until SIGINT/SIGTERM. However it ends (a signal, an error),
    the spans it recorded are exported before the process exits: left to the SDK's exit
    hook, a service killed after its grace period loses the last seconds of every trace."""
    configure_logging(settings.log_level)
    provider = setup_tracing(name, otlp_endpoint=settings.otlp_endpoint,
                             trace_file=settings.trace_file,
                             sample_ratio=settings.trace_sample_ratio)
    try:
        run_until_stopped(build().run)
    finally:
        provider.force_flush(SPAN_FLUSH_TIMEOUT_MS)
        provider.shutdown()


async def connect_to_kafka(settings: CommonSettings, health: Health,
                           timeout_s: float = 120.0) -> None:
    """What every service does before consuming: wait for the broker, create the loop's topics
    (idempotent, so every replica may), and mark both done on /readyz."""
    await wait_for_broker(settings.kafka_bootstrap, timeout_s=timeout_s)
    health.done("broker")
    await ensure_topics(settings.kafka_bootstrap, settings.topics().all_names(),
                        settings.topic_partitions)
    health.done("topics")
