from __future__ import annotations

import json

import numpy as np
from river.drift import PageHinkley

from services.monitor.page_hinkley import VectorPageHinkley


def river_detections(data: np.ndarray) -> list[tuple[int, int]]:
    found = []
    for col in range(data.shape[1]):
        ph = PageHinkley()
        for i, v in enumerate(data[:, col]):
            ph.update(float(v))
            if ph.drift_detected:
                found.append((i, col))
    return sorted(found)


def stream() -> np.ndarray:
    rng = np.random.default_rng(7)
    data = rng.normal(0, 1, (6000, 5))
    data[2000:, 1] += 1.0
    data[3000:, 3] += 0.5
    data[1000:, 4] += 3
    return data


def test_same_detections_as_river_in_any_batching() -> None:
    data = stream()
    expected = river_detections(data)
    assert len(expected) == 27  # River's defaults on unit-variance noise: many alarms
    for size in (1, 777, 6000):
        ph = VectorPageHinkley(5)
        got = []
        for start in range(0, len(data), size):
            got += [(d.row + start, d.column) for d in ph.update(data[start:start + size])]
        assert sorted(got) == expected


def test_state_round_trip_continues_identically() -> None:
    data = stream()
    whole = VectorPageHinkley(5)
    expected = [(d.row, d.column) for d in whole.update(data)]
    first = VectorPageHinkley(5)
    got = [(d.row, d.column) for d in first.update(data[:3100])]
    restored = VectorPageHinkley.from_state(json.loads(json.dumps(first.to_state())))
    got += [(d.row + 3100, d.column) for d in restored.update(data[3100:])]
    assert got == expected
