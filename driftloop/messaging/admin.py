"""Topic creation and broker readiness, idempotent and safe to run from every service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """No Kafka broker answered at the configured bootstrap address in time."""


async def wait_for_broker(bootstrap: str, timeout_s: float = 30.0) -> None:
    """Return once a broker at ``bootstrap`` answers a metadata request."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.25)
        finally:
            await admin.close()
    raise BrokerUnavailable(f"no Kafka broker at {bootstrap} after {timeout_s:.0f}s: {last!r}")


async def ensure_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 4, replication: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, partitions, replication) for name in missing]
                )
            except TopicAlreadyExistsError:  # another service won the race: fine
                pass
            log.info("created topics %s", missing)
        return missing
    except KafkaConnectionError as exc:
        raise BrokerUnavailable(f"no Kafka broker at {bootstrap}: {exc!r}") from exc
    finally:
        await admin.close()


async def topics_exist(bootstrap: str, names: Iterable[str]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        return set(names) <= set(await admin.list_topics())
    except (KafkaError, OSError):
        return False
    finally:
        await admin.close()
