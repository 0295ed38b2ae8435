"""The scoreboard's figures, exact, on small hand-made streams: accuracy at each model's own
threshold (a served threshold may change with the version), pooled and per-window ROC AUC,
the post-drift span, ratios to the best baseline and the verdict."""

from __future__ import annotations

import pytest

from driftloop.demo import ModelScores, build_scoreboard

OFFSETS = [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0]
LABELS = [False, True, False, True, False, True, False, True]
# the loop: perfect in the first window; retrained at t=10 with its threshold moved to 0.65
LOOP = ModelScores([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.6, 0.4], [0.5] * 4 + [0.65] * 4)
GOOD = ModelScores.at([0.3, 0.7, 0.2, 0.6, 0.5, 0.55, 0.1, 0.2], 0.5)
FLAT = ModelScores.at([0.2] * 8, 0.5)


def _board(loop: ModelScores = LOOP) -> dict:
    return build_scoreboard(OFFSETS, LABELS, {"loop": loop, "good": GOOD, "flat": FLAT},
                            loop="loop", duration_s=20.0, drift_onset_s=10.0, window_s=10.0)


def test_figures_per_model_cumulative_and_after_the_drift() -> None:
    board = _board()
    cum = board["cumulative"]["figures"]
    # loop: 4/4 right, then at 0.65: 0.6 is negative (right), 0.4 is a missed positive
    assert {k: cum["loop"][k] for k in ("accuracy", "roc_auc", "mean_window_roc_auc")} == {
        "accuracy": 0.875, "roc_auc": 0.9375, "mean_window_roc_auc": 0.875}
    # good: 0.5 reaches 0.5 (a false positive), 0.2 misses; pooled 13.5/16 (a tie at 0.2)
    assert {k: cum["good"][k] for k in ("accuracy", "roc_auc", "mean_window_roc_auc")} == {
        "accuracy": 0.75, "roc_auc": 0.8438, "mean_window_roc_auc": 0.875}
    assert (cum["flat"]["accuracy"], cum["flat"]["roc_auc"]) == (0.5, 0.5)
    assert cum["loop"]["events"] == 8 and cum["loop"]["windows_with_auc"] == 2
    post = board["post_drift"]["figures"]
    assert (post["loop"]["accuracy"], post["loop"]["roc_auc"],
            post["loop"]["mean_window_roc_auc"]) == (0.75, 0.75, 0.75)
    assert (post["good"]["accuracy"], post["good"]["roc_auc"]) == (0.5, 0.75)
    assert post["loop"]["events"] == 4


def test_windows_hold_every_model() -> None:
    windows = _board()["windows"]
    assert [(w["t_s"], w["events"], w["positives"]) for w in windows] == [(0.0, 4, 2),
                                                                          (10.0, 4, 2)]
    assert windows[1]["accuracy"] == {"loop": 0.75, "good": 0.5, "flat": 0.5}
    assert windows[1]["roc_auc"] == {"loop": 0.75, "good": 0.75, "flat": 0.5}


def test_ratios_to_the_best_baseline_and_the_verdict() -> None:
    board = _board()
    best = board["cumulative"]["best_baseline"]
    assert best["accuracy"] == {"model": "good", "value": 0.75}
    assert best["mean_window_roc_auc"] == {"model": "good", "value": 0.875}
    assert board["cumulative"]["figures"]["loop"]["vs_best_baseline"] == {
        "accuracy": 1.1667, "roc_auc": 1.1111, "mean_window_roc_auc": 1.0}
    verdict = board["verdict"]
    assert verdict["accuracy"] == {"loop": 0.875, "best_baseline": "good", "best": 0.75,
                                   "margin": 0.125, "ratio": 1.1667, "beat": True}
    # a tie is enough: "at least as good as the best baseline"
    assert verdict["mean_window_roc_auc"]["margin"] == 0.0
    assert verdict["beat_baselines"] is True


def test_a_loop_below_the_best_baseline_loses() -> None:
    verdict = _board(loop=FLAT)["verdict"]
    assert verdict["accuracy"]["margin"] == -0.25
    assert verdict["mean_window_roc_auc"] == {
        "loop": 0.5, "best_baseline": "good", "best": 0.875, "margin": -0.375,
        "ratio": 0.5714, "beat": False}
    assert verdict["beat_baselines"] is False


def test_pooled_auc_penalises_a_recalibration_the_window_mean_does_not() -> None:
    # ranks perfectly in each window, but its scores move up after a retrain
    shifted = ModelScores.at([0.1, 0.3, 0.5, 0.9], 0.5)
    board = build_scoreboard([0.0, 1.0, 10.0, 11.0], [False, True, False, True],
                             {"loop": shifted, "flat": ModelScores.at([0.2] * 4, 0.5)},
                             loop="loop", duration_s=20.0, drift_onset_s=None)
    loop = board["cumulative"]["figures"]["loop"]
    assert (loop["roc_auc"], loop["mean_window_roc_auc"]) == (0.75, 1.0)
    assert board["post_drift"] is None


def test_windows_with_one_class_have_no_auc_and_no_events_no_figures() -> None:
    board = build_scoreboard([0.0, 1.0, 12.0, 13.0], [False, False, False, True],
                             {"loop": ModelScores.at([0.1, 0.2, 0.3, 0.9], 0.5)},
                             loop="loop", duration_s=20.0, drift_onset_s=None)
    loop = board["cumulative"]["figures"]["loop"]
    assert board["windows"][0]["roc_auc"] == {"loop": None}
    assert (loop["mean_window_roc_auc"], loop["windows_with_auc"]) == (1.0, 1)
    empty = build_scoreboard([], [], {"loop": ModelScores([], [])}, loop="loop",
                             duration_s=20.0, drift_onset_s=5.0)
    assert empty["cumulative"]["figures"]["loop"]["accuracy"] is None
    assert empty["verdict"]["beat_baselines"] is False  # nothing measured is not a win


def test_misaligned_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        build_scoreboard([0.0], [True], {"loop": ModelScores.at([0.1, 0.2], 0.5)},
                         loop="loop", duration_s=1.0, drift_onset_s=None)
    with pytest.raises(ValueError, match="not among"):
        build_scoreboard([], [], {}, loop="loop", duration_s=1.0, drift_onset_s=None)
