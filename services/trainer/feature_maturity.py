"""Which online features a training run may learn from: only those whose values at training
time look like the values the model will be served.

A count, sum, distinct count or max over a window grows with the history behind it until the
window is full. Trained on rows from the first hour of a stream, a model learns that an entity
with 30 events in 24 h is extraordinary; served a day later, every entity has that, and the
scores shift with the calendar, not with the risk (a card stream's served ROC AUC fell to
0.25-0.40 this way, and most data-drift alarms were these counts outgrowing their training
range). So a growing aggregate is left out of a run unless the history before the run's
first row already covers its window. Means, rates and seconds-since-last do not grow with
history and are always kept, as are the event's own inputs. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from driftloop.featurestore.declarations import FeatureDeclarations

#: Aggregations whose value grows with the history behind it until its window is full.
GROWING_AGGS = frozenset({"count", "sum", "distinct", "max"})


def growing_windows(declarations: FeatureDeclarations) -> dict[str, int]:
    """Feature name -> window in seconds, for every declared growing windowed aggregate."""
    return {f.name: f.window_s for view in declarations.views.values() for f in view.features
            if f.agg in GROWING_AGGS and f.window_s}


def immature(features: Iterable[str], windows: Mapping[str, int], *, history_start_ms: int,
             first_row_ms: int) -> dict[str, str]:
    """Feature -> why it is left out: those of ``features`` with a window longer than the
    history before the first training row."""
    covered_s = max(0, first_row_ms - history_start_ms) / 1000
    return {name: f"its {windows[name]} s window is longer than the {covered_s:.0f} s of "
                  f"history before the first training row"
            for name in features if name in windows and windows[name] > covered_s}
