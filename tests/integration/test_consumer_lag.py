"""The drain barrier against the real broker: a group's lag is what it has not committed on
every partition of its inputs (never-committed partitions and never-read topics included),
and the barrier returns only once every group is at lag 0."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from driftloop.messaging import ensure_topics
from driftloop.messaging.consumer_lag import (
    NotDrained,
    end_offsets,
    group_lags,
    wait_until_drained,
)
from tests.integration.kafka_helpers import produce


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


async def test_lag_counts_every_uncommitted_record_and_the_barrier_waits_for_zero(
        kafka_bootstrap: str, topic_prefix: str) -> None:
    a, b = f"{topic_prefix}a", f"{topic_prefix}b"
    await ensure_topics(kafka_bootstrap, [a, b], partitions=2)
    await produce(kafka_bootstrap, a, [(f"k{i}".encode(), b"v") for i in range(10)])
    await produce(kafka_bootstrap, b, [(b"k", b"v")] * 3)
    group = f"{topic_prefix}g"
    inputs = {group: [a, b]}
    assert await group_lags(kafka_bootstrap, inputs) == {group: 13}  # nothing read yet

    ends = await end_offsets(kafka_bootstrap, [a, b])
    assert sum(ends.values()) == 13
    first = {tp: end for tp, end in ends.items() if tp.topic == a}
    await _commit(kafka_bootstrap, group, first)
    assert await group_lags(kafka_bootstrap, inputs) == {group: 3}  # topic b never read

    with pytest.raises(NotDrained, match=f"{group} 3"):
        await wait_until_drained(kafka_bootstrap, inputs, timeout_s=1.0, poll_s=0.2)

    async def commit_the_rest_soon() -> None:
        await asyncio.sleep(0.5)  # the barrier must be waiting when the commit lands
        await _commit(kafka_bootstrap, group, dict(ends))

    committer = asyncio.create_task(commit_the_rest_soon())
    waited = await wait_until_drained(kafka_bootstrap, inputs, timeout_s=30, poll_s=0.1)
    await committer
    assert waited > 0
    assert await group_lags(kafka_bootstrap, inputs) == {group: 0}
