"""Why one row got its score: each input's share of the score, computed from the serving model
itself, in logit space and relative to a reference input.

An attribution says how much an input moved the score's logit (log(p / (1 - p))) away from the
score of the *reference*: the input the model would see if nothing were known about the event
(every online feature at its declared default, every event input 0), or the means of the
training rows when the version's metadata carries them (``feature_means``). Attributions add up
to ``logit(score(x)) - logit(score(reference))``; ``completeness_gap`` is what they miss.

- The domain's rule baseline is a logistic over its inputs: its contributions are exact,
  ``weight * (x - reference)``, and the gap is float rounding.
- An ONNX model is a black box here (the scorer has onnxruntime, not torch): integrated
  gradients along the straight path from the reference to ``x``, each gradient a central
  finite difference, all of them scored by onnxruntime in one batched run of the model's own
  graph. The path is cut into ``steps`` cells; at each cell's midpoint the difference is taken
  over the cell's width in that input (h = (x - reference) / (2 * steps)), so an input's
  attribution is the sum of its differences, and for a model of one moving input the sum
  telescopes to the score difference exactly. For a linear model it is exact whatever the
  steps; for a network the gap shrinks as the steps grow. The logits are read from the graph
  itself (``logit_output``: the Sigmoid's input as a second output, in a session of the
  explainer's own, the served session untouched): onnxruntime's Sigmoid is approximate to
  3e-4, which finite differences would amplify. A graph whose output is no Sigmoid is run
  through the served session and its probabilities turned into logits.

Pure: numpy and onnxruntime, no HTTP and no Kafka.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from driftloop.contracts.rule_baseline import BaselineModel
from services.scorer.logit_output import with_logit_output
from services.scorer.model import Matrix, Model, Scores
from services.scorer.onnx_model import OnnxModel, new_session

log = logging.getLogger(__name__)

EXACT_LINEAR = "exact_linear"
INTEGRATED_GRADIENTS = "integrated_gradients"
#: Where the reference comes from: the declared defaults (online features) and 0 (event
#: inputs), or the training rows' means the version's metadata carries.
DEFAULTS, TRAINING_MEANS = "defaults", "training_means"
STEPS = 32
TOP_K = 5
#: A float32 sigmoid is exactly 1.0 above a logit of ~17 (and 0.0 below ~-88): probabilities
#: are clipped inside (0, 1) before the logit, so a saturated score reads as a large finite
#: logit and an input moving it within the saturation gets no attribution.
P_LOW = float(np.finfo(np.float32).tiny)
P_HIGH = 1.0 - 2.0 ** -24

Vector = npt.NDArray[np.float64]
#: a model's logits for each row of a float32 matrix, as float64 [N]
Logits = Callable[[Matrix], Vector]
#: model versions whose logit function and reference are kept, by (name, version): the
#: champion, the challenger and a few before them
CACHED_MODELS = 4


def logit(p: npt.ArrayLike) -> Vector:
    """log(p / (1 - p)) in float64, of probabilities clipped to [P_LOW, P_HIGH]; NaN where
    the probability is not finite."""
    raw = np.asarray(p, np.float64)
    q = np.clip(np.where(np.isfinite(raw), raw, np.nan), P_LOW, P_HIGH)
    return np.asarray(np.log(q) - np.log1p(-q), np.float64)


@dataclass(frozen=True)
class Attribution:
    feature: str
    value: float         # the input as the model saw it, in its own units
    contribution: float  # its share of logit(score) - logit(score(reference))


@dataclass(frozen=True)
class Explanation:
    method: str
    reference_source: str
    reference_score: float
    #: the reference value of each input in ``top``, in its order
    reference_values: tuple[float, ...]
    logit: float
    reference_logit: float
    top: tuple[Attribution, ...]
    completeness_gap: float

    def to_dict(self) -> dict[str, Any]:
        """The ``explanation`` field of a /predict reply (a NaN becomes null in JSON)."""
        return {
            "method": self.method,
            "reference": {
                "source": self.reference_source,
                "score": self.reference_score,
                "logit": self.reference_logit,
                "values": {a.feature: v for a, v in
                           zip(self.top, self.reference_values, strict=True)},
            },
            "logit": self.logit,
            "top": [{"feature": a.feature, "value": a.value, "contribution": a.contribution}
                    for a in self.top],
            "completeness_gap": self.completeness_gap,
        }


def integrated_gradients(logits: Logits, x: npt.ArrayLike, reference: npt.ArrayLike,
                         steps: int = STEPS) -> tuple[Vector, float, float]:
    """Attributions of ``logits(x) - logits(reference)`` to each input, and the two logits.
    One call of ``logits`` on ``2 + 2 * steps * moving`` rows (``moving``:
    inputs where x differs from the reference; the others get exactly 0): x, the reference,
    then for each moving input and step the cell's midpoint with that input at the cell's
    lower and upper end. Rows are float32, as the model takes them; the cells' ends are
    shared by neighbouring cells, so rounding them to float32 keeps the sum telescoping."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    x64 = np.asarray(x, np.float32).astype(np.float64).reshape(-1)
    ref64 = np.asarray(reference, np.float32).astype(np.float64).reshape(-1)
    if x64.shape != ref64.shape:
        raise ValueError(f"x has {x64.size} inputs, the reference {ref64.size}")
    delta = x64 - ref64
    moving = np.flatnonzero(delta)
    k, width = len(moving), x64.size
    fractions = np.arange(steps + 1, dtype=np.float64) / steps
    # the cells' edges [steps + 1, inputs] and midpoints [steps, inputs], rounded once
    ends = (ref64 + fractions[:, None] * delta).astype(np.float32)
    middles = (ref64 + ((fractions[:-1] + fractions[1:]) / 2)[:, None] * delta).astype(
        np.float32)
    batch = np.empty((2 + 2 * k * steps, width), np.float32)
    batch[0], batch[1] = x64, ref64
    cells = batch[2:].reshape(2, k, steps, width)
    cells[:] = middles
    at_k, at_step = np.arange(k)[:, None], np.arange(steps)[None, :]
    cells[0, at_k, at_step, moving[:, None]] = ends[1:, moving].T   # upper ends
    cells[1, at_k, at_step, moving[:, None]] = ends[:-1, moving].T  # lower ends
    values = logits(batch)
    upper = values[2:2 + k * steps].reshape(k, steps)
    lower = values[2 + k * steps:].reshape(k, steps)
    attributions = np.zeros(width, np.float64)
    attributions[moving] = (upper - lower).sum(axis=1)
    return attributions, float(values[0]), float(values[1])


