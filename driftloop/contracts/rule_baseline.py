"""The declared baseline: a fixed logistic model over event-derived inputs, served before any
champion exists so the scorer never refuses to score, and the standard the trainer's first
model must beat (a model worse than the rule it replaces is no improvement). Its weights live
in the domain file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class BaselineModel:
    name: str
    version: str
    features: tuple[str, ...]
    threshold: float
    intercept: float
    weights: tuple[float, ...]
    is_baseline: bool = True

    @classmethod
    def from_config(cls, model_name: str, spec: Mapping[str, Any]) -> BaselineModel:
        weights: Mapping[str, float] = spec.get("weights", {})
        version = str(spec.get("version", "baseline-rules-1"))
        if not version.startswith("baseline-"):
            # Consumers tell a baseline apart by its version name alone.
            version = f"baseline-{version}"
        return cls(
            name=model_name,
            version=version,
            features=tuple(weights),
            threshold=float(spec.get("threshold", 0.5)),
            intercept=float(spec.get("intercept", 0.0)),
            weights=tuple(float(w) for w in weights.values()),
        )

    def predict(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        logits = matrix.astype(np.float64) @ np.asarray(self.weights, np.float64) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), np.float64)
