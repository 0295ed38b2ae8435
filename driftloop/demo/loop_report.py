"""The final report: when the drift began, was detected, retraining was requested and a new
model promoted; the champion's quality before, during and after; the scoreboard of the loop
against the baselines on the same events; whether the loop closed and whether it beat them.
Built from the ledger (the topics), the baselines and the simulator's truth."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.demo.baselines import RIVER_THRESHOLD, TITLES, BaselineRun
from driftloop.demo.loop_ledger import LoopLedger
from driftloop.demo.roc_auc import roc_auc
from driftloop.demo.scoreboard import FIGURES, ModelScores, build_scoreboard

#: post-promotion quality must come back within this much ROC AUC of pre-drift quality
RECOVERY_TOLERANCE = 0.02
#: the closed loop's name on the scoreboard
LOOP = "closed_loop"

#: ``driftloop demo``'s exit status: the loop closed and beat the baselines; the loop did not
#: close; it closed but the best baseline did better (accuracy or mean per-window ROC AUC)
EXIT_BEAT, EXIT_NOT_CLOSED, EXIT_CLOSED_BUT_LOST = 0, 1, 3


@dataclass(frozen=True, slots=True)
class Truth:
    offset_s: float
    label: bool


#: Seconds after a promotion before its quality counts: the scorer needs a moment to swap.
SWAP_S = 5.0


def auc_between(pairs: list[tuple[float, float, bool]], lo: float, hi: float) -> float | None:
    """ROC AUC of the (offset, score, label) pairs with lo <= offset < hi; None if one class."""
    window = [(s, y) for t, s, y in pairs if lo <= t < hi]
    return roc_auc([s for s, _ in window], [int(y) for _, y in window])


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def champion_pairs(ledger: LoopLedger, truth: Mapping[str, Truth]
                   ) -> list[tuple[float, float, bool]]:
    """(stream offset, champion score, label) of every event the champion scored."""
    return [(truth[p.event_id].offset_s, p.score, truth[p.event_id].label)
            for p in ledger.predictions.values() if p.event_id in truth]


def recovery(ledger: LoopLedger, champion: list[tuple[float, float, bool]], started_ms: int,
             requested: Mapping[str, Any] | None, before: float | None
             ) -> tuple[float | None, float | None]:
    """(when, ROC AUC from then on) of the first promotion after ``requested`` from which the
    champion's quality stays within RECOVERY_TOLERANCE of ``before``; (None, None) if none.
    The first retrained model may only be a partial fix (few post-change labels yet): the
    loop has closed at the first promotion from which quality stays back near its level."""
    if before is None or requested is None:
        return None, None
    for r in ledger.lifecycle:
        if r.get("action") == "PROMOTED" and r["seen_ms"] >= requested["seen_ms"]:
            at = round((r["seen_ms"] - started_ms) / 1000, 2)
            rest = auc_between(champion, at + SWAP_S, math.inf)
            if rest is not None and rest >= before - RECOVERY_TOLERANCE:
                return at, rest
    return None, None


def scoreboard_of(ledger: LoopLedger, truth: Mapping[str, Truth], baselines: BaselineRun, *,
                  duration_s: float, drift_onset_s: float | None,
                  window_s: float = 10.0) -> dict[str, Any]:
    """The scoreboard on the events every model scored: those the baselines chose (all, or a
    seeded share) that the champion scored too, each model at its own threshold."""
    offsets: list[float] = []
    labels: list[bool] = []
    loop_scores: list[float] = []
    loop_thresholds: list[float] = []
    others: dict[str, list[float]] = {name: [] for name in baselines.names}
    for b in baselines.scores:
        served = ledger.predictions.get(b.event_id)
        known = truth.get(b.event_id)
        if served is None or known is None:
            continue
        offsets.append(b.offset_s)
        labels.append(known.label)
        loop_scores.append(served.score)
        loop_thresholds.append(served.threshold)
        for name, score in b.scores.items():
            others[name].append(score)
    models = {LOOP: ModelScores(loop_scores, loop_thresholds),
              **{n: ModelScores.at(s, RIVER_THRESHOLD) for n, s in others.items()}}
    board = build_scoreboard(offsets, labels, models, loop=LOOP, duration_s=duration_s,
                             drift_onset_s=drift_onset_s, window_s=window_s)
    board["sampled_share"] = baselines.share
    board["sampled_events"] = len(baselines.scores)
    board["labels_learnt"] = baselines.learnt
    board["labels_unmatched"] = baselines.unmatched_labels
    board["cost_per_event"] = baselines.costs
    board["baselines_error"] = baselines.error
    return board


def exit_code(report: Mapping[str, Any]) -> int:
    if not report["loop_closed"]:
        return EXIT_NOT_CLOSED
    return EXIT_BEAT if report["beat_baselines"] else EXIT_CLOSED_BUT_LOST


def build_report(ledger: LoopLedger, truth: Mapping[str, Truth], baselines: BaselineRun,
                 *, started_ms: int, duration_s: float, concept_onset_s: float | None,
                 covariate_onset_s: float | None, warmup_s: float, bin_s: float = 10.0,
                 sent: int = 0, bad_sent: int = 0) -> dict[str, Any]:
    onset_ms = started_ms + int((concept_onset_s or duration_s) * 1000)

    def rel(ms: int | None) -> float | None:
        return None if ms is None else round((ms - started_ms) / 1000, 2)

    requested = ledger.first("retrain", onset_ms)
    # detected: the first concept-drift signal, or the first retrain request if that came
    # first (the monitor asks for retraining on the change it found; its signal record may
    # be seen later, or the signal that fired at the onset's edge may fall just before it)
    detected = min((r for r in (ledger.first("drift", onset_ms), requested) if r),
                   key=lambda r: r["seen_ms"], default=None)
    # the loop closes with a promotion that stays: one rolled back was not the fix
    first_promoted = ledger.first("promoted", requested["seen_ms"] if requested else onset_ms)
    promoted = ledger.first("kept", requested["seen_ms"] if requested else onset_ms)
    promoted_s = rel(promoted["seen_ms"]) if promoted else None
    onset_s = concept_onset_s if concept_onset_s is not None else duration_s
    champion = champion_pairs(ledger, truth)
    end = duration_s + 1e9
    before = auc_between(champion, warmup_s, onset_s)
    during = auc_between(champion, onset_s, promoted_s if promoted_s is not None else end)
    after = auc_between(champion, promoted_s + SWAP_S, end) if promoted_s is not None else None
    recovered_s, rest = recovery(ledger, champion, started_ms, requested, before)
    if recovered_s is not None:
        after = rest
    closed = promoted is not None and recovered_s is not None
    board = scoreboard_of(ledger, truth, baselines, duration_s=duration_s,
                          drift_onset_s=concept_onset_s, window_s=bin_s)
    valid_ids = len(truth)
    return {
        "loop_closed": closed,
        "beat_baselines": board["verdict"]["beat_baselines"],
        "events": {"sent": sent, "bad_sent": bad_sent, "valid": ledger.valid,
                   "deadletter": ledger.deadletter,
                   "deadletter_reasons": dict(ledger.deadletter_reasons),
                   "champion_predictions": len(ledger.predictions),
                   "duplicate_predictions": ledger.duplicate_predictions,
                   "events_scored_by_two_versions": ledger.events_scored_twice(),
                   "unscored_events": valid_ids - sum(1 for e in ledger.predictions
                                                      if e in truth),
                   "label_requests": ledger.label_requests, "labels": ledger.labels},
        "times_s": {
            "covariate_drift_began": covariate_onset_s,
            "concept_drift_began": concept_onset_s,
            "drift_detected": rel(detected["seen_ms"]) if detected else None,
            "retrain_requested": rel(requested["seen_ms"]) if requested else None,
            "first_promotion": rel(first_promoted["seen_ms"]) if first_promoted else None,
            "new_model_promoted": promoted_s,
            "loop_time": (round(promoted_s - onset_s, 2) if promoted_s is not None else None),
            "quality_recovered": recovered_s,
            "recovery_time": (round(recovered_s - onset_s, 2) if recovered_s is not None
                              else None),
        },
        "models": {"promoted_version": promoted.get("version") if promoted else None,
                   "champion_at_end": ledger.champion,
                   "lifecycle": [{"action": r.get("action"), "version": r.get("version"),
                                  "at_s": rel(r["seen_ms"]), "reason": r.get("reason")}
                                 for r in ledger.lifecycle],
                   "drift_signals": [{"detector": r.get("detector"), "kind": r.get("kind"),
                                      "subject": r.get("subject"), "at_s": rel(r["seen_ms"])}
                                     for r in ledger.drift_signals],
                   "retrain_requests": [{"request_id": r.get("request_id"),
                                         "reason": r.get("reason"), "at_s": rel(r["seen_ms"])}
                                        for r in ledger.retrain_requests]},
        "quality_roc_auc": {
            "champion": {"before": _r(before), "during": _r(during), "after": _r(after),
                         "cumulative": _r(auc_between(champion, 0, end)),
                         "post_drift": _r(auc_between(champion, onset_s, end))},
            "recovery_tolerance": RECOVERY_TOLERANCE,
        },
        "scoreboard": board,
    }


def render_text(report: dict[str, Any]) -> str:
    t, q, e = report["times_s"], report["quality_roc_auc"], report["events"]

    def s(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = [
        "driftloop demo report",
        f"  events sent {e['sent']} (+{e['bad_sent']} broken), valid {e['valid']}, "
        f"dead-lettered {e['deadletter']} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(e['deadletter_reasons'].items())) or '-'})",
        f"  champion predictions {e['champion_predictions']}, labels {e['labels']}",
        f"  concept drift began   t={s(t['concept_drift_began'])}s "
        f"(covariate t={s(t['covariate_drift_began'])}s)",
        f"  drift detected        t={s(t['drift_detected'])}s",
        f"  retrain requested     t={s(t['retrain_requested'])}s",
        f"  new model promoted    t={s(t['new_model_promoted'])}s  "
        f"(loop time {s(t['loop_time'])}s)",
        f"  quality back          t={s(t['quality_recovered'])}s  "
        f"(recovery time {s(t['recovery_time'])}s)",
        f"  champion ROC AUC      before {s(q['champion']['before'])}  during "
        f"{s(q['champion']['during'])}  after {s(q['champion']['after'])}",
        f"  champion ROC AUC, all events: cumulative {s(q['champion']['cumulative'])}, "
        f"post-drift {s(q['champion']['post_drift'])}",
        *render_scoreboard(report["scoreboard"]),
        f"  loop closed: {'YES' if report['loop_closed'] else 'NO'}; beat the baselines: "
        f"{'YES' if report['beat_baselines'] else 'NO'} (exit {exit_code(report)})",
    ]
    return "\n".join(lines)


_TITLES = {LOOP: "closed loop", **TITLES}
_HEADS = {"accuracy": "acc", "roc_auc": "AUC", "mean_window_roc_auc": "wAUC"}


def _row(title: str, values: list[float | None]) -> str:
    cells = ["     -" if v is None else f"{v:6.3f}" for v in values]
    return (f"    {title:<32}{' '.join(cells[:len(FIGURES)])}  |  "
            f"{' '.join(cells[len(FIGURES):])}")


def render_scoreboard(board: Mapping[str, Any]) -> list[str]:
    """The table of every model x figure (cumulative | post-drift), each figure's ratio to
    the best baseline's, the verdict with its margins, and each learner's cost per event."""
    spans = [board["cumulative"], board["post_drift"] or {"figures": {}}]
    names = [board["loop"], *board["baselines"]]

    def figs(name: str, key: str | None = None) -> list[float | None]:
        out: list[float | None] = []
        for span in spans:
            f = span["figures"].get(name)
            out += [None if f is None else (f[key][x] if key else f[x]) for x in FIGURES]
        return out

    share = board.get("sampled_share", 1.0)
    heads = " ".join(f"{_HEADS[f]:>6}" for f in FIGURES)
    lines = [
        f"  scoreboard: the same {board['events']} events ({board['positives']} positive) for "
        f"every model{'' if share >= 1 else f', a seeded {share:.0%} of the stream'}; "
        f"wAUC = mean ROC AUC of {board['window_s']:g} s windows",
        f"    {'':<32}{'cumulative':^20}  |  post-drift (from t={board['drift_onset_s']}s)",
        f"    {'model':<32}{heads}  |  {heads}",
        *(_row(_TITLES.get(n, n), figs(n)) for n in names),
        _row("closed loop / best baseline", figs(board["loop"], "vs_best_baseline")),
    ]
    v = board["verdict"]
    lines.append(f"  the closed loop {'beat' if v['beat_baselines'] else 'lost to'} the best "
                 "baseline (cumulative):")
    for f, title in (("accuracy", "accuracy"), ("mean_window_roc_auc", "mean window AUC")):
        lines.append(f"    {title:<16} {v[f]['loop']} vs {v[f]['best']} "
                     f"({_TITLES.get(v[f]['best_baseline'] or '', '-')}): margin "
                     f"{v[f]['margin']}, ratio {v[f]['ratio']}"
                     f"{'' if v[f]['beat'] else '  <- lost'}")
    if board.get("baselines_error"):
        lines.append(f"  !! the baselines failed: {board['baselines_error']}")
    costs = board.get("cost_per_event", {})
    if costs:
        lines.append(f"  baseline cost per event if every event is scored "
                     f"({board['labels_learnt']} labels learnt; CPU time in their process):")
        lines += [f"    {_TITLES.get(n, n):<32}{c['us_per_event']} us (predict "
                  f"{c['predict_us']} us, learn {c['learn_us']} us a label; at most "
                  f"{c['max_events_per_s']} events/s on a core)" for n, c in costs.items()]
    return lines
