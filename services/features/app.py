"""Features wiring: feast apply, the events.valid batch loop, state rebuild, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from services.contracts import AvroCodec, DecodeError, load_schemas
from services.contracts.schema_registry import registry_for
from services.features.offline_writer import OfflineWriter
from services.features.settings import FeaturesSettings
from services.features.window_aggregator import APPLIED, WindowAggregator
from services.featurestore import FeatureDeclarations, ViewDeclaration
from services.featurestore.online_store import RedisOnlineStore, Row
from services.messaging import (
    BatchLoop,
    DeadLetterer,
    KafkaClients,
    Outbound,
    Publisher,
)
from services.runtime import Health, connect_to_kafka, health_app, serve_http, serve_service
from services.telemetry import ServiceMetrics

log = logging.getLogger("driftloop.features")
SERVICE = "features"


class Features:
    """Everything the features process holds, built from settings; no I/O until ``run``."""

    def __init__(self, settings: FeaturesSettings) -> None:
        self.settings = settings
        self.topics = settings.topics()
        self.domain = settings.load_domain()
        schemas = load_schemas()
        self.codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        self.declarations = FeatureDeclarations.load(settings.feature_repo)
        # Every declared view whose entity the events name; views are computed, not coded.
        event_fields = set(schemas[self.domain.event_schema].field_names())
        self.views: list[ViewDeclaration] = [
            v for v in self.declarations.views.values() if v.entity.event_field in event_fields]
        self.offline = {v.name: OfflineWriter(settings.data_dir, v) for v in self.views}
        # State is owned per partition: a rebalance hands a partition's windows over whole.
        self.state: dict[int, dict[str, WindowAggregator]] = {}
        self.dead_letters = DeadLetterer(self.codec, self.topics.deadletter, SERVICE)
        self.clients = KafkaClients(settings.kafka_bootstrap, client_id=SERVICE,
                                    max_poll_records=settings.features_max_batch)
        self.health = Health(waiting_for={"broker", "topics", "feast", "state"})
        self.metrics = ServiceMetrics(SERVICE)
        self.events = self.metrics.counter("events_total", "Events by outcome.", ("outcome",))
        self.batch_seconds = self.metrics.histogram("batch_seconds", "Time per micro-batch.")
        self.redis: RedisOnlineStore | None = None
        self.store: Any = None  # feast.FeatureStore, only for the SQLite online store
        self.consumer: AIOKafkaConsumer | None = None
        self.stopping = asyncio.Event()

    # -- state ---------------------------------------------------------------------------
    def _aggregators(self, partition: int) -> dict[str, WindowAggregator]:
        owned = self.state.get(partition)
        if owned is None:
            owned = self.state[partition] = {
                v.name: WindowAggregator(v, self.declarations.lateness_s) for v in self.views}
        return owned

    def apply(self, record: ConsumerRecord) -> list[tuple[str, str, datetime]]:
        """Fold one event into its partition's windows; returns (view, entity, time) applied."""
        event = self.codec.decode(record.value, self.domain.event_schema)
        when: datetime = event[self.domain.event_time_field]
        event_id = str(event[self.domain.event_id_field])
        applied = []
        for name, aggregator in self._aggregators(record.partition).items():
            entity_id = str(event[aggregator.view.entity.event_field])
            outcome = aggregator.add(entity_id, event_id, when.timestamp(), event)
            self.events.labels(outcome).inc()
            if outcome == APPLIED:
                applied.append((name, entity_id, when))
        return applied

    # -- the micro-batch -----------------------------------------------------------------
    async def handle(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        started = time.perf_counter()
        outputs: list[Outbound] = []
        online: dict[str, dict[str, tuple[datetime, Row]]] = {v.name: {} for v in self.views}
        offline: dict[tuple[str, int], list[tuple[str, datetime, dict[str, float]]]] = {}
        for record in records:
            try:
                applied = self.apply(record)
            except DecodeError as exc:  # not our schema: dead-letter, never crash-loop
                outputs.append(self.dead_letters.record(
                    record.value or b"", "decode_error", str(exc), source=record.topic,
                    partition=record.partition, offset=record.offset, key=record.key))
                continue
            for view, entity_id, _ in applied:
                aggregator = self.state[record.partition][view]
                values = aggregator.features(entity_id)
                newest = datetime.fromtimestamp(aggregator.entities[entity_id].newest, tz=UTC)
                online[view][entity_id] = (newest, values)
                offline.setdefault((view, record.partition), []).append(
                    (entity_id, newest, values))
        await self._write_online(online)
        offsets: dict[int, tuple[int, int]] = {}
        for record in records:
            low, high = offsets.get(record.partition, (record.offset, record.offset))
            offsets[record.partition] = (min(low, record.offset), max(high, record.offset))
        for (view, partition), rows in offline.items():
            first, last = offsets[partition]
            await asyncio.to_thread(self.offline[view].write, partition, first, last, rows)
        self.batch_seconds.observe(time.perf_counter() - started)
        return outputs

    async def _write_online(self, online: dict[str, dict[str, tuple[datetime, Row]]]) -> None:
        """Write until the store takes it: a store outage pauses consumption (and commits)
        instead of dropping features or dead-lettering good events."""
        delay = 0.1
        while True:
            try:
                for view in self.views:
                    rows = online[view.name]
                    if not rows:
                        continue
                    if self.redis is not None:
                        await self.redis.write(view, rows)
                    else:
                        await asyncio.to_thread(self._write_sqlite, view, rows)
                return
            except Exception as exc:
                if self.stopping.is_set():
                    raise
                log.warning("online write failed, retrying in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _write_sqlite(self, view: ViewDeclaration, rows: dict[str, tuple[datetime, Row]]
                      ) -> None:
        import pandas as pd

        frame = pd.DataFrame([{view.entity.join_key: e, "event_timestamp": t, **v}
                              for e, (t, v) in rows.items()])
        self.store.write_to_online_store(view.name, frame)

    # -- state rebuild -------------------------------------------------------------------
    async def rebuild(self, partitions: Sequence[TopicPartition]) -> None:
        """Replay each newly owned partition from its start up to the group's committed
        offset, folding events into windows without writing: the windows then continue
        exactly where the previous owner left them (no event lost or counted twice)."""
        assert self.consumer is not None
        targets: dict[TopicPartition, int] = {}
        for tp in partitions:
            self.state.pop(tp.partition, None)
            self._aggregators(tp.partition)
            committed = await self.consumer.committed(tp)
            if committed:
                targets[tp] = committed
        if not targets:
            return
        replay = self.clients.consumer(group_id=None)
        await replay.start()
        try:
            replay.assign(list(targets))
            await replay.seek_to_beginning(*targets)
            pending = dict(targets)
            while pending:
                polled = await replay.getmany(timeout_ms=200, max_records=5000)
                for tp, batch in polled.items():
                    for record in batch:
                        if record.offset < pending.get(tp, 0):
                            try:
                                self.apply(record)
                            except DecodeError:
                                pass  # dead-lettered when it was first processed
                    if batch and batch[-1].offset + 1 >= pending.get(tp, 0):
                        pending.pop(tp, None)
        finally:
            await replay.stop()
        log.info("rebuilt windows of %d partitions", len(targets))

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        service = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                for tp in revoked:
                    service.state.pop(tp.partition, None)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                await service.rebuild(list(assigned))
                service.health.done("state")

        return Listener()

    # -- lifecycle -----------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        from services.featurestore.feast_repo import apply_repo

        self.stopping = stopping
        http = asyncio.create_task(serve_http(
            health_app(SERVICE, self.health, self.metrics.registry),
            self.settings.http_host, self.settings.features_port, stopping))
        await connect_to_kafka(self.settings, self.health)
        # feast apply: idempotent, so every replica may run it at start.
        self.store = await asyncio.to_thread(apply_repo, self.settings.store_settings())
        self.health.done("feast")
        if self.settings.redis_url:
            self.redis = RedisOnlineStore(
                self.settings.redis_url, self.declarations.project,
                next(iter(self.declarations.services.values())), timeout_s=5.0)
        producer = self.clients.producer()
        self.consumer = self.clients.consumer(group_id=self.settings.features_group)
        self.consumer.subscribe([self.topics.valid], listener=self.rebalance_listener())
        await producer.start()
        await self.consumer.start()
        loop = BatchLoop(self.consumer, Publisher(producer), self.handle, self.dead_letters,
                         max_records=self.settings.features_max_batch,
                         metrics=self.metrics)
        log.info("features ready: consuming %s", self.topics.valid)
        runner = asyncio.create_task(loop.run())
        await stopping.wait()
        loop.stop()
        await runner
        await self.consumer.stop()
        await producer.stop()
        if self.redis is not None:
            await self.redis.close()
        await http


def main() -> None:
    settings = FeaturesSettings.model_validate({})  # values from DRIFTLOOP_* variables
    serve_service(SERVICE, settings, lambda: Features(settings))
