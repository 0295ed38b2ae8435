"""The consume -> process -> publish -> commit loop every Kafka-facing service runs.

Guarantees: offsets are committed only after every output of the batch is acknowledged
(at-least-once); a record that makes the handler raise is isolated and dead-lettered with the
error, never dropped and never retried forever (no crash loop); a broker hiccup is retried with
back-off. Handlers are plain functions of a batch, so they are tested without a broker.

With ``pipeline=True`` the handler works on the next batch while the broker acknowledges the
previous one: at most one batch is in flight, and it is committed before the next one is
published, so commits and per-partition output order stay as without it. Worth it where the
handler's CPU time and the broker's round trips are of the same order (ingest); a stateful
handler that rebuilds state on a rebalance should keep the default."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from driftloop.messaging.backoff import Backoff
from driftloop.messaging.deadletter import DeadLetterer
from driftloop.messaging.publisher import Outbound, Publisher
from driftloop.telemetry import HopSpans, ServiceMetrics

log = logging.getLogger(__name__)

Handler = Callable[
    [Sequence[ConsumerRecord]], Sequence[Outbound] | Awaitable[Sequence[Outbound]]
]


class BatchLoop:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        publisher: Publisher,
        handler: Handler,
        dead_letters: DeadLetterer,
        *,
        max_records: int = 2000,
        poll_timeout_ms: int = 100,
        on_batch: Callable[[int, float], None] | None = None,
        metrics: ServiceMetrics | None = None,
        pipeline: bool = False,
        hops: HopSpans | None = None,
    ) -> None:
        self._consumer = consumer
        self._publisher = publisher
        self._handler = handler
        self._dead_letters = dead_letters
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._on_batch = on_batch
        self.stopping = asyncio.Event()
        # Records behind the end of the log, summed over this process's partitions: the
        # number to alert on when a service cannot keep up.
        self._lag = metrics.gauge(
            "consumer_lag", "Records not yet consumed on the assigned partitions."
        ) if metrics is not None else None
        self._positions: dict[TopicPartition, int] = {}
        self._pipeline = pipeline
        self._hops = hops  # this service's span in each sampled event's trace
        self._in_flight: asyncio.Task[None] | None = None
        self.batches = 0
        self.records = 0

    async def _call(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        result: Any = self._handler(records)
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    async def _handle(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        try:
            return await self._call(records)
        except Exception:
            log.exception("batch of %d failed; isolating the record(s) at fault", len(records))
        outputs: list[Outbound] = []
        for record in records:
            try:
                outputs.extend(await self._call([record]))
            except Exception as exc:  # a poison record: dead-letter it and move on
                outputs.append(self._dead_letters.record(
                    record.value or b"",
                    "processing_error",
                    f"{type(exc).__name__}: {exc}",
                    source=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                ))
        return outputs

    async def run_once(self) -> int:
        """Process one poll's worth of records; returns how many were consumed."""
        polled = await self._consumer.getmany(
            timeout_ms=self._poll_timeout_ms, max_records=self._max_records
        )
        if not polled:
            return 0
        started = time.perf_counter()
        records = [record for batch in polled.values() for record in batch]
        hops = self._hops.begin(records) if self._hops is not None else None
        outputs = await self._handle(records)
        offsets = {tp: batch[-1].offset + 1 for tp, batch in polled.items()}
        if not self._pipeline:
            await self._deliver(outputs, offsets, len(records), started, hops)
            return len(records)
        await self._settle()
        self._in_flight = asyncio.create_task(
            self._deliver(outputs, offsets, len(records), started, hops))
        # Let the delivery hand its batches to the producer and the producer's sender write
        # them to the socket before the next handler call holds the event loop.
        for _ in range(3):
            await asyncio.sleep(0)
        return len(records)

    async def _deliver(self, outputs: Sequence[Outbound], offsets: dict[TopicPartition, int],
                       count: int, started: float, hops: Any = None) -> None:
        """Publish a batch's outputs, then commit its offsets: at-least-once."""
        await self._publisher.publish_until_acked(outputs, self.stopping)
        try:
            await self._commit(offsets)
        except KafkaError as exc:
            # The outputs are acknowledged, so nothing is lost: the next commit covers these
            # offsets, or a restart re-delivers them (consumers de-duplicate by id). Raising
            # would gain nothing (the consumer's position has moved on either way), and would
            # skip the batch's hop spans and metrics below, or in pipeline mode lose the next
            # batch, already polled and handled.
            log.warning("commit failed, records may be re-delivered: %r", exc)
        self._positions.update(offsets)
        if hops is not None and self._hops is not None:
            self._hops.end(hops)
        if self._lag is not None:
            self._lag.set(self._current_lag())
        self.batches += 1
        self.records += count
        if self._on_batch is not None:
            self._on_batch(count, time.perf_counter() - started)

    async def _settle(self) -> None:
        """Wait for the batch in flight (pipeline mode); its errors surface here."""
        task, self._in_flight = self._in_flight, None
        if task is not None:
            await task

    def _current_lag(self) -> int:
        lag = 0
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - self._positions.get(tp, highwater))
        return lag

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(
                {tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()}
            )
        except CommitFailedError as exc:
            # The group rebalanced under us: the new owner re-reads from the last commit, and
            # consumers de-duplicate by id. Nothing is lost.
            log.warning("commit failed after a rebalance, records will be re-delivered: %s", exc)

    async def run(self) -> None:
        backoff = Backoff()
        try:
            while not self.stopping.is_set():
                try:
                    await self.run_once()
                    backoff.reset()
                except KafkaError as exc:
                    await backoff.wait(log, "the batch loop's Kafka call", exc)
        finally:
            try:
                await self._settle()
            except KafkaError as exc:  # stopping: the next owner re-reads the uncommitted tail
                log.warning("last batch not committed at stop, it will be re-delivered: %r", exc)

    def stop(self) -> None:
        self.stopping.set()
