"""Fixtures shared by integration tests."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.ingest.app import Ingest
from services.ingest.settings import IngestSettings
from tests.conftest import free_port


@pytest.fixture
async def ingest(kafka_bootstrap: str, topic_prefix: str):
    settings = IngestSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix,
                              ingest_port=free_port(), ingest_group=f"{topic_prefix}ingest",
                              topic_partitions=2)
    service = Ingest(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(stopping))
    base = f"http://127.0.0.1:{settings.ingest_port}"
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(200):
            try:
                if (await client.get("/readyz")).status_code == 200 and service.publisher:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        else:
            pytest.fail("ingest did not become ready")
        yield service, client
    stopping.set()
    await asyncio.wait_for(task, 20)
