"""The final report: when the drift began, was detected, retraining was requested and a new
model promoted; the champion's quality before, during and after; the baselines beside it;
and whether the loop closed. Built from the ledger (the topics) and the simulator's truth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.demo.baselines import BaselineScore
from driftloop.demo.loop_ledger import LoopLedger
from driftloop.demo.roc_auc import roc_auc

#: post-promotion quality must come back within this much ROC AUC of pre-drift quality
RECOVERY_TOLERANCE = 0.02


@dataclass(frozen=True, slots=True)
class Truth:
    offset_s: float
    is_fraud: bool


def _auc_between(pairs: list[tuple[float, float, bool]], lo: float, hi: float) -> float | None:
    window = [(s, y) for t, s, y in pairs if lo <= t < hi]
    return roc_auc([s for s, _ in window], [int(y) for _, y in window])


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def build_report(ledger: LoopLedger, truth: Mapping[str, Truth], baselines: list[BaselineScore],
                 *, started_ms: int, duration_s: float, concept_onset_s: float | None,
                 covariate_onset_s: float | None, warmup_s: float, bin_s: float = 10.0,
                 sent: int = 0, bad_sent: int = 0) -> dict[str, Any]:
    onset_ms = started_ms + int((concept_onset_s or duration_s) * 1000)

    def rel(ms: int | None) -> float | None:
        return None if ms is None else round((ms - started_ms) / 1000, 2)

    detected = ledger.first("drift", onset_ms)
    requested = ledger.first("retrain", onset_ms)
    # the loop closes with a promotion that stays: one rolled back was not the fix
    first_promoted = ledger.first("promoted", requested["seen_ms"] if requested else onset_ms)
    promoted = ledger.first("kept", requested["seen_ms"] if requested else onset_ms)
    promoted_s = rel(promoted["seen_ms"]) if promoted else None
    onset_s = concept_onset_s if concept_onset_s is not None else duration_s
    champion = [(truth[p.event_id].offset_s, p.score, truth[p.event_id].is_fraud)
                for p in ledger.predictions.values() if p.event_id in truth]
    static = [(b.offset_s, b.static, b.is_fraud) for b in baselines]
    online = [(b.offset_s, b.online, b.is_fraud) for b in baselines]
    end = duration_s + 1e9
    before = _auc_between(champion, warmup_s, onset_s)
    during = _auc_between(champion, onset_s, promoted_s if promoted_s is not None else end)
    # a few seconds after promotion: the scorer needs a moment to swap
    after = _auc_between(champion, promoted_s + 5, end) if promoted_s is not None else None
    # The first retrained model may only be a partial fix (few post-change labels yet); the
    # loop has closed at the first promotion from which quality stays back near its level.
    recovered_s = None
    if before is not None and requested is not None:
        for r in ledger.lifecycle:
            at = rel(r["seen_ms"])
            if (r.get("action") == "PROMOTED" and r["seen_ms"] >= requested["seen_ms"]
                    and at is not None):
                rest = _auc_between(champion, at + 5, end)
                if rest is not None and rest >= before - RECOVERY_TOLERANCE:
                    recovered_s, after = at, rest
                    break
    closed = promoted is not None and recovered_s is not None
    timeline = []
    t = 0.0
    while t < duration_s:
        timeline.append({
            "t_s": t,
            "champion": _r(_auc_between(champion, t, t + bin_s)),
            "static": _r(_auc_between(static, t, t + bin_s)),
            "online": _r(_auc_between(online, t, t + bin_s)),
        })
        t += bin_s
    valid_ids = len(truth)
    return {
        "loop_closed": closed,
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
                         "cumulative": _r(_auc_between(champion, 0, end)),
                         "post_drift": _r(_auc_between(champion, onset_s, end))},
            "static_baseline": {"cumulative": _r(_auc_between(static, 0, end)),
                                "post_drift": _r(_auc_between(static, onset_s, end))},
            "online_baseline": {"cumulative": _r(_auc_between(online, 0, end)),
                                "post_drift": _r(_auc_between(online, onset_s, end))},
            "recovery_tolerance": RECOVERY_TOLERANCE,
        },
        "timeline": timeline,
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
        "  cumulative / post-drift ROC AUC:",
        f"    closed loop         {s(q['champion']['cumulative'])} / "
        f"{s(q['champion']['post_drift'])}",
        f"    static model        {s(q['static_baseline']['cumulative'])} / "
        f"{s(q['static_baseline']['post_drift'])}",
        f"    River online LR     {s(q['online_baseline']['cumulative'])} / "
        f"{s(q['online_baseline']['post_drift'])}",
        f"  loop closed: {'YES' if report['loop_closed'] else 'NO'}",
    ]
    return "\n".join(lines)
