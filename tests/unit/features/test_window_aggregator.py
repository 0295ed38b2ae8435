"""WindowAggregator against a brute-force recomputation, on seeded random out-of-order
streams (hypothesis), plus the exact edge cases: lateness, duplicates, eviction."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.featurestore import FeatureDeclarations
from services.features.window_aggregator import APPLIED, DUPLICATE, TOO_LATE, WindowAggregator

VIEW = FeatureDeclarations.load().views["card_activity"]
LATENESS = VIEW.lateness_s


def brute_force(events: list[tuple[str, float, dict]], lateness: float) -> dict[str, float]:
    """Features of one entity from the whole log: accept by the lateness rule, then
    recompute every window from scratch over the accepted events."""
    accepted: list[tuple[float, dict]] = []
    seen: set[str] = set()
    newest = float("-inf")
    for event_id, t, record in events:
        if event_id in seen or t < newest - lateness:
            continue
        seen.add(event_id)
        newest = max(newest, t)
        accepted.append((t, record))
    accepted.sort(key=lambda a: a[0])
    out: dict[str, float] = {}
    for spec in VIEW.features:
        if spec.agg == "seconds_since_last":
            out[spec.name] = (accepted[-1][0] - accepted[-2][0]) if len(accepted) > 1 \
                else spec.default
            continue
        inside = [r[spec.field] for t, r in accepted if t > newest - spec.window_s]
        out[spec.name] = {
            "count": lambda v: float(len(v)), "sum": lambda v: float(sum(v)),
            "mean": lambda v: float(sum(v)) / len(v), "max": lambda v: float(max(v)),
            "distinct": lambda v: float(len(set(v))),
        }[spec.agg](inside)
    return out


def stream(seed: int, n: int) -> list[tuple[str, float, dict]]:
    rng = random.Random(seed)
    t = 1_700_000_000.0
    events = []
    for i in range(n):
        t += rng.choice([1, 30, 200, 900, 4000, 30000])
        # Out of order: most within lateness, some far behind (must be refused).
        jitter = rng.choice([0, 0, 0, -60, -250, -299, -301, -5000])
        record = {"amount": rng.randrange(0, 4000) / 4, "merchant_id": f"m{rng.randrange(5)}",
                  "country": rng.choice(["DE", "FR", "US"]), "event_time": t + jitter}
        events.append((f"e{i}", t + jitter, record))
        if rng.random() < 0.05:  # redelivery of an earlier event
            events.append(events[rng.randrange(len(events))])
    return events


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 120))
def test_matches_brute_force_on_out_of_order_streams(seed: int, n: int) -> None:
    events = stream(seed, n)
    aggregator = WindowAggregator(VIEW, LATENESS)
    for event_id, t, record in events:
        aggregator.add("card", event_id, t, record)
    assert aggregator.features("card") == brute_force(events, LATENESS)


def test_outcomes_lateness_and_duplicates() -> None:
    aggregator = WindowAggregator(VIEW, 300)
    rec = {"amount": 10.0, "merchant_id": "m", "country": "DE", "event_time": 0}
    assert aggregator.add("c", "a", 1000.0, rec) == APPLIED
    assert aggregator.add("c", "b", 700.0, rec) == APPLIED  # exactly at the lateness bound
    assert aggregator.add("c", "x", 699.0, rec) == TOO_LATE
    assert aggregator.add("c", "a", 1000.0, rec) == DUPLICATE
    assert (aggregator.too_late, aggregator.duplicates) == (1, 1)
    features = aggregator.features("c")
    assert features["amount_count_10m"] == 2.0
    assert features["seconds_since_last"] == 300.0


def test_eviction_keeps_two_newest_for_seconds_since_last() -> None:
    aggregator = WindowAggregator(VIEW, 300)
    rec = {"amount": 1.0, "merchant_id": "m", "country": "DE", "event_time": 0}
    for i in range(5):
        aggregator.add("c", f"e{i}", i * 100_000.0, rec)
    assert len(aggregator.entities["c"].times) == 2
    features = aggregator.features("c")
    assert features["seconds_since_last"] == 100_000.0
    assert features["amount_count_24h"] == 1.0
