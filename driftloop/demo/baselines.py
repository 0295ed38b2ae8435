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

River's learners cost CPU (the adaptive random forest most), so the demo runs them in a
process of their own at a lower priority (``BaselineProcess``): measuring the loop must not
slow it down. Fed in the order the demo saw labels and events, it scores exactly as in
process. A seeded share of events can be scored; the report scores the loop on the same."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import queue
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from river import compose, forest, linear_model, optim, preprocessing, tree

from driftloop.contracts.model_inputs import ModelInputs
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
    """The domain's event-derived model inputs (domains/NAME/domain.toml, ``model_inputs``) computed
    exactly as the scorer computes them for its models: one recipe, not a copy."""
    compute: Encoder = ModelInputs.load(domain).compute
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


@dataclass(frozen=True)
class BaselineRun:
    """What the baselines did, for the report: their scores, labels learnt, cost per event."""

    names: tuple[str, ...]
    scores: list[BaselineScore]
    share: float
    learnt: int
    unmatched_labels: int
    costs: dict[str, dict[str, float | None]]
    error: str | None = None


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
            # CPU time, not wall time: other processes share the cores
            started = time.thread_time()
            out[name] = float(model.predict_proba_one(x).get(True, 0.0))
            cost = self.cost[name]
            cost.predict_s += time.thread_time() - started
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
                started = time.thread_time()
                model.learn_one(x, y)
                cost = self.cost[name]
                cost.learn_s += time.thread_time() - started
                cost.learns += 1
            self.learnt += 1

    def costs(self) -> dict[str, dict[str, float | None]]:
        return {name: cost.summary(self.observed) for name, cost in self.cost.items()}

    def run(self) -> BaselineRun:
        return BaselineRun(tuple(self.models), self.scores, self.share, self.learnt,
                           self.unmatched_labels, self.costs())


@dataclass(frozen=True)
class BaselineSpec:
    """How to build the baselines: plain data, so a spawned process can build its own."""

    domain: str
    freeze_after_s: float
    seed: int = 7
    share: float = 1.0

    def build(self) -> Baselines:
        return Baselines(event_inputs(self.domain), freeze_after_s=self.freeze_after_s,
                         seed=self.seed, share=self.share)


#: a message to the worker: labels published since the last one, then the events just sent
_Batch = tuple[list[LabelDecision], list[SimulatedEvent]]


def _serve(spec: BaselineSpec, inbox: Any, outbox: Any, niceness: int) -> None:
    """The worker: learn and score in the order the demo saw things; the run at the end."""
    os.nice(niceness)  # the loop's services come first; the baselines catch up when idle
    baselines = spec.build()
    while (batch := inbox.get()) is not None:
        labels, events = batch
        baselines.learn(labels)
        baselines.observe(events)
    outbox.put(baselines.run())


class BaselineProcess:
    """``Baselines`` in a process of their own: ``observe`` (a PacedStream observer) only
    queues what the demo saw; ``finish`` waits for the worker to catch up and returns its
    run. The worker may fall behind the stream, never out of order."""

    def __init__(self, spec: BaselineSpec, niceness: int = 10) -> None:
        self.spec = spec
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._inbox: Any = context.Queue()
        self._outbox: Any = context.Queue()
        self._process = context.Process(target=_serve, name="baselines", daemon=True,
                                        args=(spec, self._inbox, self._outbox, niceness))
        self._feed: Sequence[LabelDecision] = ()
        self._fed = 0

    def start(self) -> None:
        self._process.start()

    def follow(self, published: Sequence[LabelDecision]) -> None:
        self._feed, self._fed = published, 0

    def observe(self, events: Sequence[SimulatedEvent] | Any, now_ms: int = 0) -> None:
        labels = list(self._feed[self._fed:])
        self._fed += len(labels)
        self._inbox.put((labels, list(events)))

    def finish(self, timeout_s: float = 600.0) -> BaselineRun:
        """Blocks until the worker has scored everything sent to it (or died, or ran out of
        time: then a run with no scores and the reason, so the report still stands)."""
        self._inbox.put(None)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                try:
                    run: BaselineRun = self._outbox.get(timeout=0.5)
                    return run
                except queue.Empty:
                    if not self._process.is_alive():
                        error = f"the baselines' process exited ({self._process.exitcode})"
                        break
            else:
                error = f"the baselines took more than {timeout_s:.0f} s to catch up"
            return BaselineRun(tuple(LEARNERS), [], self.spec.share, 0, 0, {}, error)
        finally:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
