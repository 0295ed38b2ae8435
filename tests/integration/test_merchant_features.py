"""Merchant features (a re-keyed, bucketed view) through the features service, against a real
broker, a real Redis and real Feast: events and labels of a seeded stream, through the card
stage, features.repartition and the merchant stage, equal a brute-force recomputation online,
across restarts (between phases and in the middle of one); Feast reads them through fraud_v2;
and training sets never see a label from after their row's time.

The stream comes in phases a few hours apart, each spanning ten minutes, and the test waits
for a phase to be folded before sending the next: within a phase, inputs of one merchant
reach the merchant stage from several card partitions in no fixed order, and a phase shorter
than the view's lateness makes every such order give the same result."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import redis.asyncio as aioredis

from driftloop.featurestore import FeatureDeclarations
from driftloop.featurestore import redis_layout as layout
from driftloop.featurestore.feast_repo import feature_store, training_set
from services.features.settings import FeaturesSettings
from tests.conftest import free_port
from tests.integration.kafka_helpers import produce
from tests.integration.test_features import CODEC, produce_events, start
from tests.unit.features.test_bucket_aggregator import brute_force

DECLARATIONS = FeatureDeclarations.load()
VIEW = DECLARATIONS.views["merchant_activity"]
CARD_LATENESS = DECLARATIONS.views["card_activity"].lateness_s
CARD_HORIZON = DECLARATIONS.views["card_activity"].max_window_s
LABEL = "driftloop.models.Label"


@dataclass
class World:
    """What the test sent, and the card stage's rules replayed on it (per card, in order)."""

    rng: random.Random
    events: dict[str, dict] = field(default_factory=dict)  # accepted by the card stage
    card_times: dict[str, list[float]] = field(default_factory=dict)
    card_seen: dict[str, set[str]] = field(default_factory=dict)
    pending: dict[str, dict] = field(default_factory=dict)  # labels waiting for their event
    labels: dict[str, dict] = field(default_factory=dict)  # first label of each event
    joined: dict[str, dict] = field(default_factory=dict)  # labels that reach a merchant
    sent_events: list[dict] = field(default_factory=list)

    def accept(self, event: dict) -> None:
        """The card stage's de-dup and lateness rules (see WindowAggregator)."""
        card, t = event["card_id"], event["event_time"] / 1000
        times, seen = self.card_times.setdefault(card, []), self.card_seen.setdefault(card, set())
        if event["event_id"] in seen or (times and t < max(times) - CARD_LATENESS):
            return
        seen.add(event["event_id"])
        times.append(t)
        self.events[event["event_id"]] = event
        label = self.pending.pop(event["event_id"], None)
        if label is not None:  # held, joined when its event is applied
            self.joined[event["event_id"]] = label

    def in_window(self, event_id: str) -> bool:
        event = self.events.get(event_id)
        if event is None:
            return False
        times = sorted(self.card_times[event["card_id"]])
        t = event["event_time"] / 1000
        return t > times[-1] - CARD_HORIZON or t >= times[max(0, len(times) - 2)]

    def label(self, event_id: str, card: str | None, labelled_at: int) -> dict:
        record = {"event_id": event_id, "label": int(self.rng.random() < 0.3),
                  "labelled_by": "analyst-1", "labelled_at": labelled_at, "entity_id": card}
        if event_id not in self.labels:  # the first label of an event wins
            self.labels[event_id] = record
            if card is not None and self.in_window(event_id):
                self.joined[event_id] = record
            elif card is not None and event_id not in self.events:
                self.pending[event_id] = record
        return record

    def expected(self) -> dict[str, dict[str, float]]:
        inputs: dict[str, list] = {}
        for e in self.events.values():
            inputs.setdefault(e["merchant_id"], []).append(
                ("events", e["event_id"], e["event_time"] / 1000, {"amount": e["amount"]}))
        for event_id, label in self.joined.items():
            inputs.setdefault(self.events[event_id]["merchant_id"], []).append(
                ("labels", event_id, label["labelled_at"] / 1000,
                 {"label": float(label["label"])}))
        return {m: brute_force(VIEW, sorted(found, key=lambda i: i[2]))
                for m, found in inputs.items()}


def phase_events(world: World, phase: int, base_ms: int, n: int) -> list[dict]:
    rng = world.rng
    out = []
    for i in range(n):
        out.append({"event_id": f"p{phase}e{i}", "card_id": f"c{rng.randrange(8)}",
                    "merchant_id": f"m{rng.randrange(3)}", "amount": rng.randrange(0, 800) / 4,
                    "currency": "EUR", "merchant_category": "5411", "channel": "POS",
                    "country": "DE", "event_time": base_ms + rng.randrange(0, 600_000)})
        if rng.random() < 0.1:  # a redelivery
            out.append(dict(out[rng.randrange(len(out))]))
    return out


async def read_merchants(url: str, merchants: list[str]) -> dict[str, dict[str, float]]:
    """The merchant view's values in Redis, read in Feast's layout."""
    names = [f.name for f in VIEW.features]
    fields = [layout.feature_field(VIEW.name, n) for n in names]
    client = aioredis.Redis.from_url(url)
    try:
        out = {}
        for m in merchants:
            raw = await client.hmget(layout.entity_key(DECLARATIONS.project, "merchant_id", m),
                                     fields)
            out[m] = {n: v for n, r in zip(names, raw, strict=True)
                      if (v := layout.decode_number(r)) is not None}
        return out
    finally:
        await client.aclose()


