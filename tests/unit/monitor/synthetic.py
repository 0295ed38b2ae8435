"""Seeded synthetic streams for the monitor's quality tests: River's generators (SEA,
Agrawal, Hyperplane) wrapped in ConceptDriftStream with a known change point, scored by a
model trained on the pre-change concept and then frozen, as a deployed champion is."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from river import compose, datasets, linear_model, optim, preprocessing, tree
from river.datasets import synth

Factory = Callable[[int], datasets.base.SyntheticDataset]

GENERATORS: dict[str, tuple[Factory, Factory]] = {
    # name: (pre-change concept, post-change concept), each built from a seed.
    "sea": (lambda s: synth.SEA(variant=0, noise=0.05, seed=s),
            lambda s: synth.SEA(variant=3, noise=0.05, seed=s)),
    "agrawal": (lambda s: synth.Agrawal(classification_function=0, seed=s),
                lambda s: synth.Agrawal(classification_function=2, seed=s)),
    "hyperplane": (lambda s: synth.Hyperplane(n_features=4, seed=s),
                   lambda s: synth.Hyperplane(n_features=4, seed=s + 1000)),
}


def frozen_model(name: str, seed: int, train: int = 4000) -> Any:
    pre, _ = GENERATORS[name]
    model: Any
    if name == "agrawal":
        model = tree.HoeffdingTreeClassifier(grace_period=50)
    elif name == "hyperplane":
        # The seed draws the hyperplane itself, so the champion learns the stream's own seed
        # (4 weights from 4,000 rows: no memorising). River's one-pass SGD underfits it.
        return BatchLogistic([(x, int(y)) for x, y in itertools.islice(pre(seed), train)])
    else:
        model = compose.Pipeline(preprocessing.StandardScaler(),
                                 linear_model.LogisticRegression(optim.Adam(0.05)))
    for x, y in itertools.islice(pre(seed + 7), train):
        model.learn_one(x, int(y))
    return model


def drifting(name: str, seed: int, position: int, total: int) -> Iterator[dict[str, Any]]:
    """Prediction + label pairs (as the topics carry them) with an abrupt change at
    ``position``; ``position >= total`` gives a stationary stream."""
    pre, post = GENERATORS[name]
    model = frozen_model(name, seed)
    # ConceptDriftStream's sigmoid overflows for |4 * (i - position) / width| > ~709: the
    # width grows with the distance to cover (50 events around position 5,000: abrupt).
    width = max(1, -(-4 * max(position, total - position) // 700))
    stream: Any = (pre(seed) if position >= total else synth.ConceptDriftStream(
        stream=pre(seed), drift_stream=post(seed + 1), position=position, width=width,
        seed=seed))
    for i, (x, y) in enumerate(itertools.islice(stream, total)):
        proba = model.predict_proba_one(x).get(1, 0.0)
        proba = min(max(float(proba), 0.0), 1.0)
        features = {str(k): float(v) for k, v in x.items() if not isinstance(v, str)}
        yield {
            "event_id": f"e{i}", "entity_id": f"c{i % 97}", "model_name": "fraud",
            "model_version": "v1", "score": proba, "label": int(proba >= 0.5),
            "features": features, "shadow": False, "event_time": 1_000 * i,
        }, {"event_id": f"e{i}", "label": int(y), "labelled_by": "oracle",
            "labelled_at": 1_000 * i + 500}


class BatchLogistic:
    """A logistic regression fitted once (scikit-learn), with River's predict_proba_one."""

    def __init__(self, rows: list[tuple[dict[Any, float], int]]) -> None:
        from sklearn.linear_model import LogisticRegression

        self.keys = sorted(rows[0][0])
        X = np.array([[x[k] for k in self.keys] for x, _ in rows])
        self.model = LogisticRegression(C=100.0).fit(X, [y for _, y in rows])

    def predict_proba_one(self, x: dict[Any, float]) -> dict[int, float]:
        z = float(self.model.decision_function(np.array([[x[k] for k in self.keys]]))[0])
        return {1: 1.0 / (1.0 + math.exp(-z))}
