"""The scoreboard: every model judged on the same events, the same way. Each model's figures
per window and over the run (and from the concept drift on): accuracy at the model's own
threshold, ROC AUC pooled over the events, and the mean of the per-window ROC AUCs; then each
figure against the best baseline's, and the verdict (did the closed loop beat them?).

Why both AUCs: pooled ROC AUC ranks scores of different model versions against each other, so
a loop that recalibrates (a retrained model whose scores sit higher or lower) is penalised for
ranks no single model ever made; the mean per-window AUC judges each stretch of the stream on
its own. The verdict asks for accuracy and the mean per-window AUC. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftloop.demo.roc_auc import roc_auc

#: the figures every model gets, in the order the report shows them
FIGURES = ("accuracy", "roc_auc", "mean_window_roc_auc")
#: the figures the verdict compares: the loop must reach the best baseline on each
VERDICT_FIGURES = ("accuracy", "mean_window_roc_auc")


@dataclass(frozen=True, slots=True)
class ModelScores:
    """One model's scores on the scoreboard's events (in their order) and the threshold each
    was decided at: a served model's threshold can change with its version."""

    scores: Sequence[float]
    thresholds: Sequence[float]

    @classmethod
    def at(cls, scores: Sequence[float], threshold: float) -> ModelScores:
        return cls(scores, [threshold] * len(scores))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def accuracy(scores: Sequence[float], thresholds: Sequence[float],
             labels: Sequence[bool]) -> float | None:
    """Share of events decided right: positive when the score reaches the threshold (the
    scorer's rule). None on no events."""
    if not labels:
        return None
    right = sum((s >= t) == y for s, t, y in zip(scores, thresholds, labels, strict=True))
    return right / len(labels)


def _window_index(offsets_s: Sequence[float], lo: float, window_s: float) -> list[int]:
    return [math.floor((t - lo) / window_s) for t in offsets_s]


def _figures(idx: Sequence[int], labels: Sequence[bool], model: ModelScores,
             n_windows: int) -> tuple[dict[str, Any], list[tuple[float | None, float | None]]]:
    """A model's figures over the given events, and its (accuracy, ROC AUC) per window."""
    y = [int(v) for v in labels]
    per_window: list[tuple[float | None, float | None]] = []
    buckets: list[list[int]] = [[] for _ in range(n_windows)]
    for i, w in enumerate(idx):
        buckets[w].append(i)
    for members in buckets:
        s = [model.scores[i] for i in members]
        per_window.append((accuracy(s, [model.thresholds[i] for i in members],
                                    [labels[i] for i in members]),
                           roc_auc(s, [y[i] for i in members])))
    aucs = [auc for _, auc in per_window if auc is not None]
    # unrounded here: ratios are taken before rounding (``_rounded``)
    figures = {
        "accuracy": accuracy(model.scores, model.thresholds, labels),
        "roc_auc": roc_auc(model.scores, y),
        "mean_window_roc_auc": sum(aucs) / len(aucs) if aucs else None,
        "windows_with_auc": len(aucs),
        "events": len(labels),
    }
    return figures, per_window


