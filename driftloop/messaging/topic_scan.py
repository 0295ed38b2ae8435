"""Reading whole topics once, from the beginning to the end they have now, keeping the
records a predicate wants: how an audit finds one event's records without an index."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from driftloop.messaging.consumer_lag import end_offsets


class ScanTimeout(TimeoutError):
    """The topics could not be read to their end in time."""


async def scan(bootstrap: str, topics: Sequence[str], keep: Callable[[ConsumerRecord], bool],
               *, timeout_s: float = 300.0) -> list[ConsumerRecord]:
    """Every record of ``topics`` (all partitions, offset 0 to the end offset when the scan
    began) for which ``keep`` is true, in (topic, partition, offset) order. The end offsets
    are the fetch high watermarks (``consumer_lag.end_offsets``): a scan stops at a known
    end, never after a quiet spell."""
    ends = {tp: end for tp, end in (await end_offsets(bootstrap, topics)).items() if end > 0}
    if not ends:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=10)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        pending = set(ends)
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() >= deadline:
                left = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(pending))
                raise ScanTimeout(f"not read to the end in {timeout_s:.0f}s: {left}")
            for tp, records in (await consumer.getmany(timeout_ms=200,
                                                       max_records=10_000)).items():
                found.extend(r for r in records if r.offset < ends[tp] and keep(r))
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    found.sort(key=lambda r: (r.topic, r.partition, r.offset))
    return found
