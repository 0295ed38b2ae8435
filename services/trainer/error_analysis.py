"""Error analysis of one run's held-out rows: where the served model is wrong, and what it costs.

Held-out ROC AUC says how well a model ranks on average; it hides the groups of events the
model fails on (a channel, a band of amounts) and which errors are the expensive ones. For the
model a run registers, on the same held-out rows the gate judged, this computes:

- the **confusion matrix** at the operating point (``[[tn, fp], [fn, tp]]``, sklearn's layout)
  with the error rate, precision, recall and ROC AUC over all rows;
- the same **per slice value** (the domain's ``[slices]``, ``driftloop.contracts.slices``), with
  its rows and positives; precision is None where nothing was flagged, recall where there is no
  positive, ROC AUC where one class is missing. The **worst slices** are the values with the
  highest mean loss per row among those with at least ``min_rows`` rows (a handful of rows
  makes any error rate; ties: more rows first, then declaration order);
- **calibration**: a reliability curve (``bins`` equal-width score bins: their mean score,
  positive rate and count) and the expected calibration error (the mean over rows of
  ``|mean score - positive rate|`` of their bin). A score of 0.8 should be right 80% of the
  time; the gap is what a threshold moved by hand, or a cost computed from scores, gets wrong;
- the **costliest errors**: the ``top`` held-out rows by loss under the domain's objective
  (kind ``cost``: a false positive costs ``false_positive``, a false negative
  ``false_negative``; every other kind counts each error as 1), the most confidently wrong
  first among equal losses, with their slice labels.

The loss per row is also each slice's ``mean_loss`` (for kinds other than cost, its error
rate). Pure numpy; the result is plain JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from services.trainer.objective import Objective

Array = npt.NDArray[np.float64]


def roc_auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float | None:
    """Probability that a positive scores above a negative (ties count half): the
    Mann-Whitney statistic, from average ranks. None when a class is missing."""
    labels = np.asarray(y).astype(bool).reshape(-1)
    scores = np.asarray(p, np.float64).reshape(-1)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores), np.float64)
    ranks[order] = np.arange(1, len(scores) + 1, dtype=np.float64)
    sorted_scores = scores[order]
    # tied scores share the mean of their ranks
    starts = np.r_[0, np.nonzero(np.diff(sorted_scores))[0] + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        if end - start > 1:
            ranks[order[start:end]] = (start + 1 + end) / 2
    u = float(ranks[labels].sum()) - positives * (positives + 1) / 2
    return u / (positives * negatives)


def row_losses(y: npt.ArrayLike, decided: npt.ArrayLike, objective: Objective) -> Array:
    """What each row's decision cost: 0 when right; a false positive or negative costs its
    declared cost under a ``cost`` objective, 1 under any other."""
    labels = np.asarray(y).astype(bool).reshape(-1)
    flagged = np.asarray(decided).astype(bool).reshape(-1)
    fp_cost, fn_cost = ((objective.false_positive, objective.false_negative)
                        if objective.kind == "cost" else (1.0, 1.0))
    return np.where(flagged & ~labels, fp_cost, np.where(~flagged & labels, fn_cost, 0.0))


def group_metrics(y: npt.NDArray[np.bool_], p: Array, flagged: npt.NDArray[np.bool_],
                  loss: Array) -> dict[str, Any]:
    """Counts and rates of one group of rows (all of them, or one slice value)."""
    tp = int(np.sum(flagged & y))
    fp = int(np.sum(flagged & ~y))
    fn = int(np.sum(~flagged & y))
    tn = int(np.sum(~flagged & ~y))
    rows = len(y)
    return {
        "rows": rows,
        "positives": tp + fn,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "error_rate": (fp + fn) / rows if rows else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "roc_auc": roc_auc(y, p),
        "mean_loss": float(np.sum(loss)) / rows if rows else None,
    }


def reliability(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> dict[str, Any]:
    """The reliability curve over ``bins`` equal-width score bins ([i/bins, (i+1)/bins), the
    last one closed) and the expected calibration error. An empty bin has count 0 and None for
    its mean score and positive rate."""
    labels = np.asarray(y, np.float64).reshape(-1)
    scores = np.asarray(p, np.float64).reshape(-1)
    index = np.clip(np.floor(np.clip(scores, 0.0, 1.0) * bins).astype(int), 0, bins - 1)
    curve: list[dict[str, Any]] = []
    gap = 0.0
    for b in range(bins):
        member = index == b
        count = int(member.sum())
        point: dict[str, Any] = {"low": b / bins, "high": (b + 1) / bins, "count": count,
                                 "mean_score": None, "positive_rate": None}
        if count:
            mean_score = float(np.sum(scores[member])) / count
            positive_rate = float(np.sum(labels[member])) / count
            gap += count * abs(mean_score - positive_rate)
            point.update(mean_score=mean_score, positive_rate=positive_rate)
        curve.append(point)
    return {"bins": curve,
            "expected_calibration_error": gap / len(scores) if len(scores) else None}


def analyse(labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float, *,
            objective: Objective | None = None,
            slices: Sequence[Mapping[str, str]] | None = None,
            groups: Mapping[str, Sequence[str]] | None = None,
            event_ids: Sequence[str] | None = None,
            bins: int = 10, top: int = 10, worst: int = 3, min_rows: int = 20
            ) -> dict[str, Any]:
    """The analysis of deciding ``scores >= threshold`` against ``labels``.

    ``slices``: one mapping per row, slice name to the row's label (``Slices.of_inputs``);
    ``groups``: each slice's labels in reading order (``Slices.groups()``; labels it does not
    list follow, sorted); ``event_ids`` name the rows in the costliest errors (default: their
    index)."""
    objective = objective or Objective()
    y = np.asarray(labels).astype(bool).reshape(-1)
    p = np.asarray(scores, np.float64).reshape(-1)
    flagged = p >= threshold
    loss = row_losses(y, flagged, objective)
    rows = slices if slices is not None else [{} for _ in range(len(y))]
    ids = list(event_ids) if event_ids is not None else [str(i) for i in range(len(y))]
    if not len(rows) == len(ids) == len(y) == len(p):
        raise ValueError(f"{len(y)} labels, {len(p)} scores, {len(rows)} slice rows and "
                         f"{len(ids)} event ids: one of each per row is needed")
    overall = group_metrics(y, p, flagged, loss)
    per_slice = _per_slice(y, p, flagged, loss, rows, groups or {})
    return {
        "rows": overall["rows"],
        "positives": overall["positives"],
        "threshold": float(threshold),
        "objective": objective.to_dict(),
        "loss": "cost" if objective.kind == "cost" else "errors",
        "confusion_matrix": [[overall["tn"], overall["fp"]], [overall["fn"], overall["tp"]]],
        "overall": overall,
        "slices": per_slice,
        "min_rows": min_rows,
        "worst_slices": _worst(per_slice, worst, min_rows),
        "calibration": reliability(y, p, bins),
        "costliest_errors": _costliest(y, p, flagged, loss, rows, ids, top),
    }


def _per_slice(y: npt.NDArray[np.bool_], p: Array, flagged: npt.NDArray[np.bool_],
               loss: Array, rows: Sequence[Mapping[str, str]],
               groups: Mapping[str, Sequence[str]]) -> dict[str, list[dict[str, Any]]]:
    names = list(groups) + sorted({n for r in rows for n in r} - set(groups))
    out: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        column = np.array([r.get(name, "") for r in rows], dtype=object)
        seen = set(column.tolist())
        declared = list(groups.get(name, ()))
        values = [v for v in declared if v in seen] + sorted(seen - set(declared))
        out[name] = []
        for value in values:
            m = column == value
            out[name].append({"value": value, **group_metrics(y[m], p[m], flagged[m], loss[m])})
    return out


def _worst(per_slice: Mapping[str, list[dict[str, Any]]], n: int, min_rows: int
           ) -> list[dict[str, Any]]:
    candidates = [(name, i, g) for name, values in per_slice.items()
                  for i, g in enumerate(values) if g["rows"] >= min_rows]
    order = list(per_slice)
    candidates.sort(key=lambda c: (-c[2]["mean_loss"], -c[2]["rows"], order.index(c[0]), c[1]))
    return [{"slice": name, "value": g["value"], "rows": g["rows"],
             "positives": g["positives"], "error_rate": g["error_rate"],
             "mean_loss": g["mean_loss"], "roc_auc": g["roc_auc"]}
            for name, _, g in candidates[:n]]


def _costliest(y: npt.NDArray[np.bool_], p: Array, flagged: npt.NDArray[np.bool_],
               loss: Array, rows: Sequence[Mapping[str, str]], ids: Sequence[str], n: int
               ) -> list[dict[str, Any]]:
    # how far the score was from the truth: among equal losses the surest mistake first
    wrongness = np.abs(p - y.astype(np.float64))
    errors = [i for i in range(len(y)) if loss[i] > 0]
    errors.sort(key=lambda i: (-loss[i], -wrongness[i], ids[i]))
    return [{"event_id": ids[i], "score": float(p[i]), "label": int(y[i]),
             "decision": int(flagged[i]), "error": "false positive" if flagged[i]
             else "false negative", "loss": float(loss[i]), "slices": dict(rows[i])}
            for i in errors[:n]]