def _span(offsets_s: Sequence[float], labels: Sequence[bool], models: Mapping[str, ModelScores],
          lo: float, hi: float, window_s: float) -> tuple[dict[str, dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """Every model's figures on the events in [lo, hi), windows anchored at ``lo``."""
    keep = [i for i, t in enumerate(offsets_s) if lo <= t < hi]
    sub_t = [offsets_s[i] for i in keep]
    sub_y = [labels[i] for i in keep]
    idx = _window_index(sub_t, lo, window_s)
    n_windows = max(idx) + 1 if idx else 0
    figures: dict[str, dict[str, Any]] = {}
    per_model: dict[str, list[tuple[float | None, float | None]]] = {}
    for name, m in models.items():
        sub = ModelScores([m.scores[i] for i in keep], [m.thresholds[i] for i in keep])
        figures[name], per_model[name] = _figures(idx, sub_y, sub, n_windows)
    counts = [0] * n_windows
    positives = [0] * n_windows
    for w, y in zip(idx, sub_y, strict=True):
        counts[w] += 1
        positives[w] += int(y)
    windows = [{"t_s": round(lo + w * window_s, 4), "events": counts[w],
                "positives": positives[w],
                "accuracy": {n: _r(per_model[n][w][0]) for n in models},
                "roc_auc": {n: _r(per_model[n][w][1]) for n in models}}
               for w in range(n_windows)]
    return figures, windows


def _best(figures: Mapping[str, Mapping[str, Any]], baselines: Sequence[str],
          figure: str) -> tuple[str | None, float | None]:
    scored = [(figures[b][figure], b) for b in baselines if figures[b][figure] is not None]
    if not scored:
        return None, None
    value, name = max(scored, key=lambda vb: vb[0])  # the first listed wins a tie
    return name, value


def _judged(figures: dict[str, dict[str, Any]], baselines: Sequence[str]) -> dict[str, Any]:
    """The best baseline per figure, each model's ratio to it, then everything rounded: ratios
    and verdicts are taken on the unrounded figures."""
    best = {figure: _best(figures, baselines, figure) for figure in FIGURES}
    for f in figures.values():
        f["vs_best_baseline"] = {
            fig: (_r(f[fig] / best[fig][1]) if f[fig] is not None and best[fig][1] else None)
            for fig in FIGURES}
    out = {"figures": figures,
           "best_baseline": {fig: {"model": name, "value": _r(value)}
                             for fig, (name, value) in best.items()}}
    return out


def _rounded(figures: dict[str, dict[str, Any]]) -> None:
    for f in figures.values():
        f.update({fig: _r(f[fig]) for fig in FIGURES})


def verdict(figures: Mapping[str, Mapping[str, Any]], loop: str,
            baselines: Sequence[str]) -> dict[str, Any]:
    """Did the loop reach the best baseline on cumulative accuracy and mean per-window ROC AUC?
    By how much on each: the margin (loop - best) and the ratio (loop / best). A figure the
    loop does not have (no events, or one class only) is not a win."""
    out: dict[str, Any] = {}
    for figure in VERDICT_FIGURES:
        name, best = _best(figures, baselines, figure)
        mine = figures[loop][figure]
        out[figure] = {"loop": _r(mine), "best_baseline": name, "best": _r(best),
                       "margin": (_r(mine - best) if mine is not None and best is not None
                                  else None),
                       "ratio": figures[loop]["vs_best_baseline"][figure],
                       "beat": mine is not None and (best is None or mine >= best)}
    out["beat_baselines"] = all(out[f]["beat"] for f in VERDICT_FIGURES)
    return out


def build_scoreboard(offsets_s: Sequence[float], labels: Sequence[bool],
                     models: Mapping[str, ModelScores], *, loop: str, duration_s: float,
                     drift_onset_s: float | None, window_s: float = 10.0) -> dict[str, Any]:
    """``models`` holds the loop (named ``loop``) and the baselines, each scored on the events
    whose stream offsets and true labels are given, in the same order."""
    if loop not in models:
        raise ValueError(f"the loop {loop!r} is not among the models {sorted(models)}")
    for name, m in models.items():
        if not len(m.scores) == len(m.thresholds) == len(labels) == len(offsets_s):
            raise ValueError(f"{name}: scores, thresholds, labels and offsets differ in length")
    baselines = [n for n in models if n != loop]
    end = max([duration_s, *offsets_s]) + window_s
    cumulative, windows = _span(offsets_s, labels, models, 0.0, end, window_s)
    board: dict[str, Any] = {
        "loop": loop, "baselines": baselines, "window_s": window_s,
        "events": len(labels), "positives": sum(int(y) for y in labels),
        "drift_onset_s": drift_onset_s,
        "cumulative": _judged(cumulative, baselines),
        "post_drift": None,
        "windows": windows,
        "verdict": verdict(cumulative, loop, baselines),
    }
    _rounded(cumulative)
    if drift_onset_s is not None:
        post, _ = _span(offsets_s, labels, models, drift_onset_s, end, window_s)
        board["post_drift"] = _judged(post, baselines)
        _rounded(post)
    return board
