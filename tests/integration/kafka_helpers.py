"""Helpers for integration tests: produce and drain topics with plain aiokafka clients, as any
other Kafka application would."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord


async def produce(bootstrap: str, topic: str,
                  values: Sequence[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in values]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def drain(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0,
                settle_s: float = 0.5) -> list[ConsumerRecord]:
    """Read ``topic`` from the beginning until ``expected`` records arrived (then wait
    ``settle_s`` more, so an extra duplicate would be seen) or the timeout passes."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                fetch_max_wait_ms=10)
    await consumer.start()
    records: list[ConsumerRecord] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for part in batch.values():
                records.extend(part)
            if len(records) >= expected:
                settle = loop.time() + settle_s
                while loop.time() < settle:
                    for part in (await consumer.getmany(timeout_ms=50)).values():
                        records.extend(part)
                break
    finally:
        await consumer.stop()
    return records
