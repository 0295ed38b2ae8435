from __future__ import annotations

import pytest

from services.scorer.label_policy import LOW_CONFIDENCE, RANDOM_SAMPLE, LabelPolicy, confidence


def test_confidence_is_distance_from_threshold() -> None:
    assert confidence(0.5, 0.5) == 0.0
    assert confidence(1.0, 0.5) == 1.0
    assert confidence(0.0, 0.5) == 1.0
    assert confidence(0.75, 0.5) == 0.5
    assert confidence(0.1, 0.2) == pytest.approx(0.5)


def test_low_confidence_first_then_seeded_sample() -> None:
    policy = LabelPolicy(low_confidence=0.1, sample_rate=0.05, seed=7)
    assert policy.reason("e1", 0.05) == LOW_CONFIDENCE
    picked = [f"e{i}" for i in range(10_000) if policy.reason(f"e{i}", 0.9) == RANDOM_SAMPLE]
    again = [f"e{i}" for i in range(10_000) if policy.reason(f"e{i}", 0.9) == RANDOM_SAMPLE]
    assert picked == again  # deterministic: a re-scored event asks again, or never
    assert len(picked) == 490  # of 10,000 at rate 0.05, fixed by the seed
    other_seed = LabelPolicy(0.1, 0.05, seed=8)
    assert picked != [f"e{i}" for i in range(10_000)
                      if other_seed.reason(f"e{i}", 0.9) == RANDOM_SAMPLE]
    assert LabelPolicy(0.1, 0.0).reason("e1", 0.9) is None
