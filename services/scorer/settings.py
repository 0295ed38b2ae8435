"""Scorer settings (DRIFTLOOP_SCORER_* plus the common DRIFTLOOP_* ones)."""

from __future__ import annotations

from pydantic import Field

from driftloop.runtime import CommonSettings


class ScorerSettings(CommonSettings):
    scorer_port: int = Field(8002, description="HTTP port of POST /predict, /readyz, /metrics.")
    scorer_group: str = Field("scorer", description="Consumer group on events.valid.")
    scorer_max_records: int = Field(2000, ge=1, description="Events per batch at most.")
    scorer_feature_deadline_s: float = Field(
        0.25, gt=0, description="Longest wait for online features before scoring with defaults "
        "(a guard above the feature client's own FEATURE_DEADLINE_MS + PER_ROW_MS deadline).")
    scorer_low_confidence: float = Field(
        0.1, ge=0, le=1, description="Confidence below this asks for a label.")
    scorer_sample_rate: float = Field(
        0.01, ge=0, le=1, description="Share of events sent for labelling at random.")
    scorer_sample_seed: int = Field(7, description="Seed of the random label sample.")
    scorer_shadow: bool = Field(True, description="Score the challenger in shadow when one exists.")
    scorer_max_body_bytes: int = Field(1 << 20, description="Larger /predict bodies get 413.")
    scorer_max_batch_events: int = Field(1000, description="Events per /predict call at most.")
    api_token: str | None = Field(
        None, description="DRIFTLOOP_API_TOKEN: when set, /predict needs 'Bearer <token>'.")
