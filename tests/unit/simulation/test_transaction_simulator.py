"""The simulator is pure and seeded: exact values, same seed same stream, drifts as scheduled."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from driftloop.contracts import RecordValidator, load_schemas
from driftloop.simulation import (
    FRAUD_PATTERNS,
    Drift,
    DriftKind,
    DriftSchedule,
    SimulatorConfig,
    TransactionSimulator,
)


def small(seed: int = 7, drifts: str = "") -> TransactionSimulator:
    return TransactionSimulator(SimulatorConfig(
        seed=seed, rate=200, n_cards=500, n_merchants=300, drifts=DriftSchedule.parse(drifts)))


def test_first_event_exact() -> None:
    first = small().next()
    assert first.event == {
        "event_id": "s7-000000000", "card_id": "c00437", "merchant_id": "m00037",
        "amount": 8.61, "currency": "USD", "merchant_category": "5812",
        "channel": "CONTACTLESS", "country": "US", "event_time": 0,
    }
    assert (first.positive, first.pattern) == (False, "legit")


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    a, b, c = small().take(3000), small().take(3000), small(seed=8).take(3000)
    assert [e.event for e in a] == [e.event for e in b]
    assert [e.positive for e in a] == [e.positive for e in b]
    assert [e.event for e in a] != [e.event for e in c]


def test_exact_fraud_counts_before_and_after_a_concept_drift() -> None:
    events = small(drifts="concept@10").take(4000)  # 10 s at 200/s = event 2000
    assert sum(e.positive for e in events[:2000]) == 18
    assert sum(e.positive for e in events[2000:]) == 16
    after = Counter(e.pattern for e in events[2000:])
    assert after == {"legit": 1606, "legit_travel": 378, "merchant_ring": 14, "burst": 2}
    # before the drift no fraudster uses tactic B and no honest cardholder travels
    assert not {e.pattern for e in events[:2000]} & {"merchant_ring", "legit_travel"}


def test_every_event_is_valid_for_the_schema() -> None:
    validator = RecordValidator(load_schemas()["driftloop.cards.CardTransaction"])
    now = int(time.time() * 1000)
    for sim_event in small(drifts="covariate@2,concept@4").take(2000):
        event = dict(sim_event.event, event_time=sim_event.event["event_time"] + now)
        validator.validate(event, now)
        assert sim_event.pattern in FRAUD_PATTERNS + ("legit", "legit_travel")
        assert sim_event.positive == (sim_event.pattern in FRAUD_PATTERNS)


def test_event_time_follows_the_rate() -> None:
    sim = TransactionSimulator(SimulatorConfig(seed=1, rate=50, start_ms=1_000, n_cards=50,
                                               n_merchants=40))
    events = sim.take(101)
    assert events[100].event["event_time"] == 1_000 + 2_000
    assert events[100].offset_s == 2.0


def test_covariate_drift_raises_amounts_not_fraud() -> None:
    plain = small(seed=3).take(6000)
    shifted = small(seed=3, drifts="covariate@0").take(6000)

    def mean_legit(events):  # type: ignore[no-untyped-def]
        amounts = [e.event["amount"] for e in events if e.pattern == "legit"]
        return sum(amounts) / len(amounts)

    assert mean_legit(shifted) > 1.4 * mean_legit(plain)
    assert not any(e.pattern == "merchant_ring" for e in shifted)


def test_drift_schedule_parse_and_strength() -> None:
    schedule = DriftSchedule.parse("covariate@60, concept@100+10")
    assert schedule.drifts == (Drift(DriftKind.COVARIATE, 60.0), Drift(DriftKind.CONCEPT, 100, 10))
    assert schedule.strength(DriftKind.CONCEPT, 99.9) == 0.0
    assert schedule.strength(DriftKind.CONCEPT, 105) == 0.5
    assert schedule.strength(DriftKind.CONCEPT, 200) == 1.0
    assert schedule.onset(DriftKind.CONCEPT) == 100
    assert schedule.describe() == "covariate@60s, concept@100s+10s"
    with pytest.raises(ValueError, match="bad drift"):
        DriftSchedule.parse("sideways@3")
