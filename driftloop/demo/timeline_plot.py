"""The PNG timeline: rolling ROC AUC of the champion and both baselines over stream time, with
the drift onset, its detection, the retrain request and the promotion marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_timeline(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: the demo runs in terminals and CI
    import matplotlib.pyplot as plt

    timeline = report["timeline"]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    for key, label, style in (("champion", "closed loop (champion)", "-"),
                              ("static", "static model", "--"),
                              ("online", "River online LR", ":")):
        xs = [p["t_s"] for p in timeline if p[key] is not None]
        ys = [p[key] for p in timeline if p[key] is not None]
        if xs:
            ax.plot(xs, ys, style, marker="o", markersize=3, label=label)
    marks = report["times_s"]
    for key, label, color in (("covariate_drift_began", "covariate drift", "tab:gray"),
                              ("concept_drift_began", "concept drift", "tab:red"),
                              ("drift_detected", "detected", "tab:orange"),
                              ("retrain_requested", "retrain requested", "tab:purple"),
                              ("new_model_promoted", "promoted", "tab:green")):
        if marks.get(key) is not None:
            ax.axvline(marks[key], color=color, linestyle="-.", linewidth=1, label=label)
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("ROC AUC per window")
    ax.set_ylim(0.4, 1.01)
    ax.set_title("driftloop: " + ("the loop closed" if report["loop_closed"]
                                  else "the loop did not close"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
