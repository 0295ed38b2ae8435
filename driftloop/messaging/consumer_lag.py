"""Consumer-group lag, read from the broker alone, and a drain barrier on it.

A group has drained its inputs when, on every partition of every topic it reads, its
committed offset is the partition's end offset. Services commit only after their outputs are
acknowledged (``BatchLoop``), so a drained group has also published everything it will ever
publish for those records: the condition to wait for before stopping a pipeline or reading
its results, where a fixed pause is either too short on a slow machine or wasted on a fast
one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError


class NotDrained(RuntimeError):
    """Some group still had records to consume when the deadline passed."""

    def __init__(self, lags: Mapping[str, int], timeout_s: float) -> None:
        behind = ", ".join(f"{g} {n}" for g, n in sorted(lags.items()) if n)
        super().__init__(f"consumer groups not drained after {timeout_s:.0f}s: {behind}")
        self.lags = dict(lags)


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The end offset (high watermark) of every partition of ``topics``, as a fetch response
    reports it. (A ListOffsets request is the usual way; some Kafka-compatible brokers answer
    it with the last batch's base offset + 1, short of the end, so the watermark a fetch
    carries, which every broker must get right, is what is read.)"""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                              enable_auto_commit=False, auto_offset_reset="earliest",
                              fetch_max_wait_ms=10, max_partition_fetch_bytes=1024)
    await reader.start()
    try:
        every = [TopicPartition(topic, p) for topic in dict.fromkeys(topics)
                 for p in sorted(await _partitions(reader, topic))]
        if not every:
            return {}
        reader.assign(every)
        deadline = time.monotonic() + 30
        while any(reader.highwater(tp) is None for tp in every):
            if time.monotonic() >= deadline:
                raise KafkaError("no fetch response carried the high watermarks in 30s")
            await reader.getmany(timeout_ms=100, max_records=1)
        return {tp: int(reader.highwater(tp) or 0) for tp in every}
    finally:
        await reader.stop()


async def group_lags(bootstrap: str, inputs: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Records not yet committed by each group on its input topics: ``inputs`` maps a group id
    to the topics it consumes. A partition the group never committed counts from offset 0 (a
    group that has read nothing is behind by everything)."""
    ends = await end_offsets(bootstrap, [t for topics in inputs.values() for t in topics])
    lags: dict[str, int] = {}
    for group, topics in inputs.items():
        owned = [tp for tp in ends if tp.topic in set(topics)]
        committed = await _committed(bootstrap, group, owned)
        lags[group] = sum(max(0, ends[tp] - committed.get(tp, 0)) for tp in owned)
    return lags


async def _committed(bootstrap: str, group: str, partitions: Sequence[TopicPartition]
                     ) -> dict[TopicPartition, int]:
    """The group's committed offsets, read as a member would (an OffsetFetch through the
    group's coordinator) by a consumer that never joins: reading does not rebalance it."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    await probe.start()
    try:
        offsets = {}
        for tp in partitions:
            offset = await probe.committed(tp)
            if offset is not None:
                offsets[tp] = offset
        return offsets
    finally:
        await probe.stop()


async def _partitions(reader: AIOKafkaConsumer, topic: str) -> set[int]:
    """The topic's partition ids; metadata for a topic can lag its creation by a moment."""
    for _ in range(50):
        ids = reader.partitions_for_topic(topic)
        if ids:
            return set(ids)
        await reader.force_metadata_update()
        await asyncio.sleep(0.1)
    raise KafkaError(f"no partitions known for topic {topic!r}")


async def wait_until_drained(bootstrap: str, inputs: Mapping[str, Sequence[str]], *,
                             timeout_s: float = 120.0, poll_s: float = 0.5,
                             confirmations: int = 2,
                             progress: Callable[[dict[str, int]], None] | None = None
                             ) -> float:
    """Return (seconds waited) once every group has lag 0, ``confirmations`` reads in a row
    (a record in flight between two services shows up as lag downstream on the next read);
    raise ``NotDrained`` with the last lags at the deadline. ``progress`` sees every read."""
    started = time.monotonic()
    deadline = started + timeout_s
    in_a_row = 0
    lags: dict[str, int] = dict.fromkeys(inputs, -1)
    while True:
        try:
            lags = await group_lags(bootstrap, inputs)
        except KafkaError:
            in_a_row = 0  # a broker hiccup is not a verdict: read again
        else:
            if progress is not None:
                progress(lags)
            in_a_row = in_a_row + 1 if not any(lags.values()) else 0
            if in_a_row >= confirmations:
                return time.monotonic() - started
        if time.monotonic() >= deadline:
            raise NotDrained(lags, timeout_s)
        await asyncio.sleep(poll_s)
