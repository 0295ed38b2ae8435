"""Where the simulated stream goes: ingest's HTTP API (``POST /events``, a JSON array) or the
events.raw topic (one JSON object per message), as real applications would send it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import orjson

from driftloop.messaging import Outbound, Publisher

log = logging.getLogger(__name__)


class SinkError(RuntimeError):
    """The destination refused the events for good."""


class EventSink(Protocol):
    async def send(self, events: Sequence[dict[str, Any]]) -> int:
        """Deliver ``events``; returns how many the destination accepted."""
        ...

    async def close(self) -> None: ...


class HttpEventSink:
    """Posts batches to ingest. A 503 (ingest not connected yet, Kafka slow) or a connection
    error is retried with back-off, as a well-behaved client would; a 4xx is a bug: raised."""

    def __init__(self, url: str, timeout_s: float = 15.0, max_batch: int = 5000) -> None:
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._max_batch = max_batch
        self.rejected = 0

    async def send(self, events: Sequence[dict[str, Any]]) -> int:
        accepted = 0
        for start in range(0, len(events), self._max_batch):
            accepted += await self._post(events[start:start + self._max_batch])
        return accepted

    async def _post(self, events: Sequence[dict[str, Any]]) -> int:
        body = orjson.dumps(list(events))
        delay = 0.1
        for _ in range(20):
            try:
                reply = await self._client.post(
                    self._url, content=body, headers={"content-type": "application/json"})
            except httpx.HTTPError as exc:
                log.warning("ingest unreachable (%r), retrying in %.1fs", exc, delay)
            else:
                if reply.status_code == 200:
                    result = reply.json()
                    self.rejected += int(result.get("rejected", 0))
                    return int(result.get("accepted", 0))
                if reply.status_code < 500:
                    raise SinkError(f"ingest refused the batch: {reply.status_code} "
                                    f"{reply.text[:200]}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise SinkError(f"ingest at {self._url} did not take a batch after 20 tries")

    async def close(self) -> None:
        await self._client.aclose()


class KafkaEventSink:
    """Publishes each event as a JSON message on events.raw, keyed by event id."""

    def __init__(self, publisher: Publisher, topic: str) -> None:
        self._publisher = publisher
        self._topic = topic

    async def send(self, events: Sequence[dict[str, Any]]) -> int:
        await self._publisher.publish_until_acked([
            Outbound(self._topic, orjson.dumps(e), str(e["event_id"]).encode())
            for e in events])
        return len(events)

    async def close(self) -> None:
        return None
