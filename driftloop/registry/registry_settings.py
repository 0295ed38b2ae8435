"""Where the registry lives: ``DRIFTLOOP_REGISTRY_URL`` (a directory or any fsspec URL such as
s3://bucket/registry), else ``DRIFTLOOP_DATA_DIR``/registry."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    """Shared by every process that opens the registry; services' settings classes may inherit
    it next to ``CommonSettings`` (``data_dir`` means the same in both)."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLOOP_", frozen=True, extra="ignore")

    registry_url: str | None = Field(
        None, description="Model registry: directory or fsspec URL; unset: DATA_DIR/registry.")
    data_dir: Path = Field(Path(".driftloop"), description="Local state: registry, offline store.")

    def registry_root(self) -> str:
        return self.registry_url or str(self.data_dir / "registry")
