"""``driftloop runs --show`` text from run records: with an analysis (a cost objective, no
slice value big enough to rank), without slices, and from a record older than the analysis."""

from __future__ import annotations

from driftloop.cli.run_summary import describe_run
from services.trainer.error_analysis import analyse
from services.trainer.objective import Objective

RUN = {"run_id": "r1", "model_name": "fraud", "version": "v0007", "status": "REJECTED",
       "model": "baseline", "reason": "does not beat", "rows": 40, "data_digest": "ab" * 32,
       "code_version": "c0ffee" * 7, "device": "cpu", "duration_s": 1.25,
       "metrics": {"roc_auc": 0.75, "pr_auc": 0.5, "objective": -2.75, "threshold": 0.5}}
Y = [0, 0, 1, 1, 0, 1, 0, 1]
P = [1 / 16, 9 / 16, 7 / 8, 7 / 16, 1 / 8, 15 / 16, 5 / 8, 1 / 4]


def test_a_run_with_its_analysis() -> None:
    slices = [{"channel": c} for c in "AABBAABB"]
    a = analyse(Y, P, 0.5, objective=Objective("cost", false_negative=10.0), slices=slices,
                event_ids=[f"e{i}" for i in range(8)], min_rows=4)
    a["model"] = "baseline"
    text = describe_run({**RUN, "error_analysis": a}).splitlines()
    assert text[0] == "run r1: fraud v0007 REJECTED (baseline)"
    at = text.index("confusion matrix of the baseline at threshold 0.5 (8 held-out rows, "
                    "4 positive):")
    assert [line.split() for line in text[at + 1:at + 4]] == [
        ["decided", "0", "decided", "1"], ["label", "0", "2", "2"], ["label", "1", "2", "2"]]
    assert "worst slices (by cost per row, of values with at least 4 rows):" in text
    worst = text.index("worst slices (by cost per row, of values with at least 4 rows):")
    # B: rows 2, 3, 6, 7 (right, fn 10, fp 1, fn 10): 21/4 per row
    assert text[worst + 1].split()[:6] == ["channel=B", "error", "rate", "0.7500,",
                                           "cost/row", "5.25,"]
    assert text[worst + 2].split()[0] == "channel=A"
    assert "calibration error (expected, 10 score bins): 0.3594" in text
    assert "costliest errors: 4 listed; first e7 (false negative, score 0.2500, loss 10)" in text


def test_no_slices_and_an_old_record() -> None:
    a = analyse(Y, P, 0.5)
    assert "worst slices: none (the domain declares no slices)" in describe_run(
        {**RUN, "error_analysis": a})
    small = analyse(Y, P, 0.5, slices=[{"s": "x"}] * 8)
    assert "worst slices: none (no slice value has 20 rows)" in describe_run(
        {**RUN, "error_analysis": small})
    assert describe_run(RUN).splitlines()[-1] == (
        "  no error analysis (a run recorded before it existed)")
