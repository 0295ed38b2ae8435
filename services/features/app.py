"""Features wiring: feast apply, two batch loops and a label reader, state rebuild, metrics.

- First stage (consumer group ``features`` on events.valid, keyed by the domain's entity):
  its per-event windows; re-keys each applied event, and each label joined to one, onto
  features.repartition, in the same micro-batch (outputs are acknowledged before the offsets
  are committed: at-least-once).
- Second stage (group ``features.repartition``): the bucketed windows of re-keyed entities
  (a card's merchant; an applicant's own labelled outcomes), de-duplicated by input id.
- Labels: every replica reads the whole labels topic into a ``LabelTable`` and joins each
  label to the key-entity window holding its event, from whichever side comes second.

Both stages write Feast's online store and append offline parquet per micro-batch, and
rebuild their windows on every partition assignment by replaying the partition up to the
committed offset (see ``Topology`` for why there are two stages)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import trace

from driftloop.contracts import AvroCodec, DecodeError, load_schemas
from driftloop.contracts.schema_registry import registry_for
from driftloop.featurestore import FeatureDeclarations, ViewDeclaration
from driftloop.featurestore.online_store import RedisOnlineStore, Row
from driftloop.messaging import (
    Backoff,
    BatchLoop,
    DeadLetterer,
    KafkaClients,
    Outbound,
    Publisher,
)
from driftloop.runtime import Health, connect_to_kafka, health_app, serve_http, serve_service
from driftloop.telemetry import HopSpans, ServiceMetrics
from services.features.bucket_aggregator import BucketAggregator
from services.features.label_table import HeldLabel, LabelTable
from services.features.offline_writer import OfflineWriter
from services.features.settings import FeaturesSettings
from services.features.topology import REPARTITIONED_INPUT, Topology
from services.features.window_aggregator import APPLIED, WindowAggregator

log = logging.getLogger("driftloop.features")
SERVICE = "features"
LABEL_SCHEMA = "driftloop.models.Label"

#: Rows of one micro-batch: online, the newest per (view, entity); offline, per (view,
#: partition), every (entity, time, features) in order.
Online = dict[str, dict[str, tuple[datetime, Row]]]
Offline = dict[tuple[str, int], list[tuple[str, datetime, dict[str, float]]]]


class Features:
    """Everything the features process holds, built from settings; no I/O until ``run``."""

    def __init__(self, settings: FeaturesSettings) -> None:
        self.settings = settings
        self.topics = settings.topics()
        self.repartition_topic = self.topics.name("features.repartition")
        self.domain = settings.load_domain()
        schemas = load_schemas()
        self.codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        self.declarations = FeatureDeclarations.load(settings.feature_repo)
        # Views are computed, not coded: the topology says which stage computes each.
        self.topology = Topology.plan(
            self.declarations, self.domain.entity_field,
            set(schemas[self.domain.event_schema].field_names()))
        self.views: list[ViewDeclaration] = list(self.topology.key_views)
        self.rekeyed_views: list[ViewDeclaration] = list(self.topology.rekeyed_views)
        self.offline = {v.name: OfflineWriter(settings.data_dir, v)
                        for v in self.views + self.rekeyed_views}
        # State is owned per partition: a rebalance hands a partition's windows over whole.
        self.state: dict[int, dict[str, WindowAggregator]] = {}
        self.rekeyed_state: dict[int, dict[str, BucketAggregator]] = {}
        # The first key view holds each event (and the fields re-keying needs) for its longest
        # window: labels join to it, so a label must come within that window of its event.
        self.primary = self.views[0].name if self.views else ""
        horizon = max((v.max_window_s for v in self.views), default=0)
        self.labels = LabelTable(horizon + self.declarations.lateness_s)
        self.dead_letters = DeadLetterer(self.codec, self.topics.deadletter, SERVICE)
        self.clients = KafkaClients(settings.kafka_bootstrap, client_id=SERVICE,
                                    max_poll_records=settings.features_max_batch)
        waiting = {"broker", "topics", "feast", "state"}
        if self.rekeyed_views:
            waiting |= {"repartition state", "labels"}
        self.health = Health(waiting_for=waiting)
        self.metrics = ServiceMetrics(SERVICE)
        self.events = self.metrics.counter("events_total", "Events by outcome.", ("outcome",))
        self.inputs = self.metrics.counter(
            "repartitioned_inputs_total", "Inputs of re-keyed entities (second stage) by "
            "source and outcome.", ("source", "outcome"))
        self.label_outcomes = self.metrics.counter(
            "labels_total", "Labels read: joined to a held event, held for their event, "
            "duplicate (the event had one), no_entity (no entity named), expired (held past "
            "the horizon, their entity owned here, never joined), undecodable.", ("outcome",))
        self.batch_seconds = self.metrics.histogram("batch_seconds", "Time per micro-batch.")
        self.redis: RedisOnlineStore | None = None
        self.store: Any = None  # feast.FeatureStore, only for the SQLite online store
        self.consumer: AIOKafkaConsumer | None = None
        self.repartition_consumer: AIOKafkaConsumer | None = None
        self.publisher: Publisher | None = None
        self.stopping = asyncio.Event()

    # -- first stage: the key entity's windows -------------------------------------------
    def _aggregators(self, partition: int) -> dict[str, WindowAggregator]:
        owned = self.state.get(partition)
        if owned is None:
            carry = self.topology.carry
            owned = self.state[partition] = {
                v.name: WindowAggregator(v, v.lateness_s,
                                         carry if v.name == self.primary else ())
                for v in self.views}
        return owned

    def apply(self, record: ConsumerRecord) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Fold one event into its partition's windows; returns the event and the (view,
        entity) pairs it was applied to."""
        event = self.codec.decode(record.value, self.domain.event_schema)
        when: datetime = event[self.domain.event_time_field]
        event_id = str(event[self.domain.event_id_field])
        applied = []
        for name, aggregator in self._aggregators(record.partition).items():
            entity_id = str(event[aggregator.view.entity.event_field])
            outcome = aggregator.add(entity_id, event_id, when.timestamp(), event)
            self.events.labels(outcome).inc()
            if outcome == APPLIED:
                applied.append((name, entity_id))
        return event, applied

    def _rekey(self, event: dict[str, Any]) -> list[Outbound]:
        """An applied event on the repartition topic, and its label when one is held."""
        event_id = str(event[self.domain.event_id_field])
        inputs = self.topology.event_inputs(event, event_id, event[self.domain.event_time_field])
        held = self.labels.get(event_id)
        if held is not None:
            held.joined = True
            inputs.extend(self.topology.label_inputs(held.record, event))
        return [self._outbound(i) for i in inputs]

    def _outbound(self, item: dict[str, Any]) -> Outbound:
        return Outbound(self.repartition_topic, self.codec.encode(REPARTITIONED_INPUT, item),
                        item["entity_id"].encode())

    async def handle(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        started = time.perf_counter()
        outputs: list[Outbound] = []
        online: Online = {v.name: {} for v in self.views}
        offline: Offline = {}
        rekey = bool(self.rekeyed_views)
        for record in records:
            try:
                event, applied = self.apply(record)
            except DecodeError as exc:  # not our schema: dead-letter, never crash-loop
                outputs.append(self._dead_letter(record, exc))
                continue
            for view, entity_id in applied:
                aggregator = self.state[record.partition][view]
                values = aggregator.features(entity_id)
                newest = datetime.fromtimestamp(aggregator.entities[entity_id].newest, tz=UTC)
                online[view][entity_id] = (newest, values)
                offline.setdefault((view, record.partition), []).append(
                    (entity_id, newest, values))
                if rekey and view == self.primary:
                    outputs.extend(self._rekey(event))
        await self._write(self.views, online, offline, records)
        self.batch_seconds.observe(time.perf_counter() - started)
        return outputs

    def _dead_letter(self, record: ConsumerRecord, exc: Exception) -> Outbound:
        return self.dead_letters.record(
            record.value or b"", "decode_error", str(exc), source=record.topic,
            partition=record.partition, offset=record.offset, key=record.key)

    # -- second stage: re-keyed entities' bucketed windows ------------------------------
    def _bucketed(self, partition: int) -> dict[str, BucketAggregator]:
        owned = self.rekeyed_state.get(partition)
        if owned is None:
            owned = self.rekeyed_state[partition] = {
                v.name: BucketAggregator(v) for v in self.rekeyed_views}
        return owned

    def apply_rekeyed(self, record: ConsumerRecord) -> list[tuple[str, str]]:
        """Fold one repartitioned input into its entity's buckets; returns (view, entity)
        pairs it was applied to."""
        item = self.codec.decode(record.value, REPARTITIONED_INPUT)
        entity_id, source = item["entity_id"], item["source"]
        time_s = item["time"].timestamp()
        owned = self._bucketed(record.partition)
        applied = []
        for view in self.topology.views_of(item["entity"]):
            aggregator = owned[view.name]
            if source not in aggregator.sources:
                continue
            outcome = aggregator.add(entity_id, source, item["input_id"], time_s,
                                     item["values"])
            self.inputs.labels(source, outcome).inc()
            if outcome == APPLIED:
                applied.append((view.name, entity_id))
        return applied

    async def handle_rekeyed(self, records: Sequence[ConsumerRecord]) -> list[Outbound]:
        started = time.perf_counter()
        outputs: list[Outbound] = []
        online: Online = {v.name: {} for v in self.rekeyed_views}
        # One offline row per (entity, time) and batch: the state after the batch's last
        # input at that time, so a point-in-time join never picks an intermediate one.
        rows: dict[tuple[str, int], dict[tuple[str, datetime], dict[str, float]]] = {}
        for record in records:
            try:
                applied = self.apply_rekeyed(record)
            except DecodeError as exc:
                outputs.append(self._dead_letter(record, exc))
                continue
            for view, entity_id in applied:
                aggregator = self.rekeyed_state[record.partition][view]
                values = aggregator.features(entity_id)
                newest = datetime.fromtimestamp(aggregator.newest(entity_id), tz=UTC)
                online[view][entity_id] = (newest, values)
                rows.setdefault((view, record.partition), {})[(entity_id, newest)] = values
        offline: Offline = {key: [(e, t, v) for (e, t), v in found.items()]
                            for key, found in rows.items()}
        await self._write(self.rekeyed_views, online, offline, records)
        self.batch_seconds.observe(time.perf_counter() - started)
        return outputs

    # -- labels: a global table joined to the held events ------------------------------
    def _join(self, held: HeldLabel, partitions: Sequence[int] | None = None
              ) -> list[Outbound]:
        """The label's repartition records when its event is in an owned key-entity window."""
        entity = held.entity
        if entity is None:
            return []
        for partition in self.state if partitions is None else partitions:
            owned = self.state.get(partition)
            carried = owned[self.primary].carried(entity, str(held.record["event_id"])) \
                if owned else None
            if carried is not None:
                held.joined = True
                return [self._outbound(i)
                        for i in self.topology.label_inputs(held.record, carried)]
        return []

    def join_label(self, record: ConsumerRecord) -> list[Outbound]:
        try:
            label = self.codec.decode(record.value, LABEL_SCHEMA)
        except DecodeError:  # every replica reads it: the labels' consumers dead-letter it
            self.label_outcomes.labels("undecodable").inc()
            return []
        held = self.labels.put(label)
        outputs: list[Outbound] = []
        if held is None:
            outcome = "duplicate"
        elif held.entity is None:
            outcome = "no_entity"
        else:
            outputs = self._join(held)
            outcome = "joined" if outputs else "held"
        self.label_outcomes.labels(outcome).inc()
        return outputs

    def _expire_labels(self) -> None:
        for held in self.labels.expire():
            owned = any(held.entity in parts[self.primary].entities
                        for parts in self.state.values())
            if not held.joined and owned:
                self.label_outcomes.labels("expired").inc()

    async def follow_labels(self, publisher: Publisher, stopping: asyncio.Event) -> None:
        """Read every partition of labels, from the table's horizon ago, for good."""
        topic = self.topics.labels
        consumer = self.clients.consumer(group_id=None)
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, topic)
            consumer.assign(partitions)
            await self._seek_to_horizon(consumer, partitions)
            ends = await consumer.end_offsets(partitions)
            while not stopping.is_set():
                polled = await consumer.getmany(timeout_ms=200, max_records=5000)
                outputs = [o for batch in polled.values() for r in batch
                           for o in self.join_label(r)]
                await publisher.publish_until_acked(outputs, stopping)
                self._expire_labels()
                if ends and all([await consumer.position(tp) >= end
                                 for tp, end in ends.items()]):
                    ends = {}
                    self.health.done("labels")  # the table holds the history
        finally:
            await consumer.stop()

    @staticmethod
    async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        for _ in range(100):
            found = consumer.partitions_for_topic(topic)
            if found:
                return [TopicPartition(topic, p) for p in sorted(found)]
            await consumer.topics()  # refreshes metadata
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {topic!r} has no partitions")

    async def _seek_to_horizon(self, consumer: AIOKafkaConsumer,
                               partitions: list[TopicPartition]) -> None:
        """Labels written before the horizon cannot join a held event any more (their events
        have left every window) and were joined when they arrived: start after them."""
        since_ms = int((time.time() - self.labels.horizon_s) * 1000)
        try:
            found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        except KafkaError as exc:  # a broker without ListOffsets by time: read it all
            log.info("labels: no offsets by time (%r), reading from the beginning", exc)
            await consumer.seek_to_beginning(*partitions)
            return
        for tp in partitions:
            at = found.get(tp)
            if at is None:
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, at.offset)

    # -- writes shared by both stages ----------------------------------------------------
    async def _write(self, views: Sequence[ViewDeclaration], online: Online, offline: Offline,
                     records: Sequence[ConsumerRecord]) -> None:
        await self._write_online(views, online)
        offsets: dict[int, tuple[int, int]] = {}
        for record in records:
            low, high = offsets.get(record.partition, (record.offset, record.offset))
            offsets[record.partition] = (min(low, record.offset), max(high, record.offset))
        # Until written, like the online store: the batch's events are already in the windows,
        # so a failure handed to the batch loop would be retried record by record, every one
        # a duplicate with nothing to write, and its rows (training data) lost without a trace
        # (a full disk did this). A file is named by its offsets: writing it again is a no-op.
        for (view, partition), rows in offline.items():
            first, last = offsets[partition]
            await self._until_written("offline write", functools.partial(
                asyncio.to_thread, self.offline[view].write, partition, first, last, rows))

    async def _write_online(self, views: Sequence[ViewDeclaration], online: Online) -> None:
        """Write until the store takes it: a store outage pauses consumption (and commits)
        instead of dropping features or dead-lettering good events."""
        async def write() -> None:
            for view in views:
                rows = online[view.name]
                if not rows:
                    continue
                if self.redis is not None:
                    await self.redis.write(view, rows)
                else:
                    await asyncio.to_thread(self._write_sqlite, view, rows)

        await self._until_written("online write", write)

    async def _until_written(self, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """Retry ``write`` with back-off until it succeeds (or the service stops)."""
        backoff = Backoff()
        while True:
            try:
                await write()
                return
            except Exception as exc:
                if self.stopping.is_set():
                    raise
                await backoff.wait(log, what, exc)

    def _write_sqlite(self, view: ViewDeclaration, rows: dict[str, tuple[datetime, Row]]
                      ) -> None:
        import pandas as pd

        frame = pd.DataFrame([{view.entity.join_key: e, "event_timestamp": t, **v}
                              for e, (t, v) in rows.items()])
        self.store.write_to_online_store(view.name, frame)

    # -- state rebuild -------------------------------------------------------------------
    async def _replay(self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition],
                      reset: Callable[[int], object], apply: Callable[[ConsumerRecord], object]
                      ) -> int:
        """Replay each newly owned partition from its start up to the group's committed
        offset, folding records into fresh windows without writing: the windows then continue
        exactly where the previous owner left them (no input lost or counted twice)."""
        targets: dict[TopicPartition, int] = {}
        for tp in partitions:
            reset(tp.partition)
            committed = await consumer.committed(tp)
            if committed:
                targets[tp] = committed
        if not targets:
            return 0
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
                                apply(record)
                            except DecodeError:
                                pass  # dead-lettered when it was first processed
                    if batch and batch[-1].offset + 1 >= pending.get(tp, 0):
                        pending.pop(tp, None)
        finally:
            await replay.stop()
        return len(targets)

    def _reset(self, partition: int) -> None:
        self.state.pop(partition, None)
        self._aggregators(partition)

    def _reset_rekeyed(self, partition: int) -> None:
        self.rekeyed_state.pop(partition, None)
        self._bucketed(partition)

    async def rebuild(self, partitions: Sequence[TopicPartition]) -> None:
        """The first stage's windows, then the labels they hold: a label read while no one
        owned its entity's partition is joined now (the second stage drops the duplicates)."""
        assert self.consumer is not None
        count = await self._replay(self.consumer, partitions, self._reset, self.apply)
        if self.rekeyed_views and self.publisher is not None:
            owned = [tp.partition for tp in partitions]
            outputs = [o for held in list(self.labels) for o in self._join(held, owned)]
            await self.publisher.publish_until_acked(outputs, self.stopping)
        log.info("rebuilt key-entity windows of %d partitions", count)

    async def rebuild_rekeyed(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.repartition_consumer is not None
        count = await self._replay(self.repartition_consumer, partitions,
                                   self._reset_rekeyed, self.apply_rekeyed)
        log.info("rebuilt re-keyed windows of %d partitions", count)

    def _listener(self, consumer: AIOKafkaConsumer, state: dict[int, Any],
                  rebuild: Callable[[Sequence[TopicPartition]], Awaitable[None]],
                  ready: str) -> ConsumerRebalanceListener:
        service = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                for tp in revoked:
                    state.pop(tp.partition, None)

            async def on_partitions_assigned(self, assigned: Any) -> None:
                # aiokafka keeps fetching while this runs: paused, the batch loop cannot fold
                # a new record into a window before the replay has rebuilt it.
                consumer.pause(*assigned)
                try:
                    await rebuild(list(assigned))
                finally:
                    consumer.resume(*assigned)
                service.health.done(ready)

        return Listener()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        assert self.consumer is not None
        return self._listener(self.consumer, self.state, self.rebuild, "state")

    # -- lifecycle -----------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        from driftloop.featurestore.feast_repo import apply_repo

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
        await producer.start()
        self.publisher = Publisher(producer)
        self.consumer = self.clients.consumer(group_id=self.settings.features_group)
        self.consumer.subscribe([self.topics.valid], listener=self.rebalance_listener())
        loops = [BatchLoop(self.consumer, self.publisher, self.handle, self.dead_letters,
                           max_records=self.settings.features_max_batch,
                           metrics=self.metrics,
                           hops=HopSpans(trace.get_tracer(SERVICE), "features.apply"))]
        tasks = []
        if self.rekeyed_views:
            self.repartition_consumer = self.clients.consumer(
                group_id=self.settings.repartition_group())
            self.repartition_consumer.subscribe(
                [self.repartition_topic],
                listener=self._listener(self.repartition_consumer, self.rekeyed_state,
                                        self.rebuild_rekeyed, "repartition state"))
            loops.append(BatchLoop(self.repartition_consumer, self.publisher,
                                   self.handle_rekeyed, self.dead_letters,
                                   max_records=self.settings.features_max_batch))
            tasks.append(asyncio.create_task(self.follow_labels(self.publisher, stopping)))
        for consumer in (self.consumer, self.repartition_consumer):
            if consumer is not None:
                await consumer.start()
        log.info("features ready: consuming %s", self.topics.valid)
        tasks += [asyncio.create_task(loop.run()) for loop in loops]
        await stopping.wait()
        for loop in loops:
            loop.stop()
        await asyncio.gather(*tasks)
        for consumer in (self.consumer, self.repartition_consumer):
            if consumer is not None:
                await consumer.stop()
        await producer.stop()
        if self.redis is not None:
            await self.redis.close()
        await http


def main() -> None:
    settings = FeaturesSettings.model_validate({})  # values from DRIFTLOOP_* variables
    serve_service(SERVICE, settings, lambda: Features(settings))
