"""Trainer: joins labels with the features as scored, retrains a PyTorch MLP on a retrain
request, after enough new labels or on `driftloop train`, exports it to ONNX, gates it against
the champion and a logistic-regression baseline on the most recent held-out slice, registers
it, promotes or rejects it, and records the run."""

from __future__ import annotations

__all__: list[str] = []
