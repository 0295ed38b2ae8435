"""Reads the loop's topics (no consumer group: it only watches) and feeds the ledger."""

from __future__ import annotations

import asyncio
import logging
import time

from driftloop.contracts import AvroCodec, DecodeError, Topics
from driftloop.demo.loop_ledger import LoopLedger
from driftloop.messaging import KafkaClients

log = logging.getLogger(__name__)

WATCHED = ("events.valid", "events.deadletter", "predictions", "labels", "label.requests",
           "drift.signals", "retrain.requests", "models.lifecycle")


class LoopWatcher:
    def __init__(self, clients: KafkaClients, codec: AvroCodec, topics: Topics,
                 ledger: LoopLedger) -> None:
        self._clients = clients
        self._codec = codec
        self._topics = topics
        self.ledger = ledger
        self._base = {topics.name(b): b for b in WATCHED}

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = self._clients.consumer(*self._base, group_id=None,
                                          auto_offset_reset="earliest")
        await consumer.start()
        try:
            while not stopping.is_set():
                polled = await consumer.getmany(timeout_ms=200, max_records=10_000)
                now_ms = int(time.time() * 1000)
                for records in polled.values():
                    for record in records:
                        base = self._base[record.topic]
                        if base == "events.valid":
                            self.ledger.valid += 1  # counting is enough: truth has the rest
                            continue
                        try:
                            value = self._codec.decode(record.value or b"")
                        except DecodeError as exc:
                            log.warning("unreadable record on %s: %s", record.topic, exc)
                            continue
                        self.ledger.add(base, value, now_ms)
        finally:
            await consumer.stop()
