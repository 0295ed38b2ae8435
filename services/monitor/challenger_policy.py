"""Recommending a shadow challenger that beats the champion on the same labelled events.

Challengers score in shadow (``shadow=True`` predictions) and get labels for the same events
as the champion, so the comparison is paired: both error rates are over the last ``labels``
labelled events each has. One recommendation per challenger version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.monitor.decisions import DriftFinding
from services.monitor.live_quality import LiveQuality


@dataclass(frozen=True)
class ChallengerConfig:
    labels: int = 500
    margin: float = 0.02


class ChallengerPolicy:
    def __init__(self, model_name: str, config: ChallengerConfig) -> None:
        self.model_name = model_name
        self.config = config
        self.recommended: set[str] = set()

    def check(self, champion: str, champion_quality: LiveQuality,
              challengers: dict[str, LiveQuality]) -> list[DriftFinding]:
        out = []
        need = self.config.labels
        champ_error, champ_n = champion_quality.error_rate(need)
        if champ_n < need:
            return []
        for version, quality in sorted(challengers.items()):
            if version == champion or version in self.recommended:
                continue
            error, n = quality.error_rate(need)
            if n >= need and error < champ_error - self.config.margin:
                self.recommended.add(version)
                out.append(DriftFinding(
                    detector="challenger_policy", kind="QUALITY",
                    subject=f"challenger {version} beats champion {champion} "
                            f"({error:.3f} vs {champ_error:.3f} error): recommend promotion",
                    statistic=error, window_events=n, events_seen=quality.count,
                    model_name=self.model_name, model_version=version))
        return out

    def to_state(self) -> dict[str, Any]:
        return {"recommended": sorted(self.recommended)}

    @classmethod
    def from_state(cls, model_name: str, config: ChallengerConfig,
                   state: dict[str, Any]) -> ChallengerPolicy:
        policy = cls(model_name, config)
        policy.recommended = set(state["recommended"])
        return policy
