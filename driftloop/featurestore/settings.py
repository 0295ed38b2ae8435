"""Settings of the feature client (DRIFTLOOP_REDIS_URL, DRIFTLOOP_FEATURE_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from driftloop.contracts.domain import Domain, default_domain


class FeatureStoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIFTLOOP_", frozen=True, extra="ignore")

    redis_url: str | None = Field(
        None, description="Redis online store; unset: Feast's SQLite store under data_dir.")
    data_dir: Path = Field(Path(".driftloop"), description="Local state (SQLite, parquet).")
    domain: str = Field(default_factory=default_domain,
                        description="The domain (a folder under domains/); unset: "
                        "domains/index.toml's default.")
    feature_service: str | None = Field(
        None, description="Feature service the model reads; unset: the domain's "
        "(domains/NAME/domain.toml feature_service).")
    feature_repo: Path | None = Field(None, description="feature_repo/ folder; unset: built in.")
    feature_deadline_ms: float = Field(
        25.0, gt=0, description="An online lookup taking longer gives defaults (degraded); "
        "plus FEATURE_DEADLINE_PER_ROW_MS for each entity row looked up.")
    feature_deadline_per_row_ms: float = Field(
        0.05, ge=0, description="Deadline added per entity row: a batch of 2,000 rows (a "
        "backlog) gets 100 ms more than one of a few, instead of timing out every time.")
    feature_breaker_failures: int = Field(
        3, ge=1, description="Consecutive failed lookups that open the circuit breaker.")
    feature_breaker_reset_s: float = Field(
        5.0, gt=0, description="How long an open breaker skips the store before one probe.")

    def service_name(self) -> str:
        """The feature service to serve: the setting, else the domain's declared one. A
        domain declaring none is an error here, not every feature served at its default."""
        if self.feature_service:
            return self.feature_service
        domain = Domain.load(self.domain)
        if not domain.feature_service:
            raise ValueError(f"domain {domain.name!r} declares no feature_service in "
                             f"{domain.directory}/domain.toml; set it there or set "
                             "DRIFTLOOP_FEATURE_SERVICE")
        return domain.feature_service

    def deadline_s(self, rows: int) -> float:
        return (self.feature_deadline_ms + self.feature_deadline_per_row_ms * rows) / 1000

    def sqlite_path(self) -> Path:
        return self.data_dir / "feast" / "online.db"
