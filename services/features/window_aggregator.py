"""Sliding-window aggregates per entity, as of the entity's newest event. Pure: no Kafka,
no Redis, no clock; the features service feeds it events and writes what it computes.

Event time, not arrival time, decides which window an event falls in. An event may arrive
out of order by up to ``lateness_s`` behind its entity's newest event and still counts; a
later one is refused and counted (its windows may already have been served). Each entity
keeps only the events its longest window can still need, plus its two newest (for
``seconds_since_last``), and the ids it holds, so a redelivered event is not counted twice.
Fields named in ``carry`` are kept with each event too, for whoever joins to the held events
(the label join reads the re-keyed entities of a labelled event)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftloop.featurestore.declarations import FeatureSpec, ViewDeclaration

APPLIED, DUPLICATE, TOO_LATE = "applied", "duplicate", "too_late"


@dataclass
class EntityWindow:
    times: list[float] = field(default_factory=list)  # sorted event times (seconds)
    values: list[tuple[Any, ...]] = field(default_factory=list)  # fields, same order as times
    ids: list[str] = field(default_factory=list)

    @property
    def newest(self) -> float:
        return self.times[-1]


class WindowAggregator:
    """The windows of one feature view's entities (one instance per owned partition)."""

    def __init__(self, view: ViewDeclaration, lateness_s: float,
                 carry: Sequence[str] = ()) -> None:
        self.view = view
        self.lateness_s = lateness_s
        self.horizon_s = view.max_window_s
        self.carry = tuple(carry)
        self.fields = sorted({f.field for f in view.features} | set(self.carry))
        self._index = {name: i for i, name in enumerate(self.fields)}
        self._windows = sorted({f.window_s for f in view.features if f.window_s})
        self.entities: dict[str, EntityWindow] = {}
        self.too_late = 0
        self.duplicates = 0

    def add(self, entity_id: str, event_id: str, time_s: float,
            record: Mapping[str, Any]) -> str:
        window = self.entities.get(entity_id)
        if window is None:
            window = self.entities[entity_id] = EntityWindow()
        elif event_id in window.ids:
            self.duplicates += 1
            return DUPLICATE
        elif time_s < window.newest - self.lateness_s:
            self.too_late += 1
            return TOO_LATE
        at = bisect.bisect_right(window.times, time_s)
        window.times.insert(at, time_s)
        window.values.insert(at, tuple(record[f] for f in self.fields))
        window.ids.insert(at, event_id)
        self._evict(window)
        return APPLIED

    def _evict(self, window: EntityWindow) -> None:
        """Forget events no window can reach any more (the newest only moves forward)."""
        cutoff = window.newest - self.horizon_s
        drop = min(bisect.bisect_right(window.times, cutoff), len(window.times) - 2)
        if drop > 0:
            del window.times[:drop], window.values[:drop], window.ids[:drop]

    def carried(self, entity_id: str, event_id: str) -> dict[str, Any] | None:
        """The ``carry`` fields of a held event; None when the event is not (or no longer)
        in its entity's windows."""
        window = self.entities.get(entity_id)
        if window is None:
            return None
        try:
            at = window.ids.index(event_id)
        except ValueError:
            return None
        row = window.values[at]
        return {f: row[self._index[f]] for f in self.carry}

    def features(self, entity_id: str) -> dict[str, float]:
        """Every feature of the view for ``entity_id``, as of its newest event."""
        window = self.entities[entity_id]
        newest = window.newest
        starts = {w: bisect.bisect_right(window.times, newest - w) for w in self._windows}
        out: dict[str, float] = {}
        for spec in self.view.features:
            out[spec.name] = self._compute(spec, window, starts)
        return out

    def _compute(self, spec: FeatureSpec, window: EntityWindow, starts: dict[int, int]) -> float:
        if spec.agg == "seconds_since_last":
            if len(window.times) < 2:
                return spec.default
            return window.times[-1] - window.times[-2]
        assert spec.window_s is not None
        column = self._index[spec.field]
        values = [row[column] for row in window.values[starts[spec.window_s]:]]
        if spec.agg == "count":
            return float(len(values))
        if spec.agg == "distinct":
            return float(len(set(values)))
        if spec.agg == "sum":
            return float(sum(values))
        if spec.agg == "mean":
            return float(sum(values)) / len(values)
        if spec.agg == "max":
            return float(max(values))
        raise ValueError(f"unknown agg {spec.agg!r}")
