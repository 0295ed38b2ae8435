"""driftloop: independent services (ingest, features, scorer, trainer, monitor) that talk only
over Kafka topics, and the few capability packages they share (contracts, messaging,
telemetry, runtime, ...)."""

from __future__ import annotations

__all__: list[str] = []
