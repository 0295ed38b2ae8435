"""The baselines the closed loop is measured against, scored on the same events and fed the
same labels: a static model (learns from the labels of the warm-up's events, then never
again: the first model, never retrained) and River's online learners - logistic regression,
a Hoeffding adaptive tree and an adaptive random forest - that learn from every label as soon
as the analysts publish it.

Prequential, as the loop lives it: each event is scored when it is sent, before any label of
it exists; a model learns from a label only once it is published, and only from the labels
the loop gets (the analysts label a sample, not every event). Inputs are the domain's
event-derived model inputs, computed by the one recipe the scorer serves (no per-domain code
here): the loop's models see those and the feature store's online features besides.

River's learners cost CPU in the demo's own process (the adaptive random forest most), so a
seeded share of events can be scored; the report scores the loop on the same events."""

from __future__ import annotations

import hashlib
import importlib
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from river import compose, forest, linear_model, optim, preprocessing, tree

from driftloop.simulation import LabelDecision, SimulatedEvent

#: an event's model inputs by name, from its own fields
Encoder = Callable[[Mapping[str, Any]], Mapping[str, float]]

#: the name of the static model (frozen after the warm-up); the others learn forever
STATIC = "static"
#: River's threshold: ``predict_one`` is positive when P(positive) reaches 0.5
RIVER_THRESHOLD = 0.5


class Classifier(Protocol):
    def predict_proba_one(self, x: dict[str, float]) -> dict[Any, float]: ...
    def learn_one(self, x: dict[str, float], y: bool) -> Any: ...


def _logistic(seed: int) -> Classifier:
    model: Classifier = compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(optimizer=optim.SGD(0.05)))
    return model


def _hoeffding_tree(seed: int) -> Classifier:
    model: Classifier = tree.HoeffdingAdaptiveTreeClassifier(seed=seed)
    return model


def _forest(seed: int) -> Classifier:
    model: Classifier = forest.ARFClassifier(seed=seed)
    return model


#: every baseline, by the name the scoreboard gives it: how to build it from a seed
LEARNERS: dict[str, Callable[[int], Classifier]] = {
    STATIC: _logistic,
    "river_lr": _logistic,
    "river_hat": _hoeffding_tree,
    "river_arf": _forest,
}

#: how the report names them
TITLES = {STATIC: "static model (warm-up labels)", "river_lr": "River online LR",
          "river_hat": "River Hoeffding adaptive tree", "river_arf": "River adaptive forest"}


def event_inputs(domain: str) -> Encoder:
    """The domain's event-derived model inputs (domains/NAME.json, ``model_inputs``) computed
    exactly as the scorer computes them for its models: one recipe, not a copy. Loaded by name
    at run time, as the CLI loads a service, so the layers hold (driftloop imports no
    service)."""
    module = importlib.import_module("services.scorer.model_inputs")
    compute: Encoder = module.ModelInputs.load(domain).compute
    return compute


def in_sample(seed: int, event_id: str, share: float) -> bool:
    """A seeded draw per event id: the same events are chosen in every run of one seed,
    whatever order they come in."""
    if share >= 1.0:
        return True
    digest = hashlib.blake2b(f"scoreboard:{seed}:{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * 2**64


@dataclass(frozen=True, slots=True)
class BaselineScore:
    event_id: str
    offset_s: float
    scores: dict[str, float]


@dataclass
class LearnerCost:
    """CPU seconds a learner spent predicting and learning, and how often it did each."""

    predict_s: float = 0.0
    predictions: int = 0
    learn_s: float = 0.0
    learns: int = 0

    def summary(self, events: int) -> dict[str, float | None]:
        """Microseconds per prediction and per label; per event of the stream when every
        event is scored (a prediction each, plus its share of the labels); and the most
        events per second one core could keep up with on that."""
        predict_us = 1e6 * self.predict_s / self.predictions if self.predictions else None
        learn_us = 1e6 * self.learn_s / self.learns if self.learns else 0.0
        per_event = (None if predict_us is None
                     else predict_us + learn_us * self.learns / max(events, 1))
        return {"predict_us": _r(predict_us), "learn_us": _r(learn_us),
                "us_per_event": _r(per_event),
                "max_events_per_s": round(1e6 / per_event) if per_event else None}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class Baselines:
    """Scores the chosen share of events with every learner; learns from each published
    label, before the events sent after it are scored."""

    encode: Encoder
    freeze_after_s: float
    seed: int = 7
    share: float = 1.0
    #: stream seconds an event's inputs are kept for its label: labels come within seconds
    memory_s: float = 60.0
    learners: Mapping[str, Callable[[int], Classifier]] = field(default_factory=lambda: LEARNERS)
    scores: list[BaselineScore] = field(default_factory=list)
    observed: int = 0
    learnt: int = 0
    unmatched_labels: int = 0

    def __post_init__(self) -> None:
        self.models = {name: make(self.seed) for name, make in self.learners.items()}
        self.cost = {name: LearnerCost() for name in self.models}
        self._names: tuple[str, ...] | None = None
        # event id -> [offset_s, *inputs]: compact, since a fast stream keeps many of them
        self._pending: OrderedDict[str, array[float]] = OrderedDict()
        self._feed: Sequence[LabelDecision] = ()
        self._fed = 0

    def follow(self, published: Sequence[LabelDecision]) -> None:
        """Read labels from this growing list (the analysts' published labels): each
        ``observe`` first learns from what was published since the last one."""
        self._feed, self._fed = published, 0

    def observe(self, events: Sequence[SimulatedEvent] | Any, now_ms: int = 0) -> None:
        """A PacedStream observer: learn what is published, then score what is being sent."""
        if self._fed < len(self._feed):
            fresh = self._feed[self._fed:]
            self._fed = len(self._feed)
            self.learn(fresh)
        for sim in events:
            self.observed += 1
            x = dict(self.encode(sim.event))
            if self._names is None:
                self._names = tuple(x)
            self._pending[sim.event_id] = array("d", (sim.offset_s, *x.values()))
            while next(iter(self._pending.values()))[0] < sim.offset_s - self.memory_s:
                self._pending.popitem(last=False)
            if in_sample(self.seed, sim.event_id, self.share):
                self.scores.append(BaselineScore(sim.event_id, sim.offset_s, self._score(x)))

    def _score(self, x: dict[str, float]) -> dict[str, float]:
        out = {}
        for name, model in self.models.items():
            started = time.perf_counter()
            out[name] = float(model.predict_proba_one(x).get(True, 0.0))
            cost = self.cost[name]
            cost.predict_s += time.perf_counter() - started
            cost.predictions += 1
        return out

    def learn(self, labels: Sequence[LabelDecision]) -> None:
        for decision in labels:
            seen = self._pending.pop(decision.event_id, None)
            if seen is None or self._names is None:
                self.unmatched_labels += 1
                continue
            offset_s = seen[0]
            x = dict(zip(self._names, seen[1:], strict=True))
            y = bool(decision.label)
            for name, model in self.models.items():
                # the static model only ever learns from the warm-up's events
                if name == STATIC and offset_s >= self.freeze_after_s:
                    continue
                started = time.perf_counter()
                model.learn_one(x, y)
                cost = self.cost[name]
                cost.learn_s += time.perf_counter() - started
                cost.learns += 1
            self.learnt += 1

    def costs(self) -> dict[str, dict[str, float | None]]:
        return {name: cost.summary(self.observed) for name, cost in self.cost.items()}
