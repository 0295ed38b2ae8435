"""What the scorer needs from a model, whatever runs it: a name and exact version, the ordered
input names it takes, its operating threshold, and a batch predict returning P(positive)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float64]


class Model(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def features(self) -> tuple[str, ...]: ...

    @property
    def threshold(self) -> float: ...

    @property
    def is_baseline(self) -> bool: ...

    def predict(self, matrix: Matrix) -> Scores:
        """P(positive) for each row of ``matrix`` (shape [N, len(features)]), shape [N]."""
        ...
