"""Pure pieces of the feature store capability: declarations, Feast's Redis layout codec,
the circuit breaker. Importing driftloop.featurestore must not import Feast."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

from driftloop.featurestore import CircuitBreaker, FeatureClient, FeatureDeclarations
from driftloop.featurestore import redis_layout as layout
from driftloop.featurestore.settings import FeatureStoreSettings


def test_declarations_expand_every_window() -> None:
    service = FeatureDeclarations.load().service("fraud_v1")
    names = [f.name for f in service.features]
    assert len(names) == 19
    assert names[0] == "amount_count_10m" and names[-1] == "seconds_since_last"
    assert {f.window_s for f in service.features} == {600, 3600, 86400, None}


def test_layout_round_trips() -> None:
    assert layout.decode_number(layout.encode_double(12.5)) == 12.5
    assert layout.decode_number(None) is None
    when = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert layout.decode_timestamp(layout.encode_timestamp(when)) == when
    key = layout.entity_key("driftloop", "card_id", "c1")
    assert key == (b"\x01\x00\x00\x00\x02\x00\x00\x00\x07\x00\x00\x00card_id"
                   b"\x02\x00\x00\x00\x02\x00\x00\x00c1driftloop")


def test_breaker_opens_and_probes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(2, 5.0, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow() and breaker.state == "open"
    now[0] = 5.0
    assert breaker.allow()  # one probe
    assert not breaker.allow()
    breaker.success()
    assert breaker.state == "closed"


def test_import_is_light() -> None:
    code = ("import sys, driftloop.featurestore; "
            "print(any(m == 'feast' or m.startswith('feast.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _SlowStore:
    """An online store whose reads take a fixed time, whatever their size."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def read(self, entity_rows: object) -> list[dict[str, float]]:
        await asyncio.sleep(self.seconds)
        return [{} for _ in entity_rows]  # type: ignore[attr-defined]

    async def close(self) -> None:
        return None


def test_the_deadline_grows_with_the_batch() -> None:
    """A 40 ms read misses a 10 ms deadline for one row, but not the deadline of 2,000 rows
    (10 ms + 0.1 ms a row): a backlog is looked up, not scored with defaults."""
    settings = FeatureStoreSettings(feature_deadline_ms=10, feature_deadline_per_row_ms=0.1)
    assert settings.deadline_s(2000) == 0.21
    client = FeatureClient(_SlowStore(0.04), FeatureDeclarations.load(), "fraud_v1",
                           settings.deadline_s(0), CircuitBreaker(5, 5.0),
                           settings.feature_deadline_per_row_ms / 1000)
    one = asyncio.run(client.lookup(["c1"]))
    assert one.degraded and client.breaker.state == "closed"
    many = asyncio.run(client.lookup([f"c{i}" for i in range(2000)]))
    assert not many.degraded and len(many.values) == 2000
