"""BucketAggregator against a brute-force recomputation from the whole input log, on seeded
random out-of-order streams of events and labels (hypothesis), plus the exact edge cases:
the bucket boundaries of a window, lateness, duplicates, the prior of an empty rate, and
the bound on remembered ids."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.featurestore import FeatureDeclarations, ViewDeclaration
from services.features.bucket_aggregator import (
    APPLIED,
    DUPLICATE,
    TOO_LATE,
    BucketAggregator,
)

VIEW = FeatureDeclarations.load().views["merchant_activity"]

#: One input: (source, id, time in seconds, values).
Input = tuple[str, str, float, dict[str, float]]


def brute_force(view: ViewDeclaration, inputs: list[Input]) -> dict[str, float]:
    """Features of one entity from its whole log: accept by the de-dup and lateness rules in
    arrival order, then recompute every window from scratch over the accepted inputs."""
    accepted: list[Input] = []
    seen: set[tuple[str, str]] = set()
    newest = -math.inf
    for source, input_id, t, values in inputs:
        if (source, input_id) in seen or t < newest - view.lateness_s:
            continue
        seen.add((source, input_id))
        newest = max(newest, t)
        accepted.append((source, input_id, t, values))
    out: dict[str, float] = {}
    for spec in view.features:
        bucket = spec.bucket_s or view.bucket_s
        assert bucket is not None and spec.window_s is not None
        first = math.floor(newest / bucket) - spec.window_s // bucket  # excluded
        inside = [v[spec.field] for source, _, t, v in accepted
                  if source == spec.source and math.floor(t / bucket) > first]
        count, total = float(len(inside)), float(sum(inside))
        if spec.agg == "count":
            out[spec.name] = count
        elif spec.agg == "sum":
            out[spec.name] = total
        elif spec.agg == "mean":
            out[spec.name] = total / count if inside else spec.default
        else:
            assert spec.agg == "rate"
            out[spec.name] = (total + spec.prior * spec.prior_weight) / (
                count + spec.prior_weight)
    return out


def stream(seed: int, n: int) -> list[Input]:
    """Events and labels of one merchant, out of order, with redeliveries."""
    rng = random.Random(seed)
    t = 1_700_000_000.0
    inputs: list[Input] = []
    for i in range(n):
        t += rng.choice([0.5, 1, 30, 59, 61, 900, 3600, 20_000, 90_000, 400_000])
        jitter = rng.choice([0, 0, 0, -60, -600, -899, -901, -5000])  # lateness is 900 s
        if rng.random() < 0.3:
            # An event is labelled once: its label's redeliveries carry the same time.
            inputs.append(("labels", f"e{i}", t + jitter,
                           {"label": float(rng.random() < 0.2)}))
        else:  # amounts in quarters: sums are exact in binary floating point
            inputs.append(("events", f"e{i}", t + jitter, {"amount": rng.randrange(4000) / 4}))
        if rng.random() < 0.08:  # a redelivery of an earlier input
            inputs.append(inputs[rng.randrange(len(inputs))])
    return inputs


@settings(max_examples=80, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 150))
def test_matches_brute_force_on_out_of_order_streams(seed: int, n: int) -> None:
    inputs = stream(seed, n)
    aggregator = BucketAggregator(VIEW)
    for i, (source, input_id, t, values) in enumerate(inputs):
        aggregator.add("m", source, input_id, t, values)
        if i % 7 == 0 or i == len(inputs) - 1:  # as of every newest, not only the last
            assert aggregator.features("m") == brute_force(VIEW, inputs[:i + 1])


def _event(amount: float) -> dict[str, float]:
    return {"amount": amount}


def test_window_covers_whole_buckets() -> None:
    """A 1h window of 1m buckets, as of 10:00:30, starts at 09:01:00 (60 buckets)."""
    aggregator = BucketAggregator(VIEW)
    base = 1_700_000_040.0 - 1_700_000_040.0 % 3600  # on the hour
    aggregator.add("m", "events", "a", base - 3600 + 59.0, _event(1.0))  # 09:00:59: out
    aggregator.add("m", "events", "b", base - 3540.0, _event(2.0))  # 09:01:00: in
    aggregator.add("m", "events", "c", base + 30.0, _event(4.0))  # 10:00:30
    features = aggregator.features("m")
    assert features["merchant_txn_count_1h"] == 2.0
    assert features["merchant_txn_count_24h"] == 3.0
    assert features["merchant_amount_sum_24h"] == 7.0
    assert features["merchant_amount_mean_24h"] == 7.0 / 3


def test_outcomes_lateness_and_duplicates() -> None:
    aggregator = BucketAggregator(VIEW)
    assert aggregator.add("m", "events", "a", 10_000.0, _event(1.0)) == APPLIED
    assert aggregator.add("m", "events", "b", 9_100.0, _event(1.0)) == APPLIED  # at the bound
    assert aggregator.add("m", "events", "x", 9_099.0, _event(1.0)) == TOO_LATE
    assert aggregator.add("m", "events", "a", 10_000.0, _event(1.0)) == DUPLICATE
    # A label of event "a" is another input than event "a".
    assert aggregator.add("m", "labels", "a", 10_000.0, {"label": 1.0}) == APPLIED
    assert aggregator.add("m", "labels", "a", 10_001.0, {"label": 0.0}) == DUPLICATE
    assert (aggregator.too_late, aggregator.duplicates) == (1, 2)
    assert aggregator.features("m")["merchant_txn_count_1h"] == 2.0


def test_rate_without_labels_is_the_prior() -> None:
    aggregator = BucketAggregator(VIEW)
    aggregator.add("m", "events", "a", 1_000_000.0, _event(5.0))
    features = aggregator.features("m")
    assert features["merchant_labels_count_7d"] == 0.0
    assert features["merchant_fraud_rate_7d"] == 0.05
    aggregator.add("m", "labels", "a", 1_000_010.0, {"label": 1.0})
    features = aggregator.features("m")
    assert features["merchant_fraud_sum_7d"] == 1.0
    assert features["merchant_fraud_rate_7d"] == (1.0 + 0.05 * 20) / (1 + 20)


def test_state_is_bounded_by_windows_and_lateness() -> None:
    """A merchant at an event a second for two days keeps at most a day of minute buckets,
    and only the ids of its last 900 seconds."""
    aggregator = BucketAggregator(VIEW)
    for i in range(2 * 86_400):
        aggregator.add("m", "events", f"e{i}", float(i), _event(1.0))
    entity = aggregator.entities["m"]
    events = entity.series[[s.source for s in aggregator.series].index("events")]
    assert len(events.buckets) == 1440
    assert len(entity.seen) == 901
    assert aggregator.features("m")["merchant_txn_count_24h"] == 86_400.0
    assert aggregator.features("m")["merchant_txn_count_1h"] == 3600.0
