"""Scorer: turns every valid event into a prediction. Consumes events.valid in batches, joins
event-derived inputs (declared in the domain) with online features, runs the champion (and a
shadow challenger) with onnxruntime, publishes predictions and label requests, swaps models
from the registry on models.lifecycle events, and serves the same scoring on POST /predict."""

from __future__ import annotations

__all__: list[str] = []
