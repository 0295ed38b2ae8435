"""The domain's objective: parsing, the value of a confusion matrix, and the best cut, exact."""

from __future__ import annotations

import numpy as np
import pytest

from services.trainer.objective import Objective, ObjectiveError

SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1])
LABELS = np.array([1, 0, 1, 0, 0, 0, 0])


def test_parse_defaults_and_refusals() -> None:
    assert Objective.parse(None) == Objective("f1")
    assert Objective.parse({"kind": "accuracy", "doc": "why"}) == Objective("accuracy")
    cost = Objective.parse({"kind": "cost", "false_positive": 1, "false_negative": "10"})
    assert (cost.false_positive, cost.false_negative) == (1.0, 10.0)
    assert cost.to_dict() == {"kind": "cost", "false_positive": 1.0, "false_negative": 10.0}
    for bad in ({"kind": "auc"}, {"kind": "accuracy", "target": 0.5},
                {"kind": "cost", "false_positive": "x"},
                {"kind": "cost", "false_negative": -1}, {"kind": "precision_at", "target": 0}):
        with pytest.raises(ObjectiveError):
            Objective.parse(bad)


def test_each_kind_picks_its_own_cut() -> None:
    # accuracy: flag the top one (6/7 right); a tie with the top three goes to fewer alarms
    assert Objective("accuracy").threshold(SCORES, LABELS) == pytest.approx(0.85)
    assert Objective("accuracy").score(SCORES, LABELS, 0.85) == pytest.approx(6 / 7)
    # F1: the top three (2 tp, 1 fp, 0 fn): 0.8 beats the top one's 2/3
    assert Objective("f1").threshold(SCORES, LABELS) == pytest.approx(0.65)
    # a missed positive costing 10 false alarms: flag down to the second positive
    cost = Objective("cost", false_positive=1.0, false_negative=10.0)
    assert cost.threshold(SCORES, LABELS) == pytest.approx(0.65)
    assert cost.score(SCORES, LABELS, 0.65) == pytest.approx(-1 / 7)
    # the most recall at precision >= 0.6: the top three (precision 2/3, recall 1)
    assert Objective("precision_at", target=0.6).threshold(SCORES, LABELS) == pytest.approx(0.65)
    # unreachable precision 1.0 beyond the top one: flag the top one only
    assert Objective("precision_at", target=1.0).threshold(SCORES, LABELS) == pytest.approx(0.85)


def test_weights_count_as_repeated_rows_and_flag_nothing_is_a_cut() -> None:
    weights = np.array([1, 5, 1, 1, 1, 1, 1])  # the false alarm at 0.8 counts five times
    accuracy = Objective("accuracy")
    repeated = np.r_[SCORES, [0.8] * 4], np.r_[LABELS, [0] * 4]
    assert accuracy.threshold(SCORES, LABELS, weights) == accuracy.threshold(*repeated)
    negatives = np.zeros(len(SCORES))
    assert accuracy.threshold(SCORES, negatives) > SCORES.max()  # flag nothing
    assert Objective().threshold([], []) == 0.5
