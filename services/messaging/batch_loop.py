"""The consume -> process -> publish -> commit loop every Kafka-facing service runs.

Guarantees: offsets are committed only after every output of the batch is acknowledged
(at-least-once); a record that makes the handler raise is isolated and dead-lettered with the
error, never dropped and never retried forever (no crash loop); a broker hiccup is retried with
back-off. Handlers are plain functions of a batch, so they are tested without a broker."""

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

from services.messaging.deadletter import DeadLetterer
from services.messaging.publisher import Outbound, Publisher
from services.telemetry import ServiceMetrics

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
        self.batches = 0
        self.records = 0

    async def _call(self, records: Sequence[ConsumerRecord]) -> Sequence[Outbound]:
        result: Any = self._handler(records)
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    async def _handle(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        try:
            return list(await self._call(records))
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
        outputs = await self._handle(records)
        await self._publisher.publish_until_acked(outputs, self.stopping)
        offsets = {tp: batch[-1].offset + 1 for tp, batch in polled.items()}
        await self._commit(offsets)
        self._positions.update(offsets)
        if self._lag is not None:
            self._lag.set(self._current_lag())
        self.batches += 1
        self.records += len(records)
        if self._on_batch is not None:
            self._on_batch(len(records), time.perf_counter() - started)
        return len(records)

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
        delay = 0.1
        while not self.stopping.is_set():
            try:
                await self.run_once()
                delay = 0.1
            except KafkaError as exc:
                log.warning("Kafka error in the batch loop, retrying in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def stop(self) -> None:
        self.stopping.set()
