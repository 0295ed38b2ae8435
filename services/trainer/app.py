"""Trainer wiring: predictions, labels and retrain.requests in; models.lifecycle out.

The handler stores the batch in the durable join, then (when a retrain request arrived or
enough new labels did) runs the retraining job in a worker thread, so the consumer keeps its
group membership while training. A request that names where a concept change began
(``evidence.window_start_ms``) moves the training window: from then on every run learns from
events after the change only, because labels from before it teach the world that is gone.
Lifecycle events are published before the batch's offsets are committed: a crash mid-run
re-delivers the request, never loses it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import trace

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import registry_for
from driftloop.messaging import (
    BatchLoop,
    DeadLetterer,
    KafkaClients,
    Outbound,
    Publisher,
    SeenIds,
)
from driftloop.registry import ModelRegistry
from driftloop.registry.lifecycle import LIFECYCLE_SCHEMA
from driftloop.registry.run_tracker import RunTracker
from driftloop.runtime import Health, connect_to_kafka, health_app, serve_http, serve_service
from driftloop.telemetry import ServiceMetrics, link_from_headers
from services.trainer.example_store import ExampleStore
from services.trainer.retrain_job import RetrainJob, RetrainOutcome
from services.trainer.settings import TrainerSettings
from services.trainer.training_set import TrainingDataError

log = logging.getLogger("driftloop.trainer")
SERVICE = "trainer"
LAST_RUN_LABEL_SEQ = "last_run_label_seq"
WINDOW_START_MS = "window_start_ms"


class Trainer:
    """Everything the trainer process holds, built from settings; no I/O until ``run``."""

    def __init__(self, settings: TrainerSettings) -> None:
        self.settings = settings
        self.topics = settings.topics()
        self.model_name = settings.model_name()
        schemas = load_schemas()
        self.codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        self.registry = ModelRegistry(settings.registry_root())
        self.store = ExampleStore(settings.store_path())
        self.job = RetrainJob(self.registry, self.store, RunTracker(settings.registry_root()),
                              settings.retrain_config())
        self.dead_letters = DeadLetterer(self.codec, self.topics.deadletter, SERVICE)
        self.clients = KafkaClients(settings.kafka_bootstrap, client_id=SERVICE)
        self.seen_requests = SeenIds(100_000)
        self.health = Health(waiting_for={"broker", "topics"})
        self.metrics = ServiceMetrics(SERVICE)
        self.consumed = self.metrics.counter("records_total", "Records stored, by topic.",
                                             ("topic",))
        self.runs = self.metrics.counter("runs_total", "Training runs, by outcome.",
                                         ("outcome",))
        self.run_seconds = self.metrics.histogram(
            "run_seconds", "Time of one retraining run.",
            buckets=(1, 2.5, 5, 10, 20, 40, 80, 160, 320))
        self.publisher: Publisher | None = None

    # -- handling ----------------------------------------------------------------------------
    def _decode(self, records: Sequence[ConsumerRecord]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        predictions, labels, requests = [], [], []
        for record in records:
            if record.topic == self.topics.predictions:
                predictions.append(self.codec.decode(record.value, "driftloop.models.Prediction"))
            elif record.topic == self.topics.labels:
                labels.append(self.codec.decode(record.value, "driftloop.models.Label"))
            elif record.topic == self.topics.retrain_requests:
                requests.append(
                    self.codec.decode(record.value, "driftloop.monitoring.RetrainRequest"))
        return predictions, labels, requests

    def trigger(self, requests: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        """Why to retrain now, or None. Requests for this model win; else new labels."""
        mine = [r for r in requests if r["model_name"] == self.model_name
                and self.seen_requests.first_time(r["request_id"])]
        if mine:
            self._move_window(mine)
            return {"request_id": ",".join(r["request_id"] for r in mine),
                    "reason": "; ".join(r["reason"] for r in mine),
                    "requested_by": ",".join(sorted({r["requested_by"] for r in mine}))}
        threshold = self.settings.trainer_min_new_labels
        first = self.settings.trainer_first_model_labels
        new = self.store.labels_since(self.store.get_state(LAST_RUN_LABEL_SEQ))
        # The declared baseline serves until a first model wins: get there early. The
        # registry is only asked when the answer matters (it may be remote).
        if (first and new >= first and not (threshold and new >= threshold)
                and self.registry.alias(self.model_name, "champion") is None):
            threshold = first
        if threshold and new >= threshold:
            return {"request_id": None, "reason": f"{new} new labels (>= {threshold})",
                    "requested_by": SERVICE}
        return None

    def _move_window(self, requests: Sequence[dict[str, Any]]) -> None:
        """The latest change point any request names; the window never moves back."""
        starts = []
        for r in requests:
            raw = r.get("evidence", {}).get("window_start_ms")
            try:
                starts.append(int(raw))
            except (TypeError, ValueError):
                if raw is not None:
                    log.warning("request %s: window_start_ms %r is not a time in "
                                "milliseconds; window unchanged", r["request_id"], raw)
        current = self.store.get_state(WINDOW_START_MS)
        if starts and max(starts) > current:
            self.store.set_state(WINDOW_START_MS, max(starts))
            log.info("training window now starts at event time %d", max(starts))

    def retrain(self, why: dict[str, Any]) -> RetrainOutcome | None:
        """One run (blocking); None when there is not enough data yet."""
        marks = self.store.marks().since(self.store.get_state(WINDOW_START_MS))
        try:
            with self.run_seconds.time():
                outcome = self.job.run(self.model_name, reason=why["reason"],
                                       requested_by=why["requested_by"],
                                       request_id=why["request_id"], marks=marks)
        except TrainingDataError as exc:
            log.warning("not retraining (%s): %s", why["reason"], exc)
            self.runs.labels("not_enough_data").inc()
            return None
        finally:
            # whatever happened, these labels have been considered: wait for new ones
            self.store.set_state(LAST_RUN_LABEL_SEQ, marks.label_seq)
        self.runs.labels(outcome.run["status"].lower()).inc()
        return outcome

    def lifecycle_outbound(self, records: Sequence[dict[str, Any]]) -> list[Outbound]:
        key = self.model_name.encode()
        return [Outbound(self.topics.lifecycle, self.codec.encode(LIFECYCLE_SCHEMA, r), key)
                for r in records]

    async def handle(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        predictions, labels, requests = self._decode(records)  # all or nothing, before I/O
        if predictions:
            self.consumed.labels("predictions").inc(self.store.add_predictions(predictions))
        if labels:
            self.consumed.labels("labels").inc(self.store.add_labels(labels))
        why = self.trigger(requests)
        if why is None:
            return []
        # The run's span links to the requests' spans (their traceparent headers): on-call
        # goes from a training run to the drift that asked for it, and back.
        links = [link for r in records if r.topic == self.topics.retrain_requests
                 and (link := link_from_headers(r.headers)) is not None]
        span = trace.get_tracer(SERVICE).start_span("train", links=links, attributes={
            "model.name": self.model_name, "reason": why["reason"],
            "request.id": why["request_id"] or ""})
        try:
            outcome = await asyncio.to_thread(self.retrain, why)
            if outcome is not None:
                span.set_attributes({"model.version": outcome.version.version,
                                     "run.status": outcome.run["status"]})
        finally:
            span.end()
        return [] if outcome is None else self.lifecycle_outbound(outcome.lifecycle)

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        http = asyncio.create_task(serve_http(
            health_app(SERVICE, self.health, self.metrics.registry),
            self.settings.http_host, self.settings.trainer_port, stopping))
        await connect_to_kafka(self.settings, self.health)
        producer = self.clients.producer()
        consumer = self.clients.consumer(
            self.topics.predictions, self.topics.labels, self.topics.retrain_requests,
            group_id=self.settings.trainer_group)
        await producer.start()
        await consumer.start()
        self.publisher = Publisher(producer)
        loop = BatchLoop(consumer, self.publisher, self.handle, self.dead_letters,
                         metrics=self.metrics)
        log.info("trainer ready: model %s, registry %s, store %s", self.model_name,
                 self.settings.registry_root(), self.settings.store_path())
        runner = asyncio.create_task(loop.run())
        await stopping.wait()
        loop.stop()
        await runner
        await consumer.stop()
        await producer.stop()
        self.store.close()
        await http


def main() -> None:
    settings = TrainerSettings()
    serve_service(SERVICE, settings, lambda: Trainer(settings))
