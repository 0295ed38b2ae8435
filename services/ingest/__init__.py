"""Ingest: validates applications' events (HTTP POST /events, and the events.raw topic)
against the domain's Avro schema and publishes them to events.valid keyed by entity id, or to
events.deadletter with the original bytes and the reason."""

from __future__ import annotations

__all__: list[str] = []
