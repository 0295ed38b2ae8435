"""Features: computes the aggregates declared in feature_repo/features.toml and writes them
to Feast's online store (Redis or SQLite) and offline history (append-only parquet) in
micro-batches. A first stage consumes events.valid (keyed by card) and keeps per-event card
windows; it re-keys events, and the labels it joins to them, onto features.repartition, where
a second stage keeps bucketed windows of other entities (merchants). Both rebuild their state
from Kafka on start and on every partition assignment."""

from __future__ import annotations

__all__: list[str] = []
