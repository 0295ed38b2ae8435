"""When to ask for a new model, and when to stand down (DESIGN.md, "Retraining policy").

A change detector fires once, at the change; afterwards the error rate is high but stable and
the detector is quiet. So one detection opens an *episode*: the policy remembers the error
rate from before the change (the reference) and the estimated change point, then asks the
trainer for a model on the labels since the change, and asks again, on a window that has
grown, every time the champion is still worse than the reference once the cooldown has
passed and enough new labels have arrived. The episode closes when the champion's live error
over ``recovery_labels`` labels is back within ``tolerance`` of the reference. Every step
returns a decision with its reason, so the topics tell the story.

Debouncing: a request needs ``min_new_labels`` labels since the change (and since the last
request) and ``cooldown_ms`` since the last request; further detections inside an episode
only add evidence. A detection is first a suspicion: it becomes an episode only when the
champion's error over the ``min_new_labels`` labels after it is worse than the reference by
``margin`` (ADWIN's own estimate right at the cut mixes in pre-change labels), so a detector's
rare false alarm on a stationary stream asks for nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.monitor.decisions import DriftFinding, RetrainDecision
from services.monitor.error_detector import ErrorShift
from services.monitor.live_quality import LiveQuality


@dataclass(frozen=True)
class RetrainConfig:
    cooldown_ms: int = 300_000
    min_new_labels: int = 200
    margin: float = 0.02
    tolerance: float = 0.02
    recovery_labels: int = 300


@dataclass
class Episode:
    """One degradation, from its detection to the champion's recovery."""

    opened_at_ms: int
    reference_error: float
    degraded_error: float
    change_label: int  # champion labels counted when the change happened (estimated)
    change_time_ms: int
    detected_version: str
    detected_label: int
    confirmed: bool = False
    requests: int = 0
    last_request_ms: int = -1
    last_request_label: int = -1


class RetrainPolicy:
    """The retraining loop of one model. Pure: time and labels come in as arguments."""

    def __init__(self, model_name: str, config: RetrainConfig) -> None:
        self.model_name = model_name
        self.config = config
        self.labels = 0  # champion labels seen (any version)
        self.episode: Episode | None = None
        self.episodes = 0
        self.dismissed = 0
        self.requests = 0

    def on_label(self) -> None:
        self.labels += 1

    def on_error_shift(self, version: str, shift: ErrorShift, now_ms: int,
                       change_time_ms: int, after_change: int | None = None
                       ) -> list[DriftFinding]:
        """The champion's ADWIN cut its error window upwards: a suspected episode, confirmed
        or dropped by ``tick``. ``after_change``: labels since ``change_time_ms`` (default:
        ADWIN's window after its cut). The signal itself is published by the caller."""
        if self.episode is not None or not shift.worse:
            return []
        self.episode = Episode(
            opened_at_ms=now_ms, reference_error=shift.before, degraded_error=shift.after,
            change_label=max(0, self.labels - (shift.after_n if after_change is None
                                               else after_change)),
            change_time_ms=change_time_ms,
            detected_version=version, detected_label=self.labels)
        return []

    def tick(self, now_ms: int, champion: str, quality: LiveQuality,
             labels_since_promotion: int) -> list[RetrainDecision | DriftFinding]:
        """Called after each batch with the champion's live quality and how many of its
        labels came after it became champion."""
        ep = self.episode
        if ep is None:
            return []
        cfg = self.config
        if not ep.confirmed:
            if self.labels - ep.detected_label < cfg.min_new_labels:
                return []
            error, _ = quality.error_rate(cfg.min_new_labels)
            if not error >= ep.reference_error + cfg.margin:
                self.episode = None  # not worse after all: a false alarm costs nothing
                self.dismissed += 1
                return []
            ep.confirmed = True
            ep.degraded_error = error
            self.episodes += 1
        post_change = self.labels - ep.change_label
        # Judge the champion only on labels that are both post-change and its own.
        live_n = min(labels_since_promotion, post_change, cfg.recovery_labels)
        live_error, live_n = quality.error_rate(live_n) if live_n > 0 else (float("nan"), 0)
        if live_n >= cfg.recovery_labels and live_error <= ep.reference_error + cfg.tolerance:
            self.episode = None
            return [DriftFinding(
                detector="retrain_policy", kind="QUALITY", subject="recovered",
                statistic=live_error, window_events=live_n, events_seen=self.labels,
                model_name=self.model_name, model_version=champion)]
        if post_change < cfg.min_new_labels:
            return []
        if ep.requests:
            if now_ms - ep.last_request_ms < cfg.cooldown_ms:
                return []
            if self.labels - ep.last_request_label < cfg.min_new_labels:
                return []
        ep.requests += 1
        ep.last_request_ms = now_ms
        ep.last_request_label = self.labels
        self.requests += 1
        if ep.requests == 1:
            why = (f"concept drift: {self.model_name} {ep.detected_version} error rate rose "
                   f"from {ep.reference_error:.3f} to {ep.degraded_error:.3f}; retrain on the "
                   f"{post_change} labels since the change")
        else:
            why = (f"still degraded: champion {champion} live error {live_error:.3f} over "
                   f"{live_n} labels vs {ep.reference_error:.3f} before the change; retrain "
                   f"on the grown window of {post_change} post-change labels "
                   f"(step {ep.requests})")
        evidence = {
            "step": str(ep.requests),
            "champion": champion,
            "reference_error": f"{ep.reference_error:.6f}",
            "degraded_error": f"{ep.degraded_error:.6f}",
            "live_error": f"{live_error:.6f}",
            "live_labels": str(live_n),
            "post_change_labels": str(post_change),
            "window_start_ms": str(ep.change_time_ms),
            "detected_version": ep.detected_version,
            "episode_opened_ms": str(ep.opened_at_ms),
        }
        return [RetrainDecision(self.model_name, why, ep.requests, evidence)]

    def to_state(self) -> dict[str, Any]:
        return {"labels": self.labels, "episodes": self.episodes, "requests": self.requests,
                "dismissed": self.dismissed,
                "episode": None if self.episode is None else asdict(self.episode)}

    @classmethod
    def from_state(cls, model_name: str, config: RetrainConfig,
                   state: dict[str, Any]) -> RetrainPolicy:
        policy = cls(model_name, config)
        policy.labels = int(state["labels"])
        policy.episodes = int(state["episodes"])
        policy.requests = int(state["requests"])
        policy.dismissed = int(state["dismissed"])
        if state["episode"] is not None:
            policy.episode = Episode(**state["episode"])
        return policy