def probability_logits(predict: Callable[[Matrix], Scores]) -> Logits:
    """Logits of a model known only by its probabilities."""
    return lambda matrix: logit(predict(matrix))


def onnx_logits(model: OnnxModel) -> Logits:
    """The logits of an ONNX model from its own graph (its final Sigmoid's input), in a
    session of their own; the served session's probabilities as logits when the graph has
    no final Sigmoid or its bytes are unknown."""
    try:
        exposed = with_logit_output(model.onnx_bytes, model.output_name)
        if exposed is None:
            return probability_logits(model.predict)
        session = new_session(exposed[0])
    except Exception as exc:  # a graph the edit cannot read: its probabilities still serve
        log.warning("%s %s: logits not exposed (%s); explaining from probabilities",
                    model.name, model.version, exc)
        return probability_logits(model.predict)
    name, given = exposed[1], model.input_name

    def run(matrix: Matrix) -> Vector:
        out = session.run([name], {given: matrix})[0]
        return np.asarray(out, np.float64).reshape(-1)

    return run


def linear_attributions(model: BaselineModel, x: npt.ArrayLike, reference: npt.ArrayLike
                        ) -> tuple[Vector, float, float]:
    """The baseline's exact contributions ``weight * (x - reference)`` and its two logits,
    computed as its predict does (float64 from the float32 row)."""
    weights = np.asarray(model.weights, np.float64)
    x64 = np.asarray(x, np.float32).astype(np.float64).reshape(-1)
    ref64 = np.asarray(reference, np.float32).astype(np.float64).reshape(-1)
    return (weights * (x64 - ref64), float(x64 @ weights + model.intercept),
            float(ref64 @ weights + model.intercept))


