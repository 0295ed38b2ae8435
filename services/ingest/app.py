"""Ingest wiring: topics, the events.raw batch loop, the HTTP API, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import orjson
from aiokafka import ConsumerRecord
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from opentelemetry import trace

from driftloop.contracts import AvroCodec, RecordValidator, load_schemas
from driftloop.contracts.schema_registry import registry_for
from driftloop.messaging import (
    BatchLoop,
    DeadLetterer,
    KafkaClients,
    Outbound,
    Publisher,
)
from driftloop.runtime import (
    Health,
    connect_to_kafka,
    health_app,
    read_limited_body,
    serve_http,
    serve_service,
)
from driftloop.telemetry import EventTraces, ServiceMetrics
from services.ingest.event_checker import Checked, EventChecker, MalformedBatch
from services.ingest.event_router import EventRouter, Source
from services.ingest.settings import IngestSettings

log = logging.getLogger("driftloop.ingest")
SERVICE = "ingest"
RAW_BATCH_RECORDS = 5000


class Ingest:
    """Everything the ingest process holds, built from settings; no I/O until ``run``."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.topics = settings.topics()
        domain = settings.load_domain()
        schemas = load_schemas()
        self.codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        self.checker = EventChecker(
            self.codec, RecordValidator(schemas[domain.event_schema]), domain,
            settings.ingest_max_event_bytes, settings.ingest_max_json_depth)
        self.dead_letters = DeadLetterer(self.codec, self.topics.deadletter, SERVICE)
        traces = EventTraces(trace.get_tracer(SERVICE), settings.trace_sample_ratio,
                             seed=settings.trace_sample_seed)
        self.router = EventRouter(self.codec, domain.event_schema, self.topics.valid,
                                  self.dead_letters, traces)
        self.clients = KafkaClients(settings.kafka_bootstrap, client_id=SERVICE)
        self.health = Health(waiting_for={"broker", "topics", "publisher"})
        self.metrics = ServiceMetrics(SERVICE)
        self.events = self.metrics.counter(
            "events_total", "Events processed, by outcome and source.", ("outcome", "source"))
        self.batch_seconds = self.metrics.histogram(
            "batch_seconds", "Time to validate, publish and acknowledge one batch.", ("source",))
        self.publisher: Publisher | None = None

    # -- pure-ish processing, shared by both entry points ------------------------------------
    def _count(self, results: Sequence[dict[str, object]], source: str) -> None:
        accepted = sum(1 for r in results if r["accepted"])
        self.events.labels("valid", source).inc(accepted)
        self.events.labels("deadletter", source).inc(len(results) - accepted)

    def handle_raw(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        # The hot loop of the events.raw path: a few microseconds per event is the budget, so
        # it binds its callees once and builds no per-event result for a client.
        now_ms = int(time.time() * 1000)
        check = self.checker.check_message
        publish_form = self.router.publish_form
        outputs = []
        rejected = 0
        for record in records:
            out, rejection = publish_form(check(record.value, now_ms), record.topic,
                                          record.partition, record.offset)
            outputs.append(out)
            if rejection is not None:
                rejected += 1
        self.events.labels("valid", "kafka").inc(len(records) - rejected)
        self.events.labels("deadletter", "kafka").inc(rejected)
        return outputs

    def check_body(self, body: bytes, ndjson: bool = False) -> list[Checked]:
        return list(self.checker.check_body(body, int(time.time() * 1000), ndjson))

    def route_body(self, checked: Sequence[Checked]
                   ) -> tuple[list[Outbound], list[dict[str, object]]]:
        """Route checked events: one new trace per accepted one, so call it only for a body
        that will be published (a refused body, retried, would start its traces twice)."""
        outputs, results = [], []
        http = Source("http")
        for item in checked:
            out, result = self.router.route(item, http)
            outputs.append(out)
            results.append(result)
        return outputs, results

    # -- HTTP --------------------------------------------------------------------------------
    def http_app(self) -> FastAPI:
        app = health_app(SERVICE, self.health, self.metrics.registry)
        limits = self.settings

        @app.post("/events", tags=["ingest"])
        async def post_events(request: Request) -> Response:
            """Publish a batch: a JSON array of events or NDJSON. Replies per event."""
            body = await read_limited_body(request, limits.ingest_max_body_bytes)
            if not body.strip():
                # No event and nothing to dead-letter: a 200 would tell the client its
                # (lost) batch was taken.
                raise HTTPException(400, {"error": "empty", "reason": "empty body: no events"})
            started = time.perf_counter()
            ndjson = "ndjson" in request.headers.get("content-type", "")
            try:
                checked = self.check_body(body, ndjson)
            except MalformedBatch as exc:
                raise HTTPException(400, {"error": exc.error_class, "reason": str(exc)}) from None
            if len(checked) > limits.ingest_max_batch_events:
                raise HTTPException(
                    413, f"{len(checked)} events; at most {limits.ingest_max_batch_events}")
            if self.publisher is None:
                raise HTTPException(503, "not connected to Kafka yet")
            # Accepted for publishing: only now does each event's trace start.
            outputs, results = self.route_body(checked)
            try:
                await asyncio.wait_for(self.publisher.publish_until_acked(outputs),
                                       limits.ingest_publish_timeout_s)
            except TimeoutError:
                raise HTTPException(503, "Kafka did not acknowledge in time; retry") from None
            self._count(results, "http")
            self.batch_seconds.labels("http").observe(time.perf_counter() - started)
            accepted = sum(1 for r in results if r["accepted"])
            reply = {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
            return Response(orjson.dumps(reply), media_type="application/json")

        return app

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        http = asyncio.create_task(serve_http(
            self.http_app(), self.settings.http_host, self.settings.ingest_port, stopping))
        await connect_to_kafka(self.settings, self.health)
        producer = self.clients.producer()
        await producer.start()
        self.publisher = Publisher(producer)
        # Ready once POST /events can publish: events.raw's consumer joining its group (seconds
        # on some brokers) is no reason to turn HTTP clients away.
        self.health.done("publisher")
        consumer = self.clients.consumer(self.topics.raw, group_id=self.settings.ingest_group)
        await consumer.start()
        # Pipelined (one batch validated while the broker acknowledges the previous one), in
        # batches of up to 5,000 events (~1 MB of JSON) for fewer publish/commit round trips:
        # each was worth 10-20% on a backlog here, where the broker shares the two cores.
        loop = BatchLoop(
            consumer, self.publisher, self.handle_raw, self.dead_letters,
            max_records=RAW_BATCH_RECORDS, pipeline=True, metrics=self.metrics,
            on_batch=lambda n, s: self.batch_seconds.labels("kafka").observe(s))
        log.info("ingest ready: HTTP on %s:%d, consuming %s",
                 self.settings.http_host, self.settings.ingest_port, self.topics.raw)
        runner = asyncio.create_task(loop.run())
        await stopping.wait()
        loop.stop()
        await runner
        await consumer.stop()
        await producer.stop()
        await http


def main() -> None:
    settings = IngestSettings()
    serve_service(SERVICE, settings, lambda: Ingest(settings))
