"""Trainer wiring: predictions, labels and retrain.requests in; models.lifecycle out.

The handler only stores: the batch's predictions and labels go into the durable join, a
retrain request becomes the pending request (the newest supersedes older ones) in the same
store, so it is durable before the batch's offsets are committed. Runs happen beside the
consumer (``BackgroundRun``: its own task, torch in a worker thread), so the trainer keeps
reading while it trains; a pending request with too few labels in its window waits there,
says so, and trains once they are in. A request that names where a concept change began
(``evidence.window_start_ms``) moves the training window: from then on every run learns from
events after the change only, because labels from before it teach the world that is gone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import trace

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import registry_for
from driftloop.messaging import BatchLoop, DeadLetterer, KafkaClients, Outbound, Publisher, SeenIds
from driftloop.registry import ModelRegistry
from driftloop.registry.lifecycle import LIFECYCLE_SCHEMA
from driftloop.registry.run_tracker import RunTracker
from driftloop.runtime import Health, connect_to_kafka, health_app, serve_http, serve_service
from driftloop.telemetry import ServiceMetrics, link_from_headers
from services.trainer.background_run import BackgroundRun
from services.trainer.example_store import ExampleStore
from services.trainer.pending_request import DOCUMENT, PendingRequest, newest
from services.trainer.retrain_job import RetrainJob, RetrainOutcome, warm_up
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
        self.background = BackgroundRun()
        self.health = Health(waiting_for={"broker", "topics"})
        self.metrics = ServiceMetrics(SERVICE)
        self.consumed = self.metrics.counter("records_total", "Records stored, by topic.",
                                             ("topic",))
        self.runs = self.metrics.counter("runs_total", "Training runs, by outcome.",
                                         ("outcome",))
        self.run_seconds = self.metrics.histogram(
            "run_seconds", "Time of one retraining run.",
            buckets=(1, 2.5, 5, 10, 20, 40, 80, 160, 320))
        self.pending_gauge = self.metrics.gauge(
            "retrain_pending", "1 while a retrain request waits for its run (or for labels).")
        self.pending_gauge.set(0 if self.pending() is None else 1)
        self.publisher: Publisher | None = None
        self._links: list[Any] = []  # trace links of the pending request (not durable)

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

    def pending(self) -> PendingRequest | None:
        raw = self.store.get_document(DOCUMENT)
        return None if raw is None else PendingRequest.from_dict(raw)

    def _set_pending(self, pending: PendingRequest | None) -> None:
        self.store.set_document(DOCUMENT, None if pending is None else pending.to_dict())
        self.pending_gauge.set(0 if pending is None else 1)

    def accept(self, requests: Sequence[dict[str, Any]], links: Sequence[Any] = ()) -> None:
        """Requests for this model become the pending request (the newest supersedes)."""
        mine = [r for r in requests if r["model_name"] == self.model_name
                and self.seen_requests.first_time(r["request_id"])]
        if not mine:
            return
        self._move_window(mine)
        now_ms = int(time.time() * 1000)
        pending = newest([PendingRequest.from_record(r, now_ms) for r in mine], self.pending())
        assert pending is not None
        self._links.extend(links)
        self._set_pending(pending)
        log.info("retrain request %s pending%s", pending.request_id,
                 f" (supersedes {', '.join(pending.supersedes)})" if pending.supersedes else "")

    def trigger(self) -> dict[str, Any] | None:
        """Why to train now, or None: the pending request (once labels arrived since its last
        refusal), else enough new labels."""
        pending = self.pending()
        if pending is not None:
            if pending.attempts and not self.store.labels_since(pending.attempt_label_seq):
                return None  # refused for too few labels and none came since
            since = self.store.get_state(WINDOW_START_MS)
            short = self.job.shortage(self.store.count_labelled_since(since), since)
            if short is not None:  # not worth a run: wait for labels
                self._settle({"reason": pending.reason, "pending": pending.request_id}, short)
                return None
            return {"request_id": ",".join(pending.answers), "reason": pending.reason,
                    "requested_by": pending.requested_by, "pending": pending.request_id}
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

    def retrain(self, why: dict[str, Any]) -> RetrainOutcome | str:
        """One run (blocking, in a worker thread): the outcome, or why there is not enough
        data yet. Raises RunCancelled when the trainer stops mid-run."""
        marks = self.store.marks().since(self.store.get_state(WINDOW_START_MS))
        try:
            with self.run_seconds.time():
                outcome = self.job.run(self.model_name, reason=why["reason"],
                                       requested_by=why["requested_by"],
                                       request_id=why["request_id"], marks=marks,
                                       should_stop=self.background.should_stop)
        except TrainingDataError as exc:
            return str(exc)
        finally:
            # whatever happened, these labels have been considered: wait for new ones
            self.store.set_state(LAST_RUN_LABEL_SEQ, marks.label_seq)
        self.runs.labels(outcome.run["status"].lower()).inc()
        return outcome

    def _settle(self, why: dict[str, Any], outcome: RetrainOutcome | str) -> None:
        """After a run: a refused request stays pending (with why); an answered one is done,
        unless a newer request superseded it meanwhile (that one runs next)."""
        pending = self.pending()
        if isinstance(outcome, str):
            self.runs.labels("not_enough_data").inc()
            if pending is not None and pending.request_id == why.get("pending"):
                self._set_pending(pending.refused(outcome, self.store.marks().label_seq))
                log.warning("retrain request %s pending until more labels are in: %s",
                            pending.request_id, outcome)
            else:
                log.warning("not retraining (%s): %s", why["reason"], outcome)
        elif pending is not None and why.get("pending"):
            # answered; unless a newer request arrived during the run: that one runs next
            self._set_pending(None if pending.request_id == why["pending"]
                              else pending.without(why["request_id"].split(",")))

    async def _train(self, why: dict[str, Any]) -> None:
        # The run's span links to the requests' spans (their traceparent headers): on-call
        # goes from a training run to the drift that asked for it, and back.
        links, self._links = (self._links, []) if why.get("pending") else ([], self._links)
        span = trace.get_tracer(SERVICE).start_span("train", links=links, attributes={
            "model.name": self.model_name, "reason": why["reason"],
            "request.id": why["request_id"] or ""})
        try:
            outcome = await asyncio.to_thread(self.retrain, why)
            if not isinstance(outcome, str):
                span.set_attributes({"model.version": outcome.version.version,
                                     "run.status": outcome.run["status"]})
                assert self.publisher is not None
                await self.publisher.publish_until_acked(
                    self.lifecycle_outbound(outcome.lifecycle))
                # the picture of its errors once the promotion is out: it never delays one
                await asyncio.to_thread(self.job.plot_errors, outcome.run)
        finally:
            span.end()
        self._settle(why, outcome)

    def start_run_if_due(self) -> None:
        if not self.background.busy and (why := self.trigger()) is not None:
            # once done, whatever arrived during the run (a newer request) may start
            self.background.start(lambda: self._train(why), then=self.start_run_if_due)

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
        self.accept(requests, [link for r in records if r.topic == self.topics.retrain_requests
                               and (link := link_from_headers(r.headers)) is not None])
        self.start_run_if_due()
        return []  # lifecycle events are published by the run, when it ends

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        http = asyncio.create_task(serve_http(
            health_app(SERVICE, self.health, self.metrics.registry),
            self.settings.http_host, self.settings.trainer_port, stopping))
        warming = asyncio.create_task(asyncio.to_thread(warm_up))  # while Kafka connects
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
        await self.background.stop(self.settings.trainer_stop_grace_s)
        await consumer.stop()
        await producer.stop()
        await warming
        self.store.close()
        await http


def main() -> None:
    settings = TrainerSettings()
    serve_service(SERVICE, settings, lambda: Trainer(settings))
