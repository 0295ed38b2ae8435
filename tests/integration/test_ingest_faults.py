"""Ingest against the real broker, on the faults a fuzz and a corrupt-artifact campaign found
(issue 14): what reaches events.valid, what is dead-lettered and with which reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from driftloop.telemetry.tracing import EVENT_ROOT
from services.ingest.app import Ingest
from services.ingest.settings import IngestSettings
from tests.conftest import free_port
from tests.integration.kafka_helpers import drain, produce
from tests.integration.test_ingest import SCHEMA, codec, event


async def test_avro_with_trailing_bytes_is_dead_lettered(ingest, kafka_bootstrap: str) -> None:
    """Garbage after a complete record of a flat schema once reached events.valid."""
    service, _ = ingest
    good = codec().encode(SCHEMA, event(1))
    padded = codec().encode(SCHEMA, event(2)) + b"\x02zz"
    await produce(kafka_bootstrap, service.topics.raw, [(b"e1", good), (b"e2", padded)])
    valid = await drain(kafka_bootstrap, service.topics.valid, 1)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 1)
    assert [codec().decode(r.value, SCHEMA)["event_id"] for r in valid] == ["e1"]
    assert [dict(r.headers)["driftloop.error.class"] for r in dead] == [b"trailing_bytes"]
    letter = codec().decode(dead[0].value, "driftloop.ops.DeadLetter")
    assert letter["error_class"] == "trailing_bytes"
    assert letter["original"] == padded


SYNTAX_FAULTS = [b'{"event_id": "e2", "amount": NaN}', b'{"event_id": "\xff\xfe"}',
                 b"[" * 1100 + b"]" * 1100]


async def test_json_array_with_a_syntax_fault_is_refused_and_nothing_published(
        ingest, kafka_bootstrap: str) -> None:
    """Once answered 200 with one malformed_json dead letter for the whole body: the valid
    events beside the bad item were neither published nor refused."""
    service, client = ingest
    for fault in SYNTAX_FAULTS:
        body = b"[" + orjson.dumps(event(1)) + b"," + fault + b"," + orjson.dumps(event(3)) + b"]"
        reply = await client.post("/events", content=body,
                                  headers={"content-type": "application/json"})
        assert reply.status_code == 400
        detail = reply.json()["detail"]
        assert detail["error"] == "malformed_json"
        assert detail["reason"].startswith("batch is not a JSON array: ")
    # A marker batch after them: once it is on the topics, anything of the refused bodies
    # would be too (one producer, replies after acknowledgement).
    marker = await client.post("/events", json=[event(9), {"event_id": "e10"}])
    assert marker.status_code == 200
    valid = await drain(kafka_bootstrap, service.topics.valid, 1)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 1)
    assert [codec().decode(r.value, SCHEMA)["event_id"] for r in valid] == ["e9"]
    assert [dict(r.headers)["driftloop.error.class"] for r in dead] == [b"missing_field"]


async def test_ndjson_syntax_faults_are_dead_lettered_line_by_line(
        ingest, kafka_bootstrap: str) -> None:
    service, client = ingest
    body = b"\n".join([orjson.dumps(event(1)), *SYNTAX_FAULTS, orjson.dumps(event(5))])
    reply = await client.post("/events", content=body,
                              headers={"content-type": "application/x-ndjson"})
    assert reply.status_code == 200
    assert [r.get("error") for r in reply.json()["results"]] == [
        None, "malformed_json", "malformed_json", "malformed_json", None]
    valid = await drain(kafka_bootstrap, service.topics.valid, 2)
    dead = await drain(kafka_bootstrap, service.topics.deadletter, 3)
    assert sorted(codec().decode(r.value, SCHEMA)["event_id"] for r in valid) == ["e1", "e5"]
    originals = sorted(codec().decode(r.value, "driftloop.ops.DeadLetter")["original"]
                       for r in dead)
    assert originals == sorted(SYNTAX_FAULTS)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the process records from now on (the session's real provider)."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays, exporting nothing from now on


def event_traces(exporter: InMemorySpanExporter) -> list[str]:
    """The event ids whose trace ingest started, in order."""
    return [str((s.attributes or {})["event.id"]) for s in exporter.get_finished_spans()
            if s.name == EVENT_ROOT]


def settings_for(kafka_bootstrap: str, topic_prefix: str, **extra: object) -> IngestSettings:
    return IngestSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix,
                          ingest_port=free_port(), ingest_group=f"{topic_prefix}ingest",
                          topic_partitions=2, trace_sample_ratio=1.0,
                          **extra)  # type: ignore[arg-type]


@asynccontextmanager
async def ready_ingest(settings: IngestSettings
                       ) -> AsyncIterator[tuple[Ingest, httpx.AsyncClient]]:
    """Ingest running, as a load balancer sees it: /readyz polled until 200, nothing else."""
    service = Ingest(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(stopping))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.ingest_port}") as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, "ingest did not become ready"
            assert not task.done(), "ingest stopped while starting"
            await asyncio.sleep(0.02)
        try:
            yield service, client
        finally:
            stopping.set()
            await asyncio.wait_for(task, 20)


async def test_ready_means_post_events_is_taken(kafka_bootstrap: str,
                                                topic_prefix: str) -> None:
    """/readyz once said 200 about 5 s before POST /events stopped answering 503."""
    settings = settings_for(kafka_bootstrap, topic_prefix)
    async with ready_ingest(settings) as (service, client):
        reply = await client.post("/events", json=[event(1)])
        assert reply.status_code == 200, reply.text
        assert reply.json()["accepted"] == 1
        valid = await drain(kafka_bootstrap, service.topics.valid, 1)
    assert [codec().decode(r.value, SCHEMA)["event_id"] for r in valid] == ["e1"]


async def test_a_batch_refused_with_413_starts_no_trace(
        kafka_bootstrap: str, topic_prefix: str, spans: InMemorySpanExporter) -> None:
    """A client retries a refused batch: once each try started a trace per event."""
    settings = settings_for(kafka_bootstrap, topic_prefix, ingest_max_batch_events=2)
    async with ready_ingest(settings) as (_, client):
        too_many = [event(i) for i in range(1, 4)]
        for _ in range(2):
            assert (await client.post("/events", json=too_many)).status_code == 413
        assert event_traces(spans) == []
        assert (await client.post("/events", json=too_many[:2])).status_code == 200
    assert event_traces(spans) == ["e1", "e2"]


async def test_a_batch_refused_with_503_starts_no_trace(spans: InMemorySpanExporter) -> None:
    """Before Kafka is connected every POST is 503; its events must not be traced either."""
    service = Ingest(IngestSettings(trace_sample_ratio=1.0))
    transport = httpx.ASGITransport(app=service.http_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        for _ in range(2):
            reply = await client.post("/events", json=[event(1), event(2)])
            assert reply.status_code == 503
        assert (await client.get("/readyz")).status_code == 503
    assert event_traces(spans) == []
