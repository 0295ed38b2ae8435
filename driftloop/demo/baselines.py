"""Two baselines scored on the same stream as the champion, so the report can say what the
closed loop buys: a static model (learns from the labels of a warm-up period, then is never
retrained) and a River online learner (learns from every label as it arrives, forever).

Both see the same delayed, noisy labels as the trainer and simple per-card features computed
here from the events (amount against the card's habit, time since its previous payment, new
country, new merchant, channel)."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from river import compose, linear_model, optim, preprocessing

from driftloop.simulation import LabelDecision, SimulatedEvent

RISKY_MCC = frozenset({"5732", "5944", "6051", "4829", "5999"})


@dataclass
class _CardHabit:
    n: int = 0
    mean_log: float = 0.0
    last_ms: int = 0
    home: str = ""
    merchants: set[str] = field(default_factory=set)


class HabitFeatures:
    """Per-card running habits; ``features`` reads them, then updates them with the event."""

    def __init__(self) -> None:
        self._cards: dict[str, _CardHabit] = {}

    def features(self, event: dict[str, Any]) -> dict[str, float]:
        habit = self._cards.setdefault(str(event["card_id"]), _CardHabit())
        log_amount = math.log1p(float(event["amount"]))
        gap_s = (int(event["event_time"]) - habit.last_ms) / 1000 if habit.n else 86_400.0
        x = {
            "log_amount": log_amount,
            "vs_habit": log_amount - habit.mean_log if habit.n else 0.0,
            "log_gap": math.log1p(max(gap_s, 0.0)),
            "new_country": float(bool(habit.n) and event["country"] != habit.home),
            "new_merchant": float(bool(habit.n) and event["merchant_id"] not in habit.merchants),
            "first_seen": float(habit.n == 0),
            "risky_mcc": float(event["merchant_category"] in RISKY_MCC),
            f"channel_{event['channel']}": 1.0,
        }
        habit.n += 1
        habit.mean_log += (log_amount - habit.mean_log) / min(habit.n, 50)
        habit.last_ms = int(event["event_time"])
        habit.home = habit.home or str(event["country"])
        if len(habit.merchants) < 64:
            habit.merchants.add(str(event["merchant_id"]))
        return x


def _model() -> compose.Pipeline:
    return compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(optimizer=optim.SGD(0.05)),
    )


@dataclass(frozen=True, slots=True)
class BaselineScore:
    event_id: str
    offset_s: float
    is_fraud: bool
    static: float
    online: float


class Baselines:
    """Score every ``every``-th event with both models; learn from labels as they come."""

    def __init__(self, freeze_after_s: float, every: int = 1, memory: int = 500_000) -> None:
        self.freeze_after_s = freeze_after_s
        self.every = max(1, every)
        self.static = _model()
        self.online = _model()
        self._habits = HabitFeatures()
        self._pending: OrderedDict[str, tuple[dict[str, float], float]] = OrderedDict()
        self._memory = memory
        self.scores: list[BaselineScore] = []
        self.learnt = 0

    def observe(self, events: list[SimulatedEvent] | Any, now_ms: int = 0) -> None:
        for sim in events:
            x = self._habits.features(sim.event)
            self._pending[sim.event_id] = (x, sim.offset_s)
            if len(self._pending) > self._memory:
                self._pending.popitem(last=False)
            if sim.index % self.every == 0:
                self.scores.append(BaselineScore(
                    sim.event_id, sim.offset_s, sim.is_fraud,
                    float(self.static.predict_proba_one(x).get(True, 0.0)),
                    float(self.online.predict_proba_one(x).get(True, 0.0))))

    def learn(self, labels: list[LabelDecision]) -> None:
        for decision in labels:
            seen = self._pending.pop(decision.event_id, None)
            if seen is None:
                continue
            x, offset_s = seen
            y = bool(decision.label)
            self.online.learn_one(x, y)
            # the static model only ever learns from the warm-up period's events
            if offset_s < self.freeze_after_s:
                self.static.learn_one(x, y)
            self.learnt += 1
