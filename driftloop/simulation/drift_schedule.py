"""Scheduled drifts of the simulated world, by stream time (seconds since the stream started).

Two kinds, because a platform must tell them apart:
- covariate: the inputs move (in cards: people spend more, online), but what a positive
  looks like does not;
- concept: what decides the label changes (in cards: fraudsters change tactics; in loans:
  another Agrawal function), so the same inputs now mean something else and the old
  model's errors rise until it is retrained on labels from after the change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DriftKind(StrEnum):
    COVARIATE = "covariate"
    CONCEPT = "concept"


@dataclass(frozen=True, slots=True)
class Drift:
    kind: DriftKind
    start_s: float
    ramp_s: float = 0.0  # 0: abrupt; else the drift grows linearly to full strength

    def strength(self, offset_s: float) -> float:
        """0 before the drift, 1 once fully in effect."""
        if offset_s < self.start_s:
            return 0.0
        if self.ramp_s <= 0:
            return 1.0
        return min(1.0, (offset_s - self.start_s) / self.ramp_s)


@dataclass(frozen=True)
class DriftSchedule:
    drifts: tuple[Drift, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> DriftSchedule:
        """``"covariate@60,concept@100+10"``: kind@start_s[+ramp_s], comma separated."""
        drifts = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kind, _, when = part.partition("@")
            start, _, ramp = when.partition("+")
            try:
                drifts.append(Drift(DriftKind(kind), float(start), float(ramp or 0)))
            except ValueError as exc:
                raise ValueError(f"bad drift {part!r}: want kind@start[+ramp], "
                                 f"kind one of covariate, concept") from exc
        return cls(tuple(drifts))

    def strength(self, kind: DriftKind, offset_s: float) -> float:
        return max((d.strength(offset_s) for d in self.drifts if d.kind is kind), default=0.0)

    def onset(self, kind: DriftKind) -> float | None:
        starts = [d.start_s for d in self.drifts if d.kind is kind]
        return min(starts) if starts else None

    def describe(self) -> str:
        return ", ".join(f"{d.kind.value}@{d.start_s:g}s" + (f"+{d.ramp_s:g}s" if d.ramp_s else "")
                         for d in self.drifts) or "none"
