"""Ingest settings (DRIFTLOOP_INGEST_* plus the common DRIFTLOOP_* ones)."""

from __future__ import annotations

from pydantic import Field

from driftloop.runtime import CommonSettings


class IngestSettings(CommonSettings):
    ingest_port: int = Field(8001, description="HTTP port of POST /events.")
    ingest_group: str = Field("ingest", description="Consumer group on events.raw.")
    ingest_max_body_bytes: int = Field(8 << 20, description="Larger HTTP bodies get 413.")
    ingest_max_batch_events: int = Field(10_000, description="Events per HTTP request at most.")
    ingest_max_event_bytes: int = Field(64 << 10, description="Larger single events are rejected.")
    ingest_max_json_depth: int = Field(16, description="Deeper JSON nesting is rejected.")
    ingest_publish_timeout_s: float = Field(10.0, description="HTTP replies 503 after this.")
