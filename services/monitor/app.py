"""Monitor wiring: predictions, labels and models.lifecycle in (one batch loop), decisions out
to drift.signals, retrain.requests and (rollbacks, through the registry) models.lifecycle."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import trace

from driftloop.contracts import AvroCodec, DecodeError, load_schemas
from driftloop.contracts.schema_registry import registry_for
from driftloop.messaging import (
    BatchLoop,
    DeadLetterer,
    KafkaClients,
    Outbound,
    Publisher,
)
from driftloop.registry import ModelRegistry, RegistryError, lifecycle_record
from driftloop.runtime import Health, connect_to_kafka, health_app, serve_http, serve_service
from driftloop.telemetry import TRACEPARENT, HopSpans, ServiceMetrics, traceparent_of
from services.monitor.decisions import Decision, DriftFinding, RetrainDecision, RollbackDecision
from services.monitor.model_watcher import ModelWatcher
from services.monitor.settings import MonitorSettings
from services.monitor.state_store import StateStore

log = logging.getLogger("driftloop.monitor")
SERVICE = "monitor"
PREDICTION = "driftloop.models.Prediction"
LABEL = "driftloop.models.Label"
LIFECYCLE = "driftloop.models.ModelLifecycle"
SIGNAL = "driftloop.monitoring.DriftSignal"
RETRAIN = "driftloop.monitoring.RetrainRequest"
QUALITY_METRICS = ("accuracy", "error_rate", "log_loss", "roc_auc", "precision", "recall",
                   "tp", "fp", "tn", "fn", "n")
LAG_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)


class Monitor:
    """Everything the monitor process holds, built from settings; no I/O until ``run``
    (except reading its own state snapshot)."""

    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self.topics = settings.topics()
        schemas = load_schemas()
        self.codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        self.dead_letters = DeadLetterer(self.codec, self.topics.deadletter, SERVICE)
        self.clients = KafkaClients(settings.kafka_bootstrap, client_id=SERVICE,
                                    max_poll_records=settings.monitor_max_records)
        self.store = StateStore(settings.state_path())
        saved = self.store.load()
        config = settings.watch_config()
        self.watcher = (ModelWatcher.from_state(saved, config) if saved is not None
                        else ModelWatcher(config))
        self._registry: ModelRegistry | None = None
        self._last_snapshot = time.monotonic()
        self._last_gauges = 0.0
        self.health = Health(waiting_for={"broker", "topics"})
        m = self.metrics = ServiceMetrics(SERVICE)
        self.records = m.counter("records_total", "Records consumed, by topic kind.", ("kind",))
        self.signals = m.counter("drift_signals_total", "Drift detections.",
                                 ("model", "version", "kind", "subject"))
        self.requests = m.counter("retrain_requests_total", "Retrain requests sent.", ("model",))
        self.rollbacks = m.counter("rollbacks_total", "Automatic rollbacks.", ("model",))
        self.quality = m.gauge("quality", "Live quality over the recent labelled window.",
                               ("model", "version", "metric"))
        self.drift_mean = m.gauge("drift_stream_mean", "Page-Hinkley running mean of each "
                                  "stream, in reference standard deviations (0: as in warm-up).",
                                  ("model", "version", "stream"))
        self.episode = m.gauge("retrain_episode_open", "1 while a retraining episode is open.",
                               ("model",))
        self.label_lag = m.histogram("label_lag_seconds", "Event time to label time.",
                                     buckets=LAG_BUCKETS)
        self.batch_seconds = m.histogram("batch_seconds", "Time to process one batch.")

    # -- pure-ish processing -----------------------------------------------------------------
    def _decode(self, records: Sequence[ConsumerRecord]) -> tuple[
            list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[Outbound]]:
        preds: list[dict[str, Any]] = []
        labels: list[dict[str, Any]] = []
        lifecycle: list[dict[str, Any]] = []
        dead: list[Outbound] = []
        kinds = {self.topics.predictions: (PREDICTION, preds),
                 self.topics.labels: (LABEL, labels),
                 self.topics.lifecycle: (LIFECYCLE, lifecycle)}
        current = {name: self.codec.schema_id(name) for name in (PREDICTION, LABEL, LIFECYCLE)}
        for record in records:
            schema, into = kinds[record.topic]
            value = record.value or b""
            try:
                # Written with today's schema: no schema resolution needed, ~2x faster.
                same = len(value) > 5 and int.from_bytes(value[1:5], "big") == current[schema]
                into.append(self.codec.decode(value, None if same else schema))
            except DecodeError as exc:
                dead.append(self.dead_letters.record(
                    record.value or b"", "decode_error", str(exc), source=record.topic,
                    partition=record.partition, offset=record.offset, key=record.key))
        self.records.labels("prediction").inc(len(preds))
        self.records.labels("label").inc(len(labels))
        self.records.labels("lifecycle").inc(len(lifecycle))
        return preds, labels, lifecycle, dead

    def handle(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        # Decode everything first: a bad record is dead-lettered here, before any detector
        # moved, so the batch never has to be replayed record by record.
        preds, labels, lifecycle, out = self._decode(records)
        return out + self.process(preds, labels, lifecycle, int(time.time() * 1000))

    def process(self, preds: Sequence[dict[str, Any]], labels: Sequence[dict[str, Any]],
                lifecycle: Sequence[dict[str, Any]], now_ms: int) -> list[Outbound]:
        w = self.watcher
        for event in lifecycle:
            w.on_lifecycle(event)
        decisions: list[Decision] = []
        decisions += w.on_predictions(preds)
        decisions += w.on_labels(labels)
        decisions += w.tick(now_ms)
        for lag in w.label_lags_s:
            self.label_lag.observe(lag)
        w.label_lags_s.clear()
        out = [o for d in decisions if (o := self._emit(d, now_ms)) is not None]
        self._housekeeping()
        return out

    def _emit(self, d: Decision, now_ms: int) -> Outbound | None:
        if isinstance(d, DriftFinding):
            self.signals.labels(d.model_name, d.model_version, d.kind, d.subject[:60]).inc()
            log.info("drift: %s %s %s on %s %s (statistic %.4g after %d events)", d.detector,
                     d.kind, d.subject, d.model_name, d.model_version, d.statistic,
                     d.events_seen)
            value = self.codec.encode(SIGNAL, {
                "detector": d.detector, "kind": d.kind, "subject": d.subject,
                "statistic": d.statistic if math.isfinite(d.statistic) else -1.0,
                "window_events": d.window_events, "events_seen": d.events_seen,
                "model_name": d.model_name, "model_version": d.model_version,
                "detected_at": now_ms})
            return Outbound(self.topics.drift_signals, value, d.detector.encode())
        if isinstance(d, RetrainDecision):
            self.requests.labels(d.model_name).inc()
            log.info("retrain request: %s", d.reason)
            request_id = uuid.uuid4().hex
            value = self.codec.encode(RETRAIN, {
                "request_id": request_id, "model_name": d.model_name, "reason": d.reason,
                "requested_by": SERVICE, "requested_at": now_ms, "evidence": d.evidence})
            # its own trace (always kept): the training run it causes links to it
            span = trace.get_tracer(SERVICE).start_span("retrain.request", attributes={
                "request.id": request_id, "model.name": d.model_name, "reason": d.reason})
            span.end()
            header = traceparent_of(span)
            return Outbound(self.topics.retrain_requests, value, d.model_name.encode(),
                            [(TRACEPARENT, header)] if header else [])
        return self._rollback(d)

    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.settings.registry_root())
        return self._registry

    def _rollback(self, d: RollbackDecision) -> Outbound | None:
        registry = self.registry()
        try:
            current = registry.alias(d.model_name, "champion")
            if current is None or current.version != d.from_version:
                # Someone (a person, the trainer) changed the champion meanwhile: their
                # decision stands; the probation of the old promotion is void.
                log.warning("not rolling back %s %s: champion is now %s", d.model_name,
                            d.from_version, None if current is None else current.version)
                return None
            restored = registry.rollback(d.model_name, d.reason, SERVICE)
        except RegistryError as exc:
            log.error("rollback of %s %s failed: %s", d.model_name, d.from_version, exc)
            return None
        self.rollbacks.labels(d.model_name).inc()
        log.warning("rolled back %s: %s", d.model_name, d.reason)
        record = lifecycle_record("ROLLED_BACK", restored, previous=d.from_version,
                                  reason=d.reason, actor=SERVICE, metrics=d.evidence,
                                  lineage={"rolled_back_version": d.from_version})
        return Outbound(self.topics.lifecycle, self.codec.encode(LIFECYCLE, record),
                        d.model_name.encode())

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_gauges >= self.settings.monitor_gauge_interval_s:
            self._last_gauges = now
            self.update_gauges()
        if now - self._last_snapshot >= self.settings.monitor_snapshot_interval_s:
            self.snapshot()

    def update_gauges(self) -> None:
        for name, m in self.watcher.models.items():
            self.episode.labels(name).set(1.0 if m.retrain.episode is not None else 0.0)
            for version, watch in m.versions.items():
                metrics = watch.quality.metrics()
                for metric in QUALITY_METRICS:
                    value = metrics.get(metric)
                    if value is not None:
                        self.quality.labels(name, version, metric).set(value)
                for stream, mean in zip(watch.streams, watch.ph.mean, strict=True):
                    self.drift_mean.labels(name, version, stream).set(float(mean))

    def snapshot(self) -> None:
        self._last_snapshot = time.monotonic()
        self.store.save(self.watcher.to_state())

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        app = health_app(SERVICE, self.health, self.metrics.registry)
        http = asyncio.create_task(serve_http(app, s.http_host, s.monitor_port, stopping))
        await connect_to_kafka(self.settings, self.health)
        producer = self.clients.producer()
        consumer = self.clients.consumer(self.topics.predictions, self.topics.labels,
                                         self.topics.lifecycle, group_id=s.monitor_group)
        await producer.start()
        await consumer.start()
        loop = BatchLoop(consumer, Publisher(producer), self.handle, self.dead_letters,
                         max_records=s.monitor_max_records,
                         on_batch=lambda n, secs: self.batch_seconds.observe(secs),
                         metrics=self.metrics,
                         hops=HopSpans(trace.get_tracer(SERVICE), "monitor.observe"))
        log.info("monitor ready: HTTP on %s:%d, state in %s", s.http_host, s.monitor_port,
                 self.store.path)
        runner = asyncio.create_task(loop.run())
        await stopping.wait()
        loop.stop()
        await runner
        self.snapshot()
        await consumer.stop()
        await producer.stop()
        await http


def main() -> None:
    settings = MonitorSettings()
    serve_service(SERVICE, settings, lambda: Monitor(settings))
