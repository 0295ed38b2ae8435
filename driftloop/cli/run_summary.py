"""``driftloop runs --show RUN_ID`` for people: what a training run decided and where its model
is wrong (the confusion matrix at the operating point, the worst slices, the calibration
error, the costliest error), from the run record alone; ``--json`` prints the record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _rate(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def describe_run(run: Mapping[str, Any]) -> str:
    m = run.get("metrics", {})
    lines = [
        f"run {run['run_id']}: {run['model_name']} {run['version']} {run['status']} "
        f"({run.get('model', 'network')})",
        f"  {run.get('reason', '')}",
        f"  rows {run.get('rows', '-')}, data {run.get('data_digest', '-')[:12]}, "
        f"code {run.get('code_version', '-')[:12]}, {run.get('device', '-')}, "
        f"{run.get('duration_s', 0.0):.1f} s",
        f"  held out: ROC AUC {_rate(m.get('roc_auc'))}, PR AUC {_rate(m.get('pr_auc'))}, "
        f"objective {_rate(m.get('objective'))} at threshold {_rate(m.get('threshold'))}",
    ]
    analysis = run.get("error_analysis")
    if not analysis:
        return "\n".join([*lines, "  no error analysis (a run recorded before it existed)"])
    return "\n".join([*lines, *_analysis_lines(analysis)])


def _analysis_lines(a: Mapping[str, Any]) -> list[str]:
    (tn, fp), (fn, tp) = a["confusion_matrix"]
    w = max(12, *(len(f"{v:,}") + 2 for v in (tn, fp, fn, tp)))
    o = a["overall"]
    lines = [
        "",
        f"confusion matrix of the {a.get('model', 'served model')} at threshold "
        f"{a['threshold']:.4g} ({a['rows']:,} held-out rows, {a['positives']:,} positive):",
        f"  {'':9}{'decided 0':>{w}}{'decided 1':>{w}}",
        f"  {'label 0':9}{tn:>{w},}{fp:>{w},}",
        f"  {'label 1':9}{fn:>{w},}{tp:>{w},}",
        f"  error rate {_rate(o['error_rate'])}, precision {_rate(o['precision'])}, "
        f"recall {_rate(o['recall'])}",
        "",
    ]
    cost = a.get("loss") == "cost"
    worst = a.get("worst_slices", [])
    if worst:
        lines.append(f"worst slices (by {'cost per row' if cost else 'error rate'}, of values "
                     f"with at least {a['min_rows']} rows):")
    elif a["slices"]:
        lines.append(f"worst slices: none (no slice value has {a['min_rows']} rows)")
    else:
        lines.append("worst slices: none (the domain declares no slices)")
    for s in worst:
        name = f"{s['slice']}={s['value']}"
        per_row = f", cost/row {s['mean_loss']:.4g}" if cost else ""
        lines.append(f"  {name:28} error rate {_rate(s['error_rate'])}{per_row}, ROC AUC "
                     f"{_rate(s['roc_auc'])} ({s['rows']:,} rows, {s['positives']:,} positive)")
    cal = a["calibration"]
    lines.append(f"calibration error (expected, {len(cal['bins'])} score bins): "
                 f"{_rate(cal['expected_calibration_error'])}")
    errors = a.get("costliest_errors", [])
    if errors:
        e = errors[0]
        lines.append(f"costliest errors: {len(errors)} listed; first {e['event_id']} "
                     f"({e['error']}, score {e['score']:.4f}, loss {e['loss']:g})")
    artifacts = a.get("artifacts", {})
    if artifacts:
        lines.append(f"analysis: {artifacts.get('json')}")
        lines.append(f"plot:     {artifacts.get('png')}")
    return lines
