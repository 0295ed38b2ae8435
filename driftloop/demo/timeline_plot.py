"""The PNG timeline: per-window ROC AUC and accuracy of the closed loop and of every baseline on
the scoreboard's events, over stream time, with the drift onset, its detection, the retrain
request and the promotion marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftloop.demo.baselines import TITLES
from driftloop.demo.loop_report import LOOP

_MARKS = (("covariate_drift_began", "covariate drift", "tab:gray"),
          ("concept_drift_began", "concept drift", "tab:red"),
          ("drift_detected", "detected", "tab:orange"),
          ("retrain_requested", "retrain requested", "tab:purple"),
          ("new_model_promoted", "promoted", "tab:green"))
_STYLES = ("--", ":", "-.", (0, (3, 1, 1, 1, 1, 1)), (0, (5, 2)))
# the models' colours: none of the marks' (gray, red, orange, purple, green)
_COLORS = ("tab:blue", "tab:brown", "tab:cyan", "tab:olive", "tab:pink", "black")


def plot_timeline(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: the demo runs in terminals and CI
    import matplotlib.pyplot as plt

    board = report["scoreboard"]
    windows = board["windows"]
    fig, (auc_ax, acc_ax) = plt.subplots(2, 1, figsize=(10, 7), dpi=110, sharex=True,
                                         height_ratios=(3, 2))
    names = [board["loop"], *board["baselines"]]
    for i, name in enumerate(names):
        loop = name == LOOP
        style = "-" if loop else _STYLES[(i - 1) % len(_STYLES)]
        title = "closed loop (champion)" if loop else TITLES.get(name, name)
        for ax, figure in ((auc_ax, "roc_auc"), (acc_ax, "accuracy")):
            # each window's figure sits at its middle
            points = [(w["t_s"] + board["window_s"] / 2, w[figure][name]) for w in windows
                      if w[figure].get(name) is not None]
            if points:
                ax.plot([t for t, _ in points], [v for _, v in points], linestyle=style,
                        color=_COLORS[i % len(_COLORS)],
                        marker="o", markersize=3 if loop else 2,
                        linewidth=2.0 if loop else 1.2, label=title)
    marks = report["times_s"]
    for ax in (auc_ax, acc_ax):
        for key, label, color in _MARKS:
            if marks.get(key) is not None:
                ax.axvline(marks[key], color=color, linestyle="-.", linewidth=1,
                           label=label if ax is auc_ax else None)
        ax.grid(alpha=0.3)
    auc_ax.set_ylabel(f"ROC AUC per {board['window_s']:g} s")
    auc_ax.set_ylim(0.4, 1.01)
    acc_ax.set_ylabel("accuracy at threshold")
    acc_ax.set_xlabel("stream time (s)")
    verdict = ("the loop closed" if report["loop_closed"] else "the loop did not close") + (
        " and beat the baselines" if report["beat_baselines"] else
        ", the best baseline did better")
    share = board.get("sampled_share", 1.0)
    auc_ax.set_title(f"driftloop: {verdict} ({board['events']} events scored by every model"
                     + ("" if share >= 1 else f", a seeded {share:.0%} of the stream") + ")",
                     fontsize=10)
    auc_ax.legend(loc="lower left", fontsize=7, ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
