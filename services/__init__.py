"""The five deployable services of driftloop (ingest, features, scorer, trainer, monitor),
one package each, that talk only over Kafka topics. What they share lives in ``driftloop``."""

from __future__ import annotations

__all__: list[str] = []
