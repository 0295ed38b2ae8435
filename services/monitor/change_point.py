"""Where did the error rate change? The most likely single change point of a labelled error
series, for the window a retrained model should learn from.

ADWIN says *that* the error rate moved, and its cut is coarse: it drops whole buckets of old
values, so what it keeps can reach far back before the change (in the demo, half a minute of
a one-minute stream). Here the series is ordered by event time and split where a shift of the
mean explains it best: the classic CUSUM / binary-segmentation statistic
``n_before * n_after / n * (mean_after - mean_before)^2``, maximised over splits that leave
``min_segment`` values on each side and where the error went up. Pure and deterministic."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def error_change_point(event_times: Sequence[int], errors: Sequence[float],
                       min_segment: int = 30) -> int | None:
    """The event time (ms) at which the error rate most likely rose, or None when the series
    is too short or no split shows a rise."""
    n = len(errors)
    if n != len(event_times):
        raise ValueError(f"{len(event_times)} times for {n} errors")
    if n < 2 * min_segment:
        return None
    order = np.argsort(np.asarray(event_times, dtype=np.int64), kind="stable")
    times = np.asarray(event_times, dtype=np.int64)[order]
    x = np.asarray(errors, dtype=np.float64)[order]
    total = x.sum()
    k = np.arange(min_segment, n - min_segment + 1)  # values before the split
    before = np.cumsum(x)[k - 1]
    mean_before = before / k
    mean_after = (total - before) / (n - k)
    rise = mean_after - mean_before
    score = np.where(rise > 1e-9, k * (n - k) / n * rise * rise, -1.0)  # 1e-9: rounding
    best = int(np.argmax(score))
    if score[best] <= 0:
        return None
    return int(times[k[best]])