async def wait_merchants(url: str, want: dict[str, dict[str, float]]) -> dict:
    got: dict = {}
    for _ in range(400):
        got = await read_merchants(url, sorted(want))
        if got == want:
            break
        await asyncio.sleep(0.05)
    return got


async def produce_labels(bootstrap: str, topic: str, labels: list[dict]) -> None:
    await produce(bootstrap, topic, [(lab["event_id"].encode(), CODEC.encode(LABEL, lab))
                                     for lab in labels])


async def test_merchant_features_match_brute_force_across_restarts(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    settings = FeaturesSettings.model_validate({
        "kafka_bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix, "redis_url": redis_url,
        "data_dir": tmp_path, "topic_partitions": 2, "features_port": free_port(),
        "features_group": f"{topic_prefix}features", "features_max_batch": 50})
    world = World(random.Random(11))
    service, stopping, task = await start(settings)
    labels_topic = service.topics.labels
    base = 1_700_000_000_000
    # Gaps that slide the 1h and 24h windows, and one past the card stage's 24h horizon.
    gaps_h = [0, 3, 20, 2, 30, 1]
    for phase, gap in enumerate(gaps_h):
        base += gap * 3_600_000
        batch = phase_events(world, phase, base, 40)
        # A few labels arrive before their events (held, joined when the event is applied).
        early = [world.label(e["event_id"], e["card_id"], e["event_time"] + 30_000)
                 for e in batch[:3]]
        await produce_labels(kafka_bootstrap, labels_topic, early)
        # the labels must be held (read, their events not seen yet) before the events come
        for _ in range(600):
            if all(service.labels.get(e["event_id"]) is not None for e in batch[:3]):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the early labels were never read")
        await produce_events(kafka_bootstrap, service.topics.valid, batch)
        for e in batch:
            world.accept(e)
        world.sent_events.extend(batch)
        if phase == 3:  # restart in the middle of folding a phase
            await asyncio.sleep(0.05)
            stopping.set()
            await asyncio.wait_for(task, 30)
            service, stopping, task = await start(settings.model_copy(
                update={"features_port": free_port()}))
        want = world.expected()
        assert await wait_merchants(redis_url, want) == want, f"phase {phase} events"

        # Labels at the end of the phase: this phase's and older events (some of them past
        # the card's horizon: never joined), one with no card, one relabelled (first wins).
        at = base + 600_000
        chosen = world.rng.sample(world.sent_events, 15)
        later = [world.label(e["event_id"], e["card_id"], at + i * 1000)
                 for i, e in enumerate(chosen)]
        later.append(world.label(batch[-1]["event_id"], None, at + 20_000))
        later.append(world.label(chosen[0]["event_id"], chosen[0]["card_id"], at + 21_000))
        await produce_labels(kafka_bootstrap, labels_topic, later)
        want = world.expected()
        assert await wait_merchants(redis_url, want) == want, f"phase {phase} labels"
        if phase == 1:  # restart between phases: state rebuilt from the two topics
            stopping.set()
            await asyncio.wait_for(task, 30)
            service, stopping, task = await start(settings.model_copy(
                update={"features_port": free_port()}))
    stopping.set()
    await asyncio.wait_for(task, 30)
    assert any(e["event_id"] not in world.joined for e in world.events.values())
    assert sum(1 for lab in world.joined.values() if lab["label"]) > 0
    want = world.expected()

    # Feast reads them, through the new feature service, next to the card's features.
    store_settings = settings.store_settings().model_copy(update={"feature_service": "fraud_v2"})
    store = feature_store(store_settings)
    merchants = sorted(want)
    rows = store.get_online_features(
        features=store.get_feature_service("fraud_v2"),
        entity_rows=[{"card_id": "c0", "merchant_id": m} for m in merchants]).to_dict()
    for i, m in enumerate(merchants):
        assert {k: rows[k][i] for k in want[m]} == want[m]

    # Point in time: a training row sees only labels given at or before its own time; rows
    # at events' times (labels come at the end of their phase) see none of their phase's.
    sample = world.rng.sample(sorted(world.events.values(), key=lambda e: e["event_id"]), 40)
    entity_df = pd.DataFrame({
        "card_id": [e["card_id"] for e in sample],
        "merchant_id": [e["merchant_id"] for e in sample],
        "event_timestamp": [datetime.fromtimestamp(e["event_time"] / 1000, tz=UTC)
                            for e in sample]})
    frame = await asyncio.to_thread(training_set, store_settings, entity_df)
    assert len(frame) == len(sample)
    seen_labels = 0
    for _, row in frame.iterrows():
        if math.isnan(row["merchant_txn_count_24h"]):
            continue  # the merchant's first row is later than this event (arrival order)
        cut = row["event_timestamp"].timestamp()
        known = [lab for eid, lab in world.joined.items()
                 if world.events[eid]["merchant_id"] == row["merchant_id"]
                 and lab["labelled_at"] / 1000 <= cut]
        events_before = [e for e in world.events.values() if e["merchant_id"] ==
                         row["merchant_id"] and e["event_time"] / 1000 <= cut]
        assert row["merchant_labels_count_7d"] <= len(known)
        assert row["merchant_fraud_sum_7d"] <= sum(lab["label"] for lab in known)
        assert row["merchant_txn_count_24h"] <= len(events_before)
        seen_labels += int(row["merchant_labels_count_7d"])
    assert seen_labels > 0  # the check above is not vacuous
