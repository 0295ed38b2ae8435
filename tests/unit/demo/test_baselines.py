"""The baselines learn as the loop does: prequential (an event is scored before its label
exists; a label is learnt only once published, and before the events sent after it are
scored), from exactly the published labels (the analysts' label, not the truth), the static
model only from the warm-up's events; a seeded sample; River's learners seeded."""

from __future__ import annotations

from typing import Any

from driftloop.demo import BaselineProcess, Baselines, BaselineSpec
from driftloop.demo.baselines import LEARNERS, STATIC, LearnerCost, event_inputs, in_sample
from driftloop.simulation import (
    LabelDecision,
    SimulatedEvent,
    SimulatorConfig,
    TransactionSimulator,
)


def _event(i: int, x: float, truth: bool = False) -> SimulatedEvent:
    return SimulatedEvent(i, float(i), {"event_id": f"e{i}", "x": x}, truth, "-", "k")


def _label(i: int, label: int, truth: int = 0) -> LabelDecision:
    return LabelDecision(0, f"e{i}", "k", label, "analyst", truth, "sample")


class Spy:
    """Scores each event with the number of labels it has learnt; remembers what it learnt."""

    def __init__(self, seed: int) -> None:
        self.learnt: list[tuple[dict[str, float], bool]] = []

    def predict_proba_one(self, x: dict[str, float]) -> dict[Any, float]:
        return {True: float(len(self.learnt))}

    def learn_one(self, x: dict[str, float], y: bool) -> None:
        self.learnt.append((x, y))


def _spies(**kwargs: Any) -> Baselines:
    return Baselines(lambda e: {"x": float(e["x"])}, freeze_after_s=2.0,
                     learners={STATIC: Spy, "spy": Spy}, **kwargs)


def test_prequential_learns_each_published_label_before_scoring_what_follows() -> None:
    b = _spies()
    published: list[LabelDecision] = []
    b.follow(published)
    b.observe([_event(0, 0.5), _event(1, 1.5), _event(2, 2.5)])
    published.append(_label(1, 1, truth=0))  # the analyst is wrong: the label is what counts
    published.append(_label(2, 0, truth=0))
    b.observe([_event(3, 3.5)])
    assert [s.scores for s in b.scores] == [{STATIC: 0.0, "spy": 0.0}] * 3 + [
        {STATIC: 1.0, "spy": 2.0}]  # static: e2 came after the 2 s warm-up
    spy = b.models["spy"]
    assert isinstance(spy, Spy)
    assert spy.learnt == [({"x": 1.5}, True), ({"x": 2.5}, False)]
    assert b.learnt == 2
    b.observe([_event(4, 4.5)])  # nothing new published: nothing learnt twice
    assert b.scores[-1].scores == {STATIC: 1.0, "spy": 2.0}


def test_labels_of_events_not_seen_or_forgotten_are_counted_not_learnt() -> None:
    b = _spies(memory_s=10.0)
    b.observe([_event(0, 1.0), _event(15, 1.0), _event(20, 1.0)])
    b.learn([_label(0, 1), _label(15, 1), _label(99, 1)])  # e0 was 20 s old: forgotten
    assert (b.learnt, b.unmatched_labels) == (1, 2)


def test_the_sample_is_seeded_and_the_same_whatever_the_order() -> None:
    ids = [f"e{i}" for i in range(2000)]
    chosen = {i for i in ids if in_sample(7, i, 0.25)}
    assert len(chosen) == 517
    assert chosen == {i for i in reversed(ids) if in_sample(7, i, 0.25)}
    assert chosen != {i for i in ids if in_sample(8, i, 0.25)}
    assert all(in_sample(7, i, 1.0) for i in ids[:10])
    b = _spies(share=0.25)
    b.observe([_event(i, 0.0) for i in range(2000)])
    assert {s.event_id for s in b.scores} == chosen
    assert b.cost["spy"].predictions == 517 and b.observed == 2000


def test_cost_per_event_counts_a_prediction_and_its_share_of_labels() -> None:
    cost = LearnerCost(predict_s=0.002, predictions=100, learn_s=0.001, learns=10)
    assert cost.summary(events=200) == {"predict_us": 20.0, "learn_us": 100.0,
                                        "us_per_event": 25.0, "max_events_per_s": 40_000}
    assert LearnerCost().summary(events=0)["us_per_event"] is None


def _river_run() -> list[dict[str, float]]:
    b = Baselines(lambda e: {"x": float(e["x"]), "y": float(e["x"]) ** 2},
                  freeze_after_s=100.0, seed=3)
    published: list[LabelDecision] = []
    b.follow(published)
    for i in range(300):
        positive = i % 7 == 0
        b.observe([_event(i, 2.0 + (i % 5) / 10 if positive else (i % 11) / 10, positive)])
        published.append(_label(i, int(positive)))
    return [s.scores for s in b.scores]


def test_river_learners_are_seeded_and_learn_the_stream() -> None:
    first = _river_run()
    assert set(first[0]) == set(LEARNERS) == {STATIC, "river_lr", "river_hat", "river_arf"}
    assert first == _river_run()  # the adaptive forest and tree draw from their seed
    last_positive, last_negative = first[294], first[295]
    for name in LEARNERS:
        assert last_positive[name] > last_negative[name], name


def test_event_inputs_are_the_domains_model_inputs() -> None:
    encode = event_inputs("cards")
    x = encode({"amount": 10.0, "channel": "ONLINE", "event_time": 3_600_000})
    assert x["amount"] == 10.0 and x["channel=ONLINE"] == 1.0 and x["hour_of_day"] == 1.0


def _feed(target: Baselines | BaselineProcess) -> None:
    """The same interleaving of published labels and sent batches, as the demo makes it."""
    events = TransactionSimulator(SimulatorConfig(seed=5, rate=100)).take(600)
    published: list[LabelDecision] = []
    target.follow(published)
    for start in range(0, 600, 50):
        batch = events[start:start + 50]
        target.observe(batch)
        # every 4th event of the batch labelled (its truth), published before the next batch
        published.extend(LabelDecision(0, e.event_id, "k", int(e.positive), "analyst",
                                       int(e.positive), "sample") for e in batch[::4])


def test_the_worker_process_scores_exactly_as_in_process() -> None:
    spec = BaselineSpec("cards", freeze_after_s=3.0, seed=5, share=0.5)
    here = spec.build()
    _feed(here)
    worker = BaselineProcess(spec)
    worker.start()
    _feed(worker)
    run = worker.finish(timeout_s=120)
    assert run.error is None
    assert run.scores == here.scores and len(run.scores) > 250
    assert (run.learnt, run.names) == (here.learnt, tuple(LEARNERS))
    assert run.learnt == 11 * 13  # the labels of the last of 12 batches come after it
