"""The loans domain's stream: loan applications drawn from River's Agrawal generator (a public
synthetic benchmark with ten published classification functions), with applicants who apply
more than once, and the concept drift River's ConceptDriftStream plays: Agrawal function 0
(age alone decides) before the drift, function 2 (age and education level) after it.

Each new applicant is the next record of ``river.datasets.synth.Agrawal`` (its attributes:
salary, commission, age, education level, car, zip code, house value and years, loan); it files
1 to 4 applications 2 to 12 stream seconds apart, the later ones with a new loan amount and the
same person behind them. An application's label (1: repaid) is the Agrawal function in force
at its time applied to its attributes, so an applicant's earlier outcomes say how the current
concept treats them: the per-applicant label rate the domain declares as an online feature.
During a ramp (``concept@100+20``) each application follows the new function with the ramp's
strength, drawn from a generator seeded by the application, as ConceptDriftStream mixes its
two streams. A covariate drift makes loans larger (labels do not read the loan amount).

Pure and seeded: application i of seed s is the same on every machine, whatever the pace it
is played at; time is stream time (``index / rate`` seconds after ``start_ms``)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from river.datasets.synth import Agrawal

from driftloop.simulation.drift_schedule import DriftKind, DriftSchedule
from driftloop.simulation.simulated_event import SimulatedEvent

BEFORE, AFTER = 0, 2  # Agrawal classification functions around the concept drift
INTS = ("age", "elevel", "car", "zipcode", "hyears")


@dataclass(frozen=True)
class LoanStreamConfig:
    seed: int = 7
    rate: float = 200.0
    start_ms: int = 0
    drifts: DriftSchedule = DriftSchedule()
    max_applications: int = 4        # per applicant: 1..max
    gap_s: tuple[float, float] = (2.0, 12.0)  # between one applicant's applications


class LoanStream:
    def __init__(self, config: LoanStreamConfig) -> None:
        self.config = config
        self._agrawal = Agrawal(classification_function=BEFORE, seed=config.seed)
        self._functions = self._agrawal._classification_functions
        self._people: Iterator[tuple[dict[str, Any], int]] = iter(self._agrawal)
        self._rng = random.Random(f"loans:{config.seed}")
        self._index = 0
        self._applicants = 0
        self._seq = 0
        # later applications of applicants seen: (index, sequence, applicant id, attributes)
        self._pending: list[tuple[int, int, str, dict[str, Any]]] = []

    @property
    def rate(self) -> float:
        return self.config.rate

    @property
    def index(self) -> int:
        return self._index

    def take(self, n: int) -> list[SimulatedEvent]:
        return [self.next() for _ in range(n)]

    def next(self) -> SimulatedEvent:
        i = self._index
        self._index += 1
        offset_s = i / self.config.rate
        if self._pending and self._pending[0][0] <= i:
            _, _, applicant, person = heapq.heappop(self._pending)
            person = {**person, "loan": self._rng.random() * 500_000}
            return self._application(i, offset_s, applicant, person, "repeat")
        person, _ = next(self._people)
        self._applicants += 1
        applicant = f"a{self.config.seed}-{self._applicants:07d}"
        at = offset_s
        for _ in range(self._rng.randint(1, self.config.max_applications) - 1):
            at += self._rng.uniform(*self.config.gap_s)
            self._seq += 1
            heapq.heappush(self._pending, (max(i + 1, round(at * self.config.rate)),
                                           self._seq, applicant, person))
        return self._application(i, offset_s, applicant, person, "new")

    def _application(self, i: int, offset_s: float, applicant: str, person: dict[str, Any],
                     pattern: str) -> SimulatedEvent:
        drifts = self.config.drifts
        concept = drifts.strength(DriftKind.CONCEPT, offset_s)
        event_id = f"l{self.config.seed}-{i:09d}"
        after = concept >= 1.0 or (concept > 0 and random.Random(
            f"concept:{event_id}").random() < concept)
        label = self._functions[AFTER if after else BEFORE](**person)
        loan = person["loan"] * (1.0 + 0.5 * drifts.strength(DriftKind.COVARIATE, offset_s))
        event = {"event_id": event_id, "applicant_id": applicant,
                 **{k: (int(v) if k in INTS else round(float(v), 2))
                    for k, v in person.items() if k != "loan"},
                 "loan": round(min(loan, 1_000_000.0), 2),
                 "event_time": self.config.start_ms + round(offset_s * 1000)}
        return SimulatedEvent(i, offset_s, event, bool(label), pattern, applicant)


def loan_stream(seed: int, rate: float, start_ms: int, drifts: DriftSchedule) -> LoanStream:
    """The loans domain's generator (domains/loans/domain.toml ``[stream]``)."""
    return LoanStream(LoanStreamConfig(seed=seed, rate=rate, start_ms=start_ms, drifts=drifts))