def top_attributions(attributions: Vector, k: int = TOP_K) -> list[int]:
    """Indices of the ``k`` largest attributions by absolute value (a NaN first: something is
    wrong there), ties in input order."""
    size = np.where(np.isnan(attributions), np.inf, np.abs(attributions))
    order = np.argsort(-size, kind="stable")
    return [int(i) for i in order[:max(k, 0)]]


def _sigmoid(z: float) -> float:
    if not math.isfinite(z):
        return math.nan
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@dataclass(frozen=True)
class _Prepared:
    """What explaining a model version needs, built on its first explanation."""

    logits: Logits
    source: str
    reference: npt.NDArray[np.float32]


class Explainer:
    """Explains the predictions of the models serving. ``baseline`` explains the rows it
    served: those the serving model scored NaN or infinite (the baseline's score is what was
    served for them, see BatchScorer). ``defaults`` are the online features' declared
    defaults; an input absent from them (an event input) has reference 0."""

    def __init__(self, baseline: BaselineModel, defaults: Mapping[str, float],
                 k: int = TOP_K, steps: int = STEPS) -> None:
        self.baseline = baseline
        self.defaults = dict(defaults)
        self.k = k
        self.steps = steps
        self._prepared: OrderedDict[tuple[str, str], _Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def logits(self, model: Model) -> Logits:
        """The model's logit function, built on its first explanation and kept."""
        return self._prepare(model).logits

    def reference(self, model: Model) -> tuple[str, npt.NDArray[np.float32]]:
        """The model's reference input and where it comes from: its training means when its
        metadata has them (every input), else the declared defaults."""
        prepared = self._prepare(model)
        return prepared.source, prepared.reference

    def _prepare(self, model: Model) -> _Prepared:
        key = (model.name, model.version)
        with self._lock:  # requests explain in worker threads
            if key in self._prepared:
                self._prepared.move_to_end(key)
                return self._prepared[key]
            means = model.feature_means if isinstance(model, OnnxModel) else None
            if means and all(n in means for n in model.features):
                source, values = TRAINING_MEANS, [means[n] for n in model.features]
            else:
                source, values = DEFAULTS, [self.defaults.get(n, 0.0) for n in model.features]
            prepared = _Prepared(
                onnx_logits(model) if isinstance(model, OnnxModel)
                else probability_logits(model.predict),
                source, np.asarray(values, np.float32))
            self._prepared[key] = prepared
            while len(self._prepared) > CACHED_MODELS:
                self._prepared.popitem(last=False)
            return prepared

    def explain(self, model: Model, inputs: Mapping[str, float]) -> Explanation:
        """The explanation of one prediction: ``inputs`` is its logged ``features`` (the
        model's inputs exactly as scored, widened from float32)."""
        names = model.features
        x = np.asarray([inputs.get(n, 0.0) for n in names], np.float32)
        prepared = self._prepare(model)
        source, reference = prepared.source, prepared.reference
        if isinstance(model, BaselineModel):
            method = EXACT_LINEAR
            attributions, at_x, at_ref = linear_attributions(model, x, reference)
        elif not math.isfinite(float(model.predict(x[None])[0])):
            # the baseline's score was served for this row (BatchScorer), so it is explained
            return self.explain(self.baseline, inputs)
        else:
            method = INTEGRATED_GRADIENTS
            attributions, at_x, at_ref = integrated_gradients(prepared.logits, x, reference,
                                                              self.steps)
        top = top_attributions(attributions, self.k)
        return Explanation(
            method=method, reference_source=source, reference_score=_sigmoid(at_ref),
            reference_values=tuple(float(reference[i]) for i in top),
            logit=at_x, reference_logit=at_ref,
            top=tuple(Attribution(names[i], float(x[i]), float(attributions[i])) for i in top),
            completeness_gap=float(attributions.sum() - (at_x - at_ref)))

    def explain_all(self, model: Model, predictions: Sequence[Mapping[str, Any]]
                    ) -> list[dict[str, Any]]:
        """The ``explanation`` field of each prediction record (one batched model run per
        prediction)."""
        return [self.explain(model, p["features"]).to_dict() for p in predictions]
