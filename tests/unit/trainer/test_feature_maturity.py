"""Growing windowed aggregates are left out until the history covers their windows."""

from __future__ import annotations

from driftloop.featurestore.declarations import FeatureDeclarations
from services.trainer.feature_maturity import growing_windows, immature


def test_growing_windows_are_the_declared_counts_sums_distincts_and_maxes() -> None:
    windows = growing_windows(FeatureDeclarations.load())
    assert windows["amount_count_10m"] == 600 and windows["amount_max_24h"] == 86400
    assert windows["merchants_distinct_1h"] == 3600
    # means, rates and seconds-since-last do not grow with history
    assert "amount_mean_10m" not in windows and "seconds_since_last" not in windows
    assert "merchant_fraud_rate_7d" not in windows


def test_a_window_is_kept_once_the_history_before_the_first_row_covers_it() -> None:
    windows = {"count_10m": 600, "count_1h": 3600}
    names = ["amount", "count_10m", "count_1h"]
    start = 1_700_000_000_000
    out = immature(names, windows, history_start_ms=start, first_row_ms=start + 100_000)
    assert sorted(out) == ["count_10m", "count_1h"]
    assert out["count_10m"] == ("its 600 s window is longer than the 100 s of history "
                                "before the first training row")
    assert sorted(immature(names, windows, history_start_ms=start,
                           first_row_ms=start + 600_000)) == ["count_1h"]
    assert immature(names, windows, history_start_ms=start, first_row_ms=start + 3_600_000) == {}
