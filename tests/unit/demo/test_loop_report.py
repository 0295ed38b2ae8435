"""Report pieces without a broker: ROC AUC, the ledger, the report's times and verdicts (loop
closed; baselines beaten, and the exit status they give), the supervisor's environment and a
clean process-group stop."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftloop.demo import (
    BaselineRun,
    LoopLedger,
    ServiceProcess,
    Supervisor,
    SupervisorConfig,
    Truth,
    build_report,
    exit_code,
    plot_timeline,
    render_text,
    roc_auc,
)
from driftloop.demo.baselines import BaselineScore


def test_roc_auc_exact() -> None:
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert roc_auc([0.5, 0.5], [0, 1]) == 0.5
    assert roc_auc([0.1, 0.2], [1, 1]) is None


def _pred(event_id: str, version: str, score: float, shadow: bool = False,
          threshold: float = 0.5) -> dict:
    return {"event_id": event_id, "model_version": version, "score": score, "shadow": shadow,
            "scored_at": 0, "threshold": threshold}


def test_ledger_keeps_the_served_threshold() -> None:
    ledger = LoopLedger()
    ledger.add("predictions", _pred("a", "v1", 0.9, threshold=0.7), 1)
    ledger.add("predictions", {"event_id": "b", "model_version": "v0", "score": 0.1,
                               "scored_at": 0}, 2)  # a record from before the field
    assert (ledger.predictions["a"].threshold, ledger.predictions["b"].threshold) == (0.7, 0.5)


def _baselines(truth: dict[str, Truth], score: Callable[[Truth], float]) -> BaselineRun:
    """One baseline whose score of every event is given."""
    return BaselineRun(("river_lr",), [BaselineScore(e, t.offset_s, {"river_lr": score(t)})
                                       for e, t in truth.items()], 1.0, 0, 0, {})


def test_ledger_keeps_first_champion_prediction_and_counts_duplicates() -> None:
    ledger = LoopLedger()
    ledger.add("predictions", _pred("a", "v1", 0.9), 1)
    ledger.add("predictions", _pred("a", "v1", 0.9), 2)
    ledger.add("predictions", _pred("a", "v2", 0.1, shadow=True), 3)
    ledger.add("models.lifecycle", {"action": "PROMOTED", "version": "v2"}, 4)
    assert ledger.predictions["a"].score == 0.9
    assert (ledger.duplicate_predictions, ledger.shadow_predictions) == (1, 1)
    assert ledger.champion == "v2" and ledger.events_scored_twice() == 0


def test_report_times_and_verdict(tmp_path: Path) -> None:
    ledger = LoopLedger()
    truth = {}
    start = 1_000_000
    for i in range(400):
        offset = i * 0.25  # 100 s of stream
        fraud = i % 10 == 0
        truth[f"e{i}"] = Truth(offset, fraud)
        # good before 50 s, bad during, good again after the promotion at 70 s
        good = offset < 50 or offset >= 75
        score = (0.9 if fraud else 0.1) if good else (0.1 if fraud else 0.5)
        ledger.add("predictions", _pred(f"e{i}", "v2" if offset >= 70 else "v1", score), 0)
    ledger.add("drift.signals", {"detector": "page_hinkley", "kind": "DATA"}, start + 51_000)
    ledger.add("drift.signals", {"detector": "adwin", "kind": "CONCEPT"}, start + 55_000)
    ledger.add("retrain.requests", {"request_id": "r1"}, start + 56_000)
    # a first promotion that is rolled back does not close the loop
    ledger.add("models.lifecycle", {"action": "PROMOTED", "version": "v9"}, start + 60_000)
    ledger.add("models.lifecycle", {"action": "ROLLED_BACK", "version": "v1"}, start + 65_000)
    ledger.add("models.lifecycle", {"action": "PROMOTED", "version": "v2"}, start + 70_000)
    # a baseline that ranks perfectly but decides every event negative at 0.5
    flat = _baselines(truth, lambda t: 0.4 if t.label else 0.3)
    report = build_report(ledger, truth, flat, started_ms=start, duration_s=100,
                          concept_onset_s=50, covariate_onset_s=None, warmup_s=0)
    assert report["times_s"]["drift_detected"] == 55.0
    assert report["times_s"]["retrain_requested"] == 56.0
    assert report["times_s"]["first_promotion"] == 60.0
    assert report["times_s"]["quality_recovered"] == 70.0
    assert report["times_s"]["recovery_time"] == 20.0
    assert report["times_s"]["new_model_promoted"] == 70.0
    assert report["times_s"]["loop_time"] == 20.0
    assert report["quality_roc_auc"]["champion"]["before"] == 1.0
    assert report["quality_roc_auc"]["champion"]["during"] == 0.0
    assert report["quality_roc_auc"]["champion"]["after"] == 1.0
    assert report["loop_closed"] is True
    board = report["scoreboard"]
    assert (board["events"], board["positives"]) == (400, 40)
    loop = board["cumulative"]["figures"]["closed_loop"]
    # 300 events good (all right), 100 bad (all wrong: 0.5 reaches the threshold, 0.1 not);
    # windows: five at 1, two at 0, one half bad (90/144 pairs), two at 1
    assert (loop["accuracy"], loop["mean_window_roc_auc"]) == (0.75, 0.7625)
    assert board["cumulative"]["figures"]["river_lr"]["accuracy"] == 0.9
    assert board["verdict"]["accuracy"]["margin"] == -0.15
    assert report["beat_baselines"] is False and exit_code(report) == 3
    text = render_text(report)
    assert "lost to the best baseline" in text and "River online LR" in text
    plot_timeline(report, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 10_000
    # a retrain request seen before the concept signal's record is the detection
    ledger.add("retrain.requests", {"request_id": "r0"}, start + 53_000)
    earlier = build_report(ledger, truth, flat, started_ms=start, duration_s=100,
                           concept_onset_s=50, covariate_onset_s=None, warmup_s=0)
    assert earlier["times_s"]["drift_detected"] == earlier["times_s"]["retrain_requested"] \
        == 53.0


def test_exit_code_says_closed_and_beat_closed_but_lost_or_not_closed() -> None:
    assert exit_code({"loop_closed": True, "beat_baselines": True}) == 0
    assert exit_code({"loop_closed": True, "beat_baselines": False}) == 3
    assert exit_code({"loop_closed": False, "beat_baselines": True}) == 1


def test_supervisor_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITOR_RETRAIN_COOLDOWN_S", "99")  # the user's setting wins
    monkeypatch.setenv("DRIFTLOOP_KAFKA_BOOTSTRAP", "elsewhere:9092")  # where is ours to say
    sup = Supervisor(SupervisorConfig(
        tmp_path, bootstrap="h:1", topic_prefix="p.", services=["ingest"],
        extra_env={"DRIFTLOOP_MONITOR_RETRAIN_COOLDOWN_S": "20",
                   "DRIFTLOOP_TRAINER_MIN_NEW_LABELS": "300"}))
    env = sup.env_for("ingest")
    assert env["DRIFTLOOP_MONITOR_RETRAIN_COOLDOWN_S"] == "99"
    assert env["DRIFTLOOP_TRAINER_MIN_NEW_LABELS"] == "300"
    assert env["DRIFTLOOP_KAFKA_BOOTSTRAP"] == "h:1"
    assert env["DRIFTLOOP_TOPIC_PREFIX"] == "p."
    assert env["DRIFTLOOP_DATA_DIR"] == str(tmp_path / "data")
    assert env["DRIFTLOOP_TRACE_FILE"] == str(tmp_path / "traces" / "ingest.jsonl")
    assert env["DRIFTLOOP_SCORER_PORT"] == "8002"


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    # a child that ignores SIGTERM and has a grandchild: both must be gone after stop()
    code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            "print('up', flush=True); time.sleep(60)")
    proc = ServiceProcess("stubborn", [sys.executable, "-c", code], {}, tmp_path / "s.log")
    proc.start()
    deadline = time.monotonic() + 10
    while b"up" not in (tmp_path / "s.log").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.stop(grace_s=0.5) is not None
    assert not proc.alive
