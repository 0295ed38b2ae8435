"""Labelled examples as arrays, with a content digest and a split by time.

The split is by event time, never random: the model is trained on the past and judged on the
most recent slice, as it will be used. A random split leaks the future into training and
flatters every model on drifting data."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.trainer.example_store import Example


class TrainingDataError(ValueError):
    """Too few rows, or a slice with a single class: no model can be trained or judged."""


@dataclass(frozen=True)
class TrainingSet:
    features: list[str]
    x: np.ndarray            # float32 [N, F], column i is features[i]
    y: np.ndarray            # float32 [N], 1.0 = positive
    event_time: np.ndarray   # int64 [N], milliseconds, ascending
    event_ids: list[str]

    @classmethod
    def from_examples(cls, examples: Sequence[Example],
                      features: Sequence[str] | None = None) -> TrainingSet:
        """Columns are ``features`` or the sorted union of the examples' feature names; a
        feature an example lacks is 0.0 (the declared default for absent values)."""
        ordered = sorted(examples, key=lambda e: (e.event_time, e.event_id))
        names = list(features) if features is not None else sorted(
            {name for e in ordered for name in e.features})
        x = np.array([[float(e.features.get(n, 0.0)) for n in names] for e in ordered],
                     dtype=np.float32).reshape(len(ordered), len(names))
        return cls(
            features=names,
            x=x,
            y=np.array([float(e.label) for e in ordered], dtype=np.float32),
            event_time=np.array([e.event_time for e in ordered], dtype=np.int64),
            event_ids=[e.event_id for e in ordered],
        )

    def __len__(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(self.y.sum())

    def digest(self) -> str:
        """sha256 of exactly what training sees: names, ids, labels and feature values."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.features).encode())
        h.update("\x1f".join(self.event_ids).encode())
        h.update(self.y.astype("<f4").tobytes())
        h.update(np.ascontiguousarray(self.x, dtype="<f4").tobytes())
        return h.hexdigest()

    def slice(self, start: int, stop: int) -> TrainingSet:
        return TrainingSet(self.features, self.x[start:stop], self.y[start:stop],
                           self.event_time[start:stop], self.event_ids[start:stop])

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """The rows with columns in another model's order (absent features are 0.0)."""
        index = {n: i for i, n in enumerate(self.features)}
        out = np.zeros((len(self), len(names)), dtype=np.float32)
        for j, name in enumerate(names):
            if name in index:
                out[:, j] = self.x[:, index[name]]
        return out

    def split_by_time(self, holdout_fraction: float) -> tuple[TrainingSet, TrainingSet]:
        """(past, most recent ``holdout_fraction``); both must hold both classes."""
        n_hold = int(round(len(self) * holdout_fraction))
        cut = len(self) - n_hold
        past, recent = self.slice(0, cut), self.slice(cut, len(self))
        for name, part in (("training", past), ("held-out", recent)):
            if len(part) == 0 or part.positives in (0, len(part)):
                raise TrainingDataError(
                    f"the {name} slice has {len(part)} rows and {part.positives} positives: "
                    "both classes are needed")
        return past, recent
