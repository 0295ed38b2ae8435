"""The change point of an error series: exact on a clean step, close on a noisy one, and
None where the error never rose."""

from __future__ import annotations

import numpy as np
import pytest

from services.monitor.change_point import error_change_point


def test_a_clean_step_is_found_exactly_whatever_the_arrival_order() -> None:
    times = list(range(1000, 1200))
    errors = [0.0] * 120 + [1.0] * 80
    assert error_change_point(times, errors) == 1120
    # labels arrive out of event-time order: the same answer
    shuffled = np.random.default_rng(0).permutation(200)
    assert error_change_point([times[i] for i in shuffled],
                              [errors[i] for i in shuffled]) == 1120


def test_a_noisy_bernoulli_rise_is_located_within_a_few_percent() -> None:
    rng = np.random.default_rng(3)
    errors = np.concatenate([rng.random(3000) < 0.10, rng.random(1000) < 0.30]).astype(float)
    times = np.arange(4000) * 10
    found = error_change_point(times.tolist(), errors.tolist())
    assert found is not None and abs(found - 30_000) <= 1_000


def test_no_rise_no_point() -> None:
    assert error_change_point(list(range(200)), [1.0] * 100 + [0.0] * 100) is None
    assert error_change_point(list(range(200)), [0.2] * 200) is None
    assert error_change_point(list(range(40)), [0.0] * 20 + [1.0] * 20) is None  # too short
    with pytest.raises(ValueError):
        error_change_point([1, 2], [0.0])
