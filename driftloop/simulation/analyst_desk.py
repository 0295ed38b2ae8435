"""The analyst bot at work on Kafka: reads label.requests, publishes labels when they are due.
Thin: decoding and publishing here, every decision in ``AnalystBot``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from driftloop.contracts import AvroCodec, DecodeError, Topics
from driftloop.messaging import KafkaClients, Outbound, Publisher
from driftloop.simulation.analyst_bot import AnalystBot, LabelDecision
from driftloop.simulation.transaction_simulator import SimulatedEvent

log = logging.getLogger(__name__)

LABEL_SCHEMA = "driftloop.models.Label"
REQUEST_SCHEMA = "driftloop.models.LabelRequest"


class AnalystDesk:
    def __init__(self, bot: AnalystBot, clients: KafkaClients, codec: AvroCodec, topics: Topics,
                 group_id: str = "analyst-bot") -> None:
        self.bot = bot
        self._clients = clients
        self._codec = codec
        self._topics = topics
        self.group_id = group_id
        self.published: list[LabelDecision] = []

    def observe(self, events: Sequence[SimulatedEvent], now_ms: int) -> None:
        """A PacedStream observer: the bot learns the truth of what was just sent."""
        for event in events:
            self.bot.observe(event, now_ms)

    async def run(self, stopping: asyncio.Event, linger_s: float = 0.0) -> None:
        """Answer until ``stopping``; then keep publishing due labels for ``linger_s``."""
        consumer = self._clients.consumer(self._topics.label_requests, group_id=self.group_id,
                                          auto_offset_reset="earliest")
        producer = self._clients.producer()
        await consumer.start()
        await producer.start()
        publisher = Publisher(producer)
        try:
            while not stopping.is_set():
                polled = await consumer.getmany(timeout_ms=100, max_records=5000)
                now_ms = int(time.time() * 1000)
                for records in polled.values():
                    for record in records:
                        try:
                            request = self._codec.decode(record.value or b"",
                                                         reader=REQUEST_SCHEMA)
                        except DecodeError as exc:
                            log.warning("unreadable label request skipped: %s", exc)
                            continue
                        self.bot.request(str(request["event_id"]), now_ms)
                await self._publish_due(publisher, now_ms)
                if polled:
                    await consumer.commit()
            deadline = time.time() + linger_s
            while time.time() < deadline and self.bot.waiting:
                await self._publish_due(publisher, int(time.time() * 1000))
                await asyncio.sleep(0.1)
        finally:
            await consumer.stop()
            await producer.stop()

    async def _publish_due(self, publisher: Publisher, now_ms: int) -> None:
        due = self.bot.due(now_ms)
        if not due:
            return
        await publisher.publish_until_acked([
            Outbound(self._topics.labels, self._codec.encode(LABEL_SCHEMA, d.record()),
                     d.event_id.encode()) for d in due])
        self.published.extend(due)
