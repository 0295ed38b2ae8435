"""Bucketed windows for hot entities (an entity with an event a second or more). Pure: no
Kafka, no Redis, no clock.

Per entity and per *series* (one input source at one bucket size) it keeps one row per time
bucket, ``[count, sum of field 1, sum of field 2, ...]``, and the running totals of every
declared window, so an input costs O(windows) and reading the features O(features), whatever
the entity's volume. A window of n buckets, as of the entity's newest input in bucket k, is
the sum of buckets k-n+1..k. When k moves forward the buckets that leave a window are
subtracted from its total (and dropped once no window reaches them); a window left empty is
reset to exact zeros, so sums do not carry rounding residue.

Time is the input's own time (event time for events, ``labelled_at`` for labels); an input
may arrive up to the view's lateness behind its entity's newest input and still count (into
its own bucket); a later one is refused and counted. A duplicate is a redelivery of the same
input (same id, same time), so ids are remembered exactly as long as a redelivery could
still be accepted, i.e. while ``time >= newest - lateness``: the de-dup set of a hot entity
is bounded by its lateness, not by its windows."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from driftloop.featurestore.declarations import FeatureSpec, ViewDeclaration

APPLIED, DUPLICATE, TOO_LATE = "applied", "duplicate", "too_late"


@dataclass(frozen=True)
class Series:
    """The aggregates of one source at one bucket size: what a bucket row holds."""

    source: str
    bucket_s: int
    fields: tuple[str, ...]  # summed fields; a row is [count, *sums]
    windows: tuple[int, ...]  # window lengths in buckets, ascending

    @property
    def span(self) -> int:
        return self.windows[-1]


@dataclass
class SeriesState:
    current: int  # bucket of the entity's newest input
    buckets: dict[int, list[float]] = field(default_factory=dict)
    totals: dict[int, list[float]] = field(default_factory=dict)  # window -> [count, *sums]


@dataclass
class BucketedEntity:
    newest: float
    series: list[SeriesState]
    seen: dict[tuple[str, str], float] = field(default_factory=dict)  # (source, id) -> time
    expiry: list[tuple[float, str, str]] = field(default_factory=list)  # heap over ``seen``


class BucketAggregator:
    """The bucketed windows of one feature view's entities (one instance per owned
    partition of the repartition topic)."""

    def __init__(self, view: ViewDeclaration) -> None:
        if view.bucket_s is None:
            raise ValueError(f"view {view.name!r} is not bucketed")
        self.view = view
        self.lateness_s = view.lateness_s
        keys = sorted({(f.source, f.bucket_s or view.bucket_s) for f in view.features})
        self.series: list[Series] = []
        for source, bucket_s in keys:
            specs = [f for f in view.features if (f.source, f.bucket_s) == (source, bucket_s)]
            self.series.append(Series(
                source, bucket_s, tuple(sorted({f.field for f in specs})),
                tuple(sorted({(f.window_s or 0) // bucket_s for f in specs}))))
        # Each feature, resolved once: (series index, window in buckets, column, spec).
        self._plan: list[tuple[int, int, int, FeatureSpec]] = []
        for spec in view.features:
            at = keys.index((spec.source, spec.bucket_s or view.bucket_s))
            series = self.series[at]
            self._plan.append((at, (spec.window_s or 0) // series.bucket_s,
                               1 + series.fields.index(spec.field), spec))
        self._by_source = {s: [i for i, x in enumerate(self.series) if x.source == s]
                           for s in {x.source for x in self.series}}
        self.entities: dict[str, BucketedEntity] = {}
        self.too_late = 0
        self.duplicates = 0

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(self._by_source)

    def newest(self, entity_id: str) -> float:
        return self.entities[entity_id].newest

    def add(self, entity_id: str, source: str, input_id: str, time_s: float,
            values: Mapping[str, float]) -> str:
        """Fold one input (an event or a label) into its entity's buckets."""
        entity = self.entities.get(entity_id)
        if entity is None:
            entity = self.entities[entity_id] = BucketedEntity(time_s, [
                SeriesState(math.floor(time_s / s.bucket_s)) for s in self.series])
        key = (source, input_id)
        if key in entity.seen:
            self.duplicates += 1
            return DUPLICATE
        if time_s < entity.newest - self.lateness_s:
            self.too_late += 1
            return TOO_LATE
        if time_s > entity.newest:
            entity.newest = time_s
            for series, state in zip(self.series, entity.series, strict=True):
                self._advance(series, state, math.floor(time_s / series.bucket_s))
        for at in self._by_source.get(source, ()):
            self._fold(self.series[at], entity.series[at], time_s, values)
        entity.seen[key] = time_s
        heapq.heappush(entity.expiry, (time_s, source, input_id))
        cutoff = entity.newest - self.lateness_s
        while entity.expiry[0][0] < cutoff:  # can no longer be accepted: forget the id
            _, old_source, old_id = heapq.heappop(entity.expiry)
            del entity.seen[(old_source, old_id)]
        return APPLIED

    @staticmethod
    def _fold(series: Series, state: SeriesState, time_s: float,
              values: Mapping[str, float]) -> None:
        bucket = math.floor(time_s / series.bucket_s)
        if bucket <= state.current - series.span:  # late, and outside every window
            return
        delta = [1.0, *(float(values[f]) for f in series.fields)]
        row = state.buckets.get(bucket)
        if row is None:
            state.buckets[bucket] = list(delta)
        else:
            for i, v in enumerate(delta):
                row[i] += v
        for n in series.windows:
            if bucket > state.current - n:
                total = state.totals.get(n)
                if total is None:
                    state.totals[n] = list(delta)
                else:
                    for i, v in enumerate(delta):
                        total[i] += v

    @staticmethod
    def _advance(series: Series, state: SeriesState, current: int) -> None:
        """The entity's newest bucket moves from ``state.current`` to ``current``: subtract
        the buckets that leave each window, forget those no window reaches."""
        previous = state.current
        if current == previous:
            return
        state.current = current
        step = current - previous
        for n in series.windows:
            total = state.totals.get(n)
            if total is None:
                continue
            if step >= n:  # the whole window moved on
                del state.totals[n]
                continue
            for bucket in range(previous - n + 1, current - n + 1):
                row = state.buckets.get(bucket)
                if row is not None:
                    for i, v in enumerate(row):
                        total[i] -= v
            if total[0] <= 0:  # empty: exact zeros, not rounding residue
                del state.totals[n]
        horizon = current - series.span
        if step < len(state.buckets):
            for bucket in range(previous - series.span + 1, horizon + 1):
                state.buckets.pop(bucket, None)
        else:
            for bucket in [b for b in state.buckets if b <= horizon]:
                del state.buckets[bucket]

    def features(self, entity_id: str) -> dict[str, float]:
        """Every feature of the view for ``entity_id``, as of its newest input."""
        entity = self.entities[entity_id]
        out: dict[str, float] = {}
        for at, n, column, spec in self._plan:
            total = entity.series[at].totals.get(n)
            count = total[0] if total is not None else 0.0
            value = total[column] if total is not None else 0.0
            if spec.agg == "count":
                out[spec.name] = count
            elif spec.agg == "sum":
                out[spec.name] = value
            elif spec.agg == "mean":
                out[spec.name] = value / count if count else spec.default
            elif spec.agg == "rate":
                out[spec.name] = (value + spec.prior * spec.prior_weight) / (
                    count + spec.prior_weight)
            else:
                raise ValueError(f"agg {spec.agg!r} is not bucketed")
        return out
