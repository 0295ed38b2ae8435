"""The features service against a real broker, a real Redis and real Feast: online values
equal a brute-force recomputation of a random out-of-order stream across a restart, Feast
reads what we wrote, and training sets are point-in-time correct."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.featurestore import FeatureClient
from driftloop.featurestore.feast_repo import feature_store, training_set
from services.features.app import Features
from services.features.settings import FeaturesSettings
from tests.conftest import free_port
from tests.integration.kafka_helpers import produce
from tests.unit.features.test_window_aggregator import LATENESS, brute_force

SCHEMA = "driftloop.cards.CardTransaction"
CODEC = AvroCodec(load_schemas(), LocalSchemaRegistry(load_schemas()))


def events(seed: int, n: int, cards: int) -> list[dict]:
    rng = random.Random(seed)
    t = 1_700_000_000_000
    out = []
    for i in range(n):
        t += rng.choice([1_000, 40_000, 400_000])
        jitter = rng.choice([0, 0, -100_000, -299_000, -400_000])  # ms; 400 s is too late
        out.append({"event_id": f"e{i}", "card_id": f"c{rng.randrange(cards)}",
                    "merchant_id": f"m{rng.randrange(6)}", "amount": rng.randrange(0, 800) / 4,
                    "currency": "EUR", "merchant_category": "5411", "channel": "POS",
                    "country": rng.choice(["DE", "FR"]), "event_time": t + jitter})
    return out


def expected(log: list[dict]) -> dict[str, dict[str, float]]:
    by_card: dict[str, list] = {}
    for e in log:
        record = {k: e[k] for k in ("amount", "merchant_id", "country", "event_time")}
        by_card.setdefault(e["card_id"], []).append((e["event_id"], e["event_time"] / 1000,
                                                     record))
    return {card: brute_force(evts, LATENESS) for card, evts in by_card.items()}


async def start(settings: FeaturesSettings) -> tuple[Features, asyncio.Event, asyncio.Task]:
    service = Features(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(stopping))
    for _ in range(600):
        if service.health.ready:
            return service, stopping, task
        await asyncio.sleep(0.05)
    pytest.fail("features service did not become ready")


async def wait_online(client: FeatureClient, want: dict[str, dict[str, float]]) -> dict:
    cards = sorted(want)
    got: dict = {}
    for _ in range(300):
        lookup = await client.lookup(cards)
        got = dict(zip(cards, lookup.values, strict=True))
        if got == want:
            break
        await asyncio.sleep(0.05)
    return got


async def produce_events(bootstrap: str, topic: str, log: list[dict]) -> None:
    await produce(bootstrap, topic, [(e["card_id"].encode(), CODEC.encode(SCHEMA, e))
                                     for e in log])


async def test_online_matches_brute_force_across_restart(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    settings = FeaturesSettings.model_validate({
        "kafka_bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix, "redis_url": redis_url,
        "data_dir": tmp_path, "topic_partitions": 2, "features_port": free_port(),
        "features_group": f"{topic_prefix}features"})
    # the card view's features, looked up by card alone (fraud_v1 is the card-only service)
    store_settings = settings.store_settings().model_copy(update={"feature_service": "fraud_v1"})
    client = FeatureClient.from_settings(store_settings)
    log = events(seed=7, n=400, cards=9)
    first, second = log[:250], log[250:]

    service, stopping, task = await start(settings)
    await produce_events(kafka_bootstrap, service.topics.valid, first)
    assert await wait_online(client, expected(first)) == expected(first)
    stopping.set()
    await asyncio.wait_for(task, 30)

    # A new process: windows are rebuilt from Kafka and continue with no loss and no double.
    service, stopping, task = await start(settings.model_copy(
        update={"features_port": free_port()}))
    await produce_events(kafka_bootstrap, service.topics.valid, second)
    want = expected(log)
    assert await wait_online(client, want) == want
    late = sum(a.too_late for parts in service.state.values() for a in parts.values())
    stopping.set()
    await asyncio.wait_for(task, 30)
    assert late > 0

    # Feast itself reads the Redis rows we wrote (same layout: CLI and materialize agree).
    store = feature_store(store_settings)
    cards = sorted(want)
    feast_rows = store.get_online_features(
        features=store.get_feature_service("fraud_v1"),
        entity_rows=[{"card_id": c} for c in cards]).to_dict()
    for i, card in enumerate(cards):
        assert {k: feast_rows[k][i] for k in want[card]} == want[card]

    # Point in time: each label row gets the features as of its own event, never later.
    labelled = log[::37]
    entity_df = pd.DataFrame({
        "card_id": [e["card_id"] for e in labelled],
        "event_timestamp": [datetime.fromtimestamp(e["event_time"] / 1000, tz=UTC)
                            for e in labelled],
        "label": [i % 2 for i in range(len(labelled))]})
    frame = await asyncio.to_thread(training_set, store_settings, entity_df)
    assert len(frame) == len(labelled)
    for _, row in frame.iterrows():
        cut = row["event_timestamp"].timestamp() * 1000
        before = [e for e in log if e["card_id"] == row["card_id"] and e["event_time"] <= cut]
        # Never a value from after the label: counts cannot exceed the events up to then.
        assert row["amount_count_24h"] <= len(before)
    await client.close()


async def test_a_failed_offline_write_is_retried_until_written_not_lost(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (or any failed parquet write) pauses the batch and retries it: every
    event's row reaches the offline store (the training data), none is dropped as a
    'duplicate' of its own first attempt."""
    from services.features.offline_writer import OfflineWriter

    failures = {"left": 3}
    real_write = OfflineWriter.write

    def full_disk_first(self: OfflineWriter, *args: object) -> object:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError(28, "No space left on device")
        return real_write(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(OfflineWriter, "write", full_disk_first)
    settings = FeaturesSettings.model_validate({
        "kafka_bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix, "redis_url": redis_url,
        "data_dir": tmp_path, "topic_partitions": 2, "features_port": free_port(),
        "features_group": f"{topic_prefix}features"})
    log = events(seed=5, n=120, cards=6)
    service, stopping, task = await start(settings)
    await produce_events(kafka_bootstrap, service.topics.valid, log)
    folder = tmp_path / "offline" / "card_activity"
    rows = late = 0
    for _ in range(600):  # a condition: every event is on disk or was refused as too late
        late = sum(a.too_late for parts in service.state.values() for a in parts.values())
        rows = sum(pd.read_parquet(p).shape[0] for p in folder.glob("*.parquet"))
        if rows + late == len(log) and not failures["left"]:
            break
        await asyncio.sleep(0.05)
    stopping.set()
    await asyncio.wait_for(task, 30)
    assert failures["left"] == 0
    assert rows > 0 and rows + late == len(log)
