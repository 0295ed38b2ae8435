"""The batch loop's bookkeeping when a commit fails after the outputs were acknowledged: the
batch's hop spans still end (before, a failed commit skipped them and the event's trace lost
this service's hop) and the loop goes on. The Kafka side here is a stand-in: what is tested
is the loop's own order of steps; tests/integration runs it against the real broker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from driftloop.messaging import BatchLoop
from driftloop.telemetry import TRACEPARENT, HopSpans

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]
    value: bytes = b"{}"
    key: bytes | None = None


@dataclass
class FailingCommitConsumer:
    """Hands out one batch, then nothing; every commit fails as a broker outage would."""

    batches: list[dict[TopicPartition, list[Record]]]
    commits: int = 0
    highwaters: dict[TopicPartition, int] = field(default_factory=dict)

    async def getmany(self, timeout_ms: int, max_records: int
                      ) -> dict[TopicPartition, list[Record]]:
        return self.batches.pop(0) if self.batches else {}

    async def commit(self, offsets: object) -> None:
        self.commits += 1
        raise KafkaConnectionError("broker gone")

    def assignment(self) -> set[TopicPartition]:
        return set()

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp)


class AckingPublisher:
    async def publish_until_acked(self, records: object, stopping: object = None) -> None:
        return None


def test_a_failed_commit_still_ends_the_hop_spans_and_the_loop_goes_on() -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tp = TopicPartition("events.valid", 0)
    header = (TRACEPARENT, f"00-{TRACE}-00f067aa0ba902b7-01".encode())
    consumer = FailingCommitConsumer([{tp: [Record(tp.topic, 0, 5, [header]),
                                            Record(tp.topic, 0, 6, [])]}])
    for pipeline in (False, True):
        exporter.clear()
        consumer.batches = [{tp: [Record(tp.topic, 0, 5, [header]),
                                  Record(tp.topic, 0, 6, [])]}]
        loop = BatchLoop(consumer, AckingPublisher(), lambda records: [],  # type: ignore[arg-type]
                         dead_letters=None,  # type: ignore[arg-type]
                         hops=HopSpans(provider.get_tracer("scorer"), "scorer.score"),
                         pipeline=pipeline)

        async def once(loop: BatchLoop = loop) -> int:
            consumed = await loop.run_once()
            await loop._settle()
            return consumed

        assert asyncio.run(once()) == 2
        assert [s.name for s in exporter.get_finished_spans()] == ["scorer.score"]
        assert loop.batches == 1 and loop.records == 2
    assert consumer.commits == 2
