"""Scorer wiring: the events.valid batch loop, the models.lifecycle follower, POST /predict,
readiness and metrics. Scoring itself is in ``BatchScorer``; model checks in ``ModelLoader``."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from opentelemetry import trace

from driftloop.contracts import (
    AvroCodec,
    DecodeError,
    RecordValidator,
    ValidationError,
    load_schemas,
)
from driftloop.contracts.model_inputs import ModelInputs
from driftloop.contracts.rule_baseline import BaselineModel
from driftloop.contracts.schema_registry import registry_for
from driftloop.messaging import (
    BatchLoop,
    DeadLetterer,
    KafkaClients,
    Outbound,
    Publisher,
)
from driftloop.registry.lifecycle import refusal_record
from driftloop.runtime import (
    Health,
    connect_to_kafka,
    health_app,
    read_limited_body,
    serve_http,
    serve_service,
)
from driftloop.telemetry import (
    TRACEPARENT,
    ServiceMetrics,
    context_from_headers,
    traceparent_of,
)
from services.scorer.batch_scorer import BatchScorer, ScoredBatch
from services.scorer.explanations import Explainer
from services.scorer.feature_source import FeatureSource
from services.scorer.label_policy import LabelPolicy
from services.scorer.model import Model
from services.scorer.model_holder import ModelHolder
from services.scorer.model_loader import ModelLoader, ModelStore
from services.scorer.onnx_model import ModelRejected
from services.scorer.settings import ScorerSettings

log = logging.getLogger("driftloop.scorer")
SERVICE = "scorer"
PREDICTION = "driftloop.models.Prediction"
LABEL_REQUEST = "driftloop.models.LabelRequest"
LIFECYCLE = "driftloop.models.ModelLifecycle"
#: Lifecycle actions that change what serves, and the role they change.
ROLE_OF_ACTION = {"PROMOTED": "champion", "ROLLED_BACK": "champion", "CHALLENGER": "challenger"}


def _default_features(settings: ScorerSettings) -> FeatureSource:
    from driftloop.featurestore import FeatureClient, FeatureStoreSettings

    return FeatureClient.from_settings(FeatureStoreSettings(data_dir=settings.data_dir))


def _default_registry(settings: ScorerSettings) -> ModelStore:
    from driftloop.registry import ModelRegistry, RegistrySettings

    return ModelRegistry(RegistrySettings(data_dir=settings.data_dir).registry_root())


class Scorer:
    """Everything the scorer process holds, built from settings; no I/O until ``run``.
    ``features`` and ``registry`` default to the feature client and the model registry the
    settings name."""

    def __init__(self, settings: ScorerSettings, features: FeatureSource | None = None,
                 registry: ModelStore | None = None) -> None:
        self.settings = settings
        self.topics = settings.topics()
        self.domain = settings.load_domain()
        schemas = load_schemas()
        self.codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        self.validator = RecordValidator(schemas[self.domain.event_schema])
        inputs = ModelInputs.load(settings.domain)
        baseline = BaselineModel.from_config(self.domain.model_name, inputs.baseline)
        self.holder = ModelHolder(baseline)
        self.features = features if features is not None else _default_features(settings)
        self.explainer = Explainer(baseline, self.features.defaults)
        self.loader = ModelLoader(registry if registry is not None
                                  else _default_registry(settings))
        self.scorer = BatchScorer(
            self.domain, inputs, self.features, self.holder,
            LabelPolicy(settings.scorer_low_confidence, settings.scorer_sample_rate,
                        settings.scorer_sample_seed),
            settings.scorer_feature_deadline_s)
        self.dead_letters = DeadLetterer(self.codec, self.topics.deadletter, SERVICE)
        self.clients = KafkaClients(settings.kafka_bootstrap, client_id=SERVICE,
                                    max_poll_records=settings.scorer_max_records)
        self.tracer = trace.get_tracer(SERVICE)
        self.health = Health(waiting_for={"broker", "topics", "model", "consumer"})
        self.publisher: Publisher | None = None
        self._stopping = asyncio.Event()
        self._init_metrics()

    def _init_metrics(self) -> None:
        m = ServiceMetrics(SERVICE)
        self.metrics = m
        self.events = m.counter("events_total", "Events consumed, by outcome.", ("outcome",))
        self.predictions = m.counter("predictions_total", "Predictions made, by role.",
                                     ("role", "source"))
        self.latency = m.histogram("latency_seconds",
                                   "Event arrival at the scorer to its prediction.")
        self.batch_seconds = m.histogram("batch_seconds", "Time to score and publish a batch.")
        self.degraded = m.counter("degraded_total",
                                  "Predictions made with default features (store slow/down).")
        self.label_requests = m.counter("label_requests_total", "Label requests, by reason.",
                                        ("reason",))
        self.swaps = m.counter("model_swaps_total", "Model changes, by role and result.",
                               ("role", "result"))
        self.non_finite = m.counter(
            "non_finite_scores_total",
            "Scores a model gave as NaN or infinite, served from the baseline instead.",
            ("role",))
        self.lifecycle_errors = m.counter(
            "lifecycle_errors_total", "models.lifecycle records that failed to apply.")
        self.model_info = m.gauge("model_info", "1 for the version serving in each role.",
                                  ("role", "version", "baseline"))

    def _serving_changed(self) -> None:
        self.model_info.clear()
        serving = self.holder.snapshot()
        for role, model in (("champion", serving.champion), ("challenger", serving.challenger)):
            if model is not None:
                self.model_info.labels(role, model.version, str(model.is_baseline).lower()).set(1)

    # -- models --------------------------------------------------------------------------
    async def load_initial(self) -> None:
        """Serve the registry's champion, else the newest loadable former champion, else the
        baseline; and the challenger if it loads. Says which, and what was refused."""
        name = self.domain.model_name
        start = await asyncio.to_thread(self.loader.champion, name)
        for version, reason in start.refused:
            log.error("%s %s refused as champion at start: %s", name, version, reason)
            self.swaps.labels("champion", "refused").inc()
        if start.model is not None:
            self.holder.set_champion(start.model)
        if start.refused:
            self.swaps.labels("champion", "fallback").inc()
        try:
            challenger = await asyncio.to_thread(self.loader.challenger, name)
        except ModelRejected as exc:
            log.error("challenger of %s refused at start: %s", name, exc)
            self.swaps.labels("challenger", "refused").inc()
        else:
            if challenger is not None:
                self.holder.set_challenger(challenger)
        self._serving_changed()
        serving = self.holder.snapshot().champion.version
        if start.refused:
            log.warning("%s: the registry's champion cannot serve (%s refused); serving %s",
                        name, ", ".join(v for v, _ in start.refused), serving)
        log.info("serving %s", serving)

    async def apply_lifecycle(self, record: dict[str, Any]) -> bool:
        """Apply one models.lifecycle record; True if what serves changed. A version that
        fails a check is refused (logged, counted) and the current models keep serving."""
        role = ROLE_OF_ACTION.get(record["action"])
        if role is None or record["model_name"] != self.domain.model_name:
            return False
        if role == "challenger" and not self.settings.scorer_shadow:
            return False
        serving: Model | None = (self.holder.snapshot().champion if role == "champion"
                                 else self.holder.snapshot().challenger)
        if serving is not None and serving.version == record["version"]:
            return False
        try:
            # Loading and the smoke test run in a thread; the swap itself happens here, on the
            # event loop, between two batches' snapshots.
            model = await asyncio.to_thread(self.loader.load, record["model_name"],
                                            record["version"], record.get("sha256"))
        except ModelRejected as exc:
            await self._refused(record, role, serving, exc)
            return False
        if role == "champion":
            self.holder.set_champion(model)
        else:
            self.holder.set_challenger(model)
        self.swaps.labels(role, "swapped").inc()
        self._serving_changed()
        log.info("%s is now %s (%s)", role, model.version, record["action"])
        return True

    async def _refused(self, record: dict[str, Any], role: str, serving: Model | None,
                       exc: ModelRejected) -> None:
        """Report a refused version: a log line, a counter, and a REJECTED record on
        models.lifecycle so the people and services following it see why nothing changed."""
        log.error("refused %s %s as %s, %s keeps serving: %s", record["model_name"],
                  record["version"], role, serving.version if serving else "nothing", exc)
        self.swaps.labels(role, "refused").inc()
        if self.publisher is not None:
            rejected = refusal_record(record, previous=serving.version if serving else None,
                                      reason=f"scorer refused it as {role}: {exc}",
                                      actor=SERVICE)
            await self.publisher.publish_until_acked([Outbound(
                self.topics.lifecycle, self.codec.encode(LIFECYCLE, rejected),
                str(record["model_name"]).encode())])

    async def _follow_lifecycle(self, consumer: AIOKafkaConsumer, stopping: asyncio.Event
                                ) -> None:
        delay = 0.1
        while not stopping.is_set():
            try:
                polled = await consumer.getmany(timeout_ms=200)
                delay = 0.1
            except Exception as exc:  # broker hiccup: back off, never crash the scorer
                log.warning("lifecycle poll failed, retrying in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for batch in polled.values():
                for message in batch:
                    try:
                        record = self.codec.decode(message.value or b"", LIFECYCLE)
                        await self.apply_lifecycle(record)
                    except Exception:  # one bad record must never stop later promotions
                        log.exception("lifecycle record at offset %d not applied",
                                      message.offset)
                        self.lifecycle_errors.inc()

    def _lifecycle_ended(self, task: asyncio.Task[None]) -> None:
        """The follower ends only when the scorer stops; if it died instead, promotions would
        be ignored from now on: the scorer is not ready (so it gets restarted or replaced)."""
        if not task.cancelled() and (task.exception() is not None
                                     or not self._stopping.is_set()):
            log.error("the models.lifecycle follower died: %r", task.exception())
            self.health.waiting("lifecycle")

    # -- stream path ---------------------------------------------------------------------
    @staticmethod
    def _trace_header(span: Any, incoming: Sequence[tuple[str, bytes]]
                      ) -> list[tuple[str, bytes]]:
        """The prediction's traceparent: our span's, or (tracing off) the event's own, so the
        trace still joins up downstream."""
        value = traceparent_of(span)
        if value is not None:
            return [(TRACEPARENT, value)]
        return [(k, v) for k, v in incoming if k == TRACEPARENT]

    def _outputs(self, batch: ScoredBatch, headers: Sequence[Sequence[tuple[str, bytes]]],
                 spans: Sequence[Any], source: str) -> list[Outbound]:
        outputs: list[Outbound] = []
        encode, predictions = self.codec.encode, self.topics.predictions
        trace_headers = []
        for span, incoming in zip(spans, headers, strict=True):
            span.end()
            trace_headers.append(self._trace_header(span, incoming))
        for record, header in zip(batch.predictions, trace_headers, strict=True):
            outputs.append(Outbound(predictions, encode(PREDICTION, record),
                                    record["event_id"].encode(), header))
        # Shadow records line up with the events too, when there is a challenger at all.
        for record, header in zip(batch.shadow, trace_headers, strict=False):
            outputs.append(Outbound(predictions, encode(PREDICTION, record),
                                    record["event_id"].encode(), header))
        now_ms = int(time.time() * 1000)
        for index, reason in batch.label_requests:
            record = batch.predictions[index]
            outputs.append(Outbound(self.topics.label_requests, encode(LABEL_REQUEST, {
                "event_id": record["event_id"], "entity_id": record["entity_id"],
                "reason": reason, "score": record["score"],
                "model_version": record["model_version"], "requested_at": now_ms,
            }), record["event_id"].encode(), trace_headers[index]))
            self.label_requests.labels(reason).inc()
        self._count(batch, source)
        return outputs

    def _count(self, batch: ScoredBatch, source: str) -> None:
        n = len(batch.predictions)
        self.predictions.labels("champion", source).inc(n)
        if batch.shadow:
            self.predictions.labels("shadow", source).inc(len(batch.shadow))
        if n and (batch.non_finite or batch.predictions[0]["degraded"]):
            # the whole batch when the store was out, or the rows that fell back
            self.degraded.inc(sum(1 for p in batch.predictions if p["degraded"]))
        if batch.non_finite:
            self.non_finite.labels("champion").inc(batch.non_finite)
        if batch.shadow_non_finite:
            self.non_finite.labels("shadow").inc(batch.shadow_non_finite)
        if n:
            latency = batch.predictions[0]["latency_ms"] / 1000.0
            for _ in range(n):
                self.latency.observe(latency)

    async def handle_valid(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        arrived = time.time()
        events: list[dict[str, Any]] = []
        headers: list[Sequence[tuple[str, bytes]]] = []
        spans = []
        outputs: list[Outbound] = []
        for message in records:
            try:
                event = self.codec.decode(message.value or b"", self.domain.event_schema)
            except DecodeError as exc:
                outputs.append(self.dead_letters.record(
                    message.value or b"", "malformed_avro", str(exc), source=message.topic,
                    partition=message.partition, offset=message.offset, key=message.key))
                self.events.labels("deadletter").inc()
                continue
            events.append(event)
            headers.append(message.headers)
            # Each event's trace continues here: ingest -> scorer -> whoever reads predictions.
            spans.append(self.tracer.start_span(
                "score", context=context_from_headers(message.headers),
                attributes={"event.id": event[self.domain.event_id_field]}))
        batch = await self.scorer.score(events, arrived)
        self.events.labels("scored").inc(len(events))
        return outputs + self._outputs(batch, headers, spans, "kafka")

    # -- HTTP ----------------------------------------------------------------------------
    def _authorised(self, request: Request) -> bool:
        token = self.settings.api_token
        if not token:
            return True
        given = request.headers.get("authorization", "")
        return secrets.compare_digest(given.encode(), f"Bearer {token}".encode())

    def http_app(self) -> FastAPI:
        app = health_app(SERVICE, self.health, self.metrics.registry)
        limits = self.settings

        @app.post("/predict", tags=["scoring"])
        async def predict(request: Request, explain: bool = False) -> Response:
            """Score one event (a JSON object) or a batch (a JSON array) with the same
            validation, features and model as the stream. Replies with the predictions;
            nothing is published. ``?explain=true`` adds to each prediction its
            ``explanation``: the inputs that moved its score most (services/scorer/README.md).
            Needs ``Authorization: Bearer <token>`` when DRIFTLOOP_API_TOKEN is set."""
            if not self._authorised(request):
                raise HTTPException(401, "missing or wrong bearer token",
                                    headers={"WWW-Authenticate": "Bearer"})
            raw = await read_limited_body(request, limits.scorer_max_body_bytes)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise HTTPException(422, f"not JSON: {exc}") from None
            items = body if isinstance(body, list) else [body]
            if len(items) > limits.scorer_max_batch_events:
                raise HTTPException(413, f"{len(items)} events; at most "
                                         f"{limits.scorer_max_batch_events}")
            now_ms = int(time.time() * 1000)
            events, errors = [], []
            for index, item in enumerate(items):
                try:
                    events.append(self.validator.validate(item, now_ms))
                except ValidationError as exc:
                    errors.append({"index": index, "error": exc.error_class,
                                   "field": exc.field, "reason": str(exc)})
            if errors:
                raise HTTPException(422, errors)
            batch = await self.scorer.score(events)
            self._count(batch, "http")
            out: dict[str, Any] = {"predictions": batch.predictions}
            if explain and batch.champion is not None:
                # in a thread: one explanation is one model run of a few thousand rows
                explained = await asyncio.to_thread(self.explainer.explain_all,
                                                    batch.champion, batch.predictions)
                out["predictions"] = [{**p, "explanation": e} for p, e in
                                      zip(batch.predictions, explained, strict=True)]
            if batch.shadow:
                out["shadow"] = batch.shadow
            return Response(orjson.dumps(out), media_type="application/json")

        return app

    # -- lifecycle -----------------------------------------------------------------------
    async def _lifecycle_consumer(self) -> AIOKafkaConsumer:
        """A group-less consumer at the end of models.lifecycle: every replica must see every
        change. Its position is fixed before the registry is read, so no change made while
        starting can slip between the two."""
        consumer = self.clients.consumer(group_id=None, auto_offset_reset="latest")
        await consumer.start()
        topic = self.topics.lifecycle
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.topics()  # refresh metadata once
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        for tp in assigned:
            await consumer.position(tp)
        return consumer

    async def _wait_for_assignment(self, consumer: AIOKafkaConsumer) -> None:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        self.health.done("consumer")

    async def run(self, stopping: asyncio.Event) -> None:
        http = asyncio.create_task(serve_http(
            self.http_app(), self.settings.http_host, self.settings.scorer_port, stopping))
        await connect_to_kafka(self.settings, self.health)
        lifecycle = await self._lifecycle_consumer()
        await self.load_initial()
        self.health.done("model")
        producer = self.clients.producer()
        consumer = self.clients.consumer(self.topics.valid, group_id=self.settings.scorer_group)
        await producer.start()
        await consumer.start()
        self.publisher = Publisher(producer)
        loop = BatchLoop(consumer, self.publisher, self.handle_valid, self.dead_letters,
                         max_records=self.settings.scorer_max_records,
                         on_batch=lambda n, s: self.batch_seconds.observe(s),
                         metrics=self.metrics)
        self._stopping = stopping
        tasks = [asyncio.create_task(loop.run()),
                 asyncio.create_task(self._follow_lifecycle(lifecycle, stopping)),
                 asyncio.create_task(self._wait_for_assignment(consumer))]
        tasks[1].add_done_callback(self._lifecycle_ended)
        log.info("scorer started: HTTP on %s:%d, consuming %s", self.settings.http_host,
                 self.settings.scorer_port, self.topics.valid)
        await stopping.wait()
        loop.stop()
        await tasks[0]
        # A follower that died was reported (log, readiness) when it did: stop cleanly anyway.
        await asyncio.gather(tasks[1], return_exceptions=True)
        tasks[2].cancel()
        await consumer.stop()
        await lifecycle.stop()
        await producer.stop()
        await self.features.close()
        await http


def main() -> None:
    settings = ScorerSettings()
    serve_service(SERVICE, settings, lambda: Scorer(settings))
