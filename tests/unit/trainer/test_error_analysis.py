"""The error analysis on eight hand-made held-out rows, every value exact (the scores are
multiples of 1/16, so every mean and gap is exact in binary)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from services.trainer.error_analysis import analyse, reliability, roc_auc, row_losses
from services.trainer.objective import Objective

Y = [0, 0, 1, 1, 0, 1, 0, 1]
P = [1 / 16, 9 / 16, 7 / 8, 7 / 16, 1 / 8, 15 / 16, 5 / 8, 1 / 4]
# at 0.5: flagged rows 1, 2, 5, 6; wrong: 1 and 6 (false positives), 3 and 7 (negatives)
CHANNEL = ["POS", "POS", "POS", "ATM", "POS", "POS", "ATM", "ATM"]
BAND = ["low"] * 4 + ["high"] * 4
COUNTRY = ["high"] + ["low"] * 7
SLICES = [{"channel": c, "band": b, "country": k} for c, b, k in zip(CHANNEL, BAND, COUNTRY,
                                                                      strict=True)]
GROUPS = {"channel": ("POS", "ONLINE", "ATM"), "band": ("low", "high"),
          "country": ("high", "low")}
IDS = [f"e{i}" for i in range(8)]


def test_roc_auc_is_mann_whitney_with_half_ties() -> None:
    assert roc_auc(Y, P) == 0.75
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.8]) == 0.875
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.8]) == roc_auc_score([0, 1, 0, 1],
                                                                        [0.5, 0.5, 0.2, 0.8])
    assert roc_auc([1, 1], [0.2, 0.3]) is None and roc_auc([0], [0.1]) is None
    rng = np.random.default_rng(3)
    y, p = rng.random(500) < 0.3, np.round(rng.random(500), 2)   # many ties
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_confusion_matrix_and_metrics_per_slice() -> None:
    a = analyse(Y, P, 0.5, slices=SLICES, groups=GROUPS, event_ids=IDS, min_rows=2)
    assert a["confusion_matrix"] == [[2, 2], [2, 2]]
    assert (a["rows"], a["positives"], a["threshold"]) == (8, 4, 0.5)
    assert a["overall"] == {"rows": 8, "positives": 4, "tp": 2, "fp": 2, "fn": 2, "tn": 2,
                            "error_rate": 0.5, "precision": 0.5, "recall": 0.5,
                            "roc_auc": 0.75, "mean_loss": 0.5}
    channel = {g["value"]: g for g in a["slices"]["channel"]}
    assert list(channel) == ["POS", "ATM"]            # declared order; ONLINE has no rows
    assert channel["POS"] == {"value": "POS", "rows": 5, "positives": 2, "tp": 2, "fp": 1,
                              "fn": 0, "tn": 2, "error_rate": 0.2, "precision": 2 / 3,
                              "recall": 1.0, "roc_auc": 1.0, "mean_loss": 0.2}
    assert channel["ATM"] == {"value": "ATM", "rows": 3, "positives": 2, "tp": 0, "fp": 1,
                              "fn": 2, "tn": 0, "error_rate": 1.0, "precision": 0.0,
                              "recall": 0.0, "roc_auc": 0.0, "mean_loss": 1.0}
    band = {g["value"]: (g["error_rate"], g["roc_auc"]) for g in a["slices"]["band"]}
    assert band == {"low": (0.5, 0.75), "high": (0.5, 0.75)}
    # one class only: no ROC AUC; nothing flagged: no precision; no positive: no recall
    high = a["slices"]["country"][0]
    assert (high["value"], high["rows"], high["error_rate"]) == ("high", 1, 0.0)
    assert high["roc_auc"] is None and high["precision"] is None and high["recall"] is None
    # the worst: highest error rate among values with >= 2 rows; ties: more rows, then the
    # declaration order (band before country, low before high)
    assert [(w["slice"], w["value"], w["error_rate"]) for w in a["worst_slices"]] == [
        ("channel", "ATM", 1.0), ("country", "low", 4 / 7), ("band", "low", 0.5)]
    assert a["loss"] == "errors" and a["objective"] == {"kind": "f1"}
    json.dumps(a, allow_nan=False)   # plain JSON, None where a value does not exist


def test_reliability_curve_and_calibration_error() -> None:
    cal = reliability(Y, P, bins=10)
    assert [b["count"] for b in cal["bins"]] == [1, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    assert [b["mean_score"] for b in cal["bins"]] == [
        1 / 16, 1 / 8, 1 / 4, None, 7 / 16, 9 / 16, 5 / 8, None, 7 / 8, 15 / 16]
    assert [b["positive_rate"] for b in cal["bins"]] == [0, 0, 1, None, 1, 0, 0, None, 1, 1]
    assert (cal["bins"][3]["low"], cal["bins"][3]["high"]) == (0.3, 0.4)
    assert cal["expected_calibration_error"] == 46 / 128
    # two rows in a bin: their mean score against their positive rate; 1.0 is in the last bin
    two = reliability([1, 0, 1], [0.25, 0.375, 1.0], bins=4)
    assert [(b["count"], b["mean_score"], b["positive_rate"]) for b in two["bins"]] == [
        (0, None, None), (2, 0.3125, 0.5), (0, None, None), (1, 1.0, 1.0)]
    assert two["expected_calibration_error"] == 2 * 0.1875 / 3
    assert reliability([], [])["expected_calibration_error"] is None


def test_costliest_errors_under_a_count_objective_surest_mistake_first() -> None:
    a = analyse(Y, P, 0.5, slices=SLICES, groups=GROUPS, event_ids=IDS)
    assert [(e["event_id"], e["error"], e["loss"]) for e in a["costliest_errors"]] == [
        ("e7", "false negative", 1.0), ("e6", "false positive", 1.0),
        ("e1", "false positive", 1.0), ("e3", "false negative", 1.0)]   # e1, e3: 9/16 off
    assert a["costliest_errors"][0] == {
        "event_id": "e7", "score": 0.25, "label": 1, "decision": 0, "error": "false negative",
        "loss": 1.0, "slices": {"channel": "ATM", "band": "high", "country": "low"}}
    assert [e["event_id"] for e in analyse(Y, P, 0.5, top=2)["costliest_errors"]] == ["7", "6"]


def test_a_cost_objective_weighs_errors_by_their_cost() -> None:
    cost = Objective("cost", false_positive=1.0, false_negative=10.0)
    assert row_losses(Y, np.array(P) >= 0.5, cost).tolist() == [0, 1, 0, 10, 0, 0, 1, 10]
    a = analyse(Y, P, 0.5, objective=cost, slices=SLICES, groups=GROUPS, event_ids=IDS,
                min_rows=2)
    assert [(e["event_id"], e["loss"]) for e in a["costliest_errors"]] == [
        ("e7", 10.0), ("e3", 10.0), ("e6", 1.0), ("e1", 1.0)]
    assert a["overall"]["mean_loss"] == 2.75 and a["loss"] == "cost"
    assert [(w["slice"], w["value"], w["mean_loss"]) for w in a["worst_slices"]] == [
        ("channel", "ATM", 7.0), ("country", "low", 22 / 7), ("band", "low", 2.75)]
    # a free false positive is no error to list
    free = Objective("cost", false_positive=0.0, false_negative=1.0)
    assert [e["event_id"] for e in analyse(Y, P, 0.5, objective=free, event_ids=IDS)[
        "costliest_errors"]] == ["e7", "e3"]


def test_without_slices_and_small_slices_are_not_ranked() -> None:
    a = analyse(Y, P, 0.5)
    assert a["slices"] == {} and a["worst_slices"] == []
    assert a["calibration"]["expected_calibration_error"] == 46 / 128
    # at the default 20 rows no value of eight rows is ranked
    assert analyse(Y, P, 0.5, slices=SLICES, groups=GROUPS)["worst_slices"] == []
    # labels a slice does not declare follow its declared ones, sorted
    extra = analyse(Y, P, 0.5, slices=SLICES, groups={"channel": ("ATM",)})
    assert [g["value"] for g in extra["slices"]["channel"]] == ["ATM", "POS"]
    assert list(extra["slices"]) == ["channel", "band", "country"]
    with pytest.raises(ValueError, match="one of each per row"):
        analyse(Y, P, 0.5, slices=SLICES[:3])
