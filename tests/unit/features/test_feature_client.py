"""Pure pieces of the feature store capability: declarations, Feast's Redis layout codec,
the circuit breaker. Importing services.featurestore must not import Feast."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from services.featurestore import CircuitBreaker, FeatureDeclarations
from services.featurestore import redis_layout as layout


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
    code = ("import sys, services.featurestore; "
            "print(any(m == 'feast' or m.startswith('feast.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
