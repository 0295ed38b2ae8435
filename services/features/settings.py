"""Features settings (DRIFTLOOP_FEATURES_* plus the common DRIFTLOOP_* ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from driftloop.featurestore import FeatureStoreSettings
from driftloop.runtime import CommonSettings


class FeaturesSettings(CommonSettings):
    redis_url: str | None = Field(
        None, description="Redis online store; unset: Feast's SQLite store under data_dir.")
    feature_repo: Path | None = Field(None, description="feature_repo/ folder; unset: built in.")
    features_port: int = Field(8003, description="HTTP port of /healthz, /readyz, /metrics.")
    features_group: str = Field(
        "features", description="Consumer group on events.valid; the second stage's group on "
        "features.repartition is this name + '.repartition'.")
    features_max_batch: int = Field(5000, ge=1, description="Events per micro-batch at most.")

    def repartition_group(self) -> str:
        return f"{self.features_group}.repartition"

    def store_settings(self) -> FeatureStoreSettings:
        return FeatureStoreSettings.model_validate(
            {"redis_url": self.redis_url, "data_dir": self.data_dir,
             "feature_repo": self.feature_repo})
