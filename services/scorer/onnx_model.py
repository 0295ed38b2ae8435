"""A registry model version run by onnxruntime, and the checks a version must pass before it
may serve: it loads, takes [N, len(features)] float32 and answers a golden batch with one
finite probability per row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort

from services.scorer.model import Matrix, Scores


class ModelRejected(RuntimeError):
    """A model version failed a check; the champion keeps serving."""


#: Values every input takes at once in the golden batch: the edges of what real inputs reach
#: (one-hots, negatives, hours, an amount of the schema's maximum, 1,000,000, and beyond).
EDGE_VALUES = (0.0, 1.0, -1.0, 23.0, 60.0, 1e3, 1e6, -1e6, 1e7)
LARGE = 1e6


def golden_batch(n_features: int, rows: int = 16, seed: int = 20240601) -> Matrix:
    """A fixed batch every candidate must score, so a model that overflows or NaNs on some
    input is caught before it serves: seeded values of the ranges typical inputs take (counts,
    amounts, hours), every input at each edge value, each input alone at a large value, and
    seeded values spread over six orders of magnitude. Typical values alone once let a model
    through that was NaN above 60."""
    rng = np.random.default_rng(seed)
    typical = rng.uniform(0.0, 50.0, size=(rows, n_features))
    typical[0] = 0.0
    typical[1] = 1.0
    edges = np.repeat(np.asarray(EDGE_VALUES), n_features).reshape(-1, n_features)
    alone = np.ones((n_features, n_features))
    np.fill_diagonal(alone, LARGE)
    spread = 10.0 ** rng.uniform(0.0, 6.0, size=(rows, n_features))
    return np.vstack([typical, edges, alone, spread]).astype(np.float32)


def new_session(onnx_bytes: bytes) -> ort.InferenceSession:
    """An onnxruntime CPU session as the scorer runs every model."""
    options = ort.SessionOptions()
    # One thread per session: the scorer scales by processes, and a thread pool per
    # session fights the event loop for the same cores at these tiny batch costs.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def _feature_means(raw: Any) -> dict[str, float] | None:
    """The metadata's ``feature_means`` ({name: number}) as floats; None when absent or not
    of that form (an explanation then starts from the declared defaults)."""
    if not isinstance(raw, Mapping):
        return None
    try:
        means = {str(name): float(value) for name, value in raw.items()}
    except (TypeError, ValueError):
        return None
    return means if all(np.isfinite(v) for v in means.values()) else None


@dataclass(frozen=True)
class OnnxModel:
    name: str
    version: str
    features: tuple[str, ...]
    threshold: float
    session: ort.InferenceSession
    input_name: str
    output_name: str
    is_baseline: bool = False
    #: the training rows' mean of each input, when the version's metadata carries them
    #: (``feature_means``): the reference of its explanations
    feature_means: Mapping[str, float] | None = field(default=None, compare=False)
    #: the artifact as loaded (explanations build a session of their own from it)
    onnx_bytes: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_bytes(cls, name: str, version: str, onnx_bytes: bytes,
                   metadata: Mapping[str, Any], features: Sequence[str],
                   threshold: float) -> OnnxModel:
        try:
            session = new_session(onnx_bytes)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelRejected(f"{name} {version}: not a loadable ONNX model: {exc}") from exc
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name for o in session.get_outputs()}
        input_name = str(metadata.get("input_name") or next(iter(inputs)))
        output_name = str(metadata.get("output_name") or session.get_outputs()[0].name)
        if input_name not in inputs:
            raise ModelRejected(f"{name} {version}: no input {input_name!r} (has {list(inputs)})")
        if output_name not in outputs:
            raise ModelRejected(f"{name} {version}: no output {output_name!r}")
        shape = inputs[input_name].shape
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != len(features)):
            raise ModelRejected(
                f"{name} {version}: input shape {shape} does not take {len(features)} features")
        if not features:
            raise ModelRejected(f"{name} {version}: metadata declares no features")
        return cls(name, version, tuple(features), float(threshold), session, input_name,
                   output_name, feature_means=_feature_means(metadata.get("feature_means")),
                   onnx_bytes=onnx_bytes)

    def predict(self, matrix: Matrix) -> Scores:
        out = self.session.run([self.output_name], {self.input_name: matrix})[0]
        return np.asarray(out, np.float64).reshape(-1)

    def smoke_test(self, batch: Matrix | None = None) -> None:
        """Score the golden batch; raise ModelRejected unless it yields one finite
        probability per row."""
        batch = golden_batch(len(self.features)) if batch is None else batch
        try:
            raw = self.session.run([self.output_name], {self.input_name: batch})[0]
        except Exception as exc:
            raise ModelRejected(f"{self.version}: fails on the golden batch: {exc}") from exc
        out = np.asarray(raw)
        if out.shape not in ((len(batch),), (len(batch), 1)):
            raise ModelRejected(f"{self.version}: output shape {out.shape}, want "
                                f"[{len(batch)}] or [{len(batch)}, 1]")
        values = out.astype(np.float64).reshape(-1)
        wrong = ~(np.isfinite(values) & (values >= 0.0) & (values <= 1.0))
        if wrong.any():
            first = batch[int(np.argmax(wrong))].tolist()
            raise ModelRejected(f"{self.version}: outputs are not probabilities in [0, 1] on "
                                f"{int(wrong.sum())} of {len(batch)} golden rows (first: "
                                f"{first})")
