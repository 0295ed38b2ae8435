"""Features: computes the aggregates a domain declares (domains/NAME/features.toml) and writes
them to Feast's online store (Redis or SQLite) and offline history (append-only parquet) in
micro-batches. A first stage consumes events.valid (keyed by the domain's entity) and keeps
its per-event windows; it re-keys events, and the labels it joins to them, onto
features.repartition, where a second stage keeps bucketed windows (other entities, labels).
Both rebuild their state from Kafka on start and on every partition assignment."""

from __future__ import annotations

__all__: list[str] = []
