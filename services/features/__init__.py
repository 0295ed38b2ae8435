"""Features: consumes events.valid, keeps per-entity sliding windows (rebuilt from Kafka on
start and on every partition assignment), and writes the aggregates declared in
feature_repo/features.toml to Feast's online store (Redis or SQLite) and offline history
(append-only parquet) in micro-batches."""

from __future__ import annotations

__all__: list[str] = []
