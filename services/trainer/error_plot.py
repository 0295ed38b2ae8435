"""The PNG of a run's error analysis (``error_analysis.analyse``): the confusion matrix at the
operating point, the reliability curve against the diagonal, and the error rate of every slice
value (the worst ones marked), so a reviewer sees at a glance where the model is wrong."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any


def render_png(analysis: Mapping[str, Any], title: str) -> bytes:
    # matplotlib's object API, not pyplot: no global figure state, so a worker thread may draw
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 5), dpi=100)
    cm_ax, cal_ax, slice_ax = fig.subplots(1, 3, width_ratios=(1, 1.2, 1.6))
    _confusion(cm_ax, analysis)
    _reliability(cal_ax, analysis)
    _slices(slice_ax, analysis)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = io.BytesIO()
    # no software tag or date in the file: the same analysis draws the same bytes
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _confusion(ax: Any, analysis: Mapping[str, Any]) -> None:
    matrix = analysis["confusion_matrix"]
    ax.imshow(matrix, cmap="Blues")
    names = (("true negative", "false positive"), ("false negative", "true positive"))
    top = max(max(row) for row in matrix) or 1
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{matrix[i][j]:,}\n{names[i][j]}", ha="center", va="center",
                    fontsize=9, color="white" if matrix[i][j] > top / 2 else "black")
    ax.set_xticks([0, 1], ["decided 0", "decided 1"])
    ax.set_yticks([0, 1], ["label 0", "label 1"])
    ax.set_title(f"confusion matrix at threshold {analysis['threshold']:.4g}\n"
                 f"({analysis['rows']:,} held-out rows)", fontsize=9)


def _reliability(ax: Any, analysis: Mapping[str, Any]) -> None:
    calibration = analysis["calibration"]
    points = [b for b in calibration["bins"] if b["count"]]
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="calibrated")
    ax.plot([b["mean_score"] for b in points], [b["positive_rate"] for b in points],
            marker="o", color="tab:blue", label="model")
    for b in points:
        ax.annotate(f"{b['count']}", (b["mean_score"], b["positive_rate"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=7)
    ece = calibration["expected_calibration_error"]
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean score in bin")
    ax.set_ylabel("positive rate in bin")
    ax.set_title("reliability curve (rows per bin)" + (
        f"\nexpected calibration error {ece:.4f}" if ece is not None else ""), fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def _slices(ax: Any, analysis: Mapping[str, Any]) -> None:
    worst = {(w["slice"], w["value"]) for w in analysis["worst_slices"]}
    bars = [(f"{name}={g['value']} ({g['rows']})", g["error_rate"] or 0.0,
             "tab:red" if (name, g["value"]) in worst
             else "tab:blue" if g["rows"] >= analysis["min_rows"] else "lightgray")
            for name, values in analysis["slices"].items() for g in values]
    if not bars:
        ax.text(0.5, 0.5, "no slices declared", ha="center", va="center")
        ax.set_axis_off()
        return
    positions = list(range(len(bars)))[::-1]  # the first declared on top
    ax.barh(positions, [rate for _, rate, _ in bars], color=[c for _, _, c in bars])
    ax.set_yticks(positions, [label for label, _, _ in bars], fontsize=7)
    overall = analysis["overall"]["error_rate"]
    if overall is not None:
        ax.axvline(overall, color="gray", linestyle="--", linewidth=1, label="all rows")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(f"error rate (red: the worst; gray: under {analysis['min_rows']} rows, "
                  "not ranked)")
    ax.set_title("error rate per slice value (rows)", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
