"""Feast itself, for the processes that may pay for it (features service, trainer): the
store built from feature_repo/ with a deployment's paths, idempotent ``feast apply``, and
point-in-time training sets. ``feast`` is imported inside the functions, never at module
import, so importing driftloop.featurestore stays cheap for the scorer."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import yaml

from driftloop.featurestore.declarations import DEFAULT_REPO_DIR
from driftloop.featurestore.settings import FeatureStoreSettings

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore


def redis_connection_string(url: str) -> str:
    """redis://[:password@]host:port/db -> Feast's ``host:port,db=N[,password=...]``."""
    parsed = urlparse(url)
    parts = [f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"]
    db = (parsed.path or "/0").lstrip("/") or "0"
    parts.append(f"db={db}")
    if parsed.password:
        parts.append(f"password={parsed.password}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def repo_config_dict(settings: FeatureStoreSettings) -> dict[str, Any]:
    """feature_store.yaml with the deployment's registry, online store and paths."""
    repo = settings.feature_repo or DEFAULT_REPO_DIR
    raw: dict[str, Any] = yaml.safe_load((repo / "feature_store.yaml").read_text())
    feast_dir = (settings.data_dir / "feast").resolve()
    raw["registry"] = str(feast_dir / "registry.db")
    if settings.redis_url:
        raw["online_store"] = {"type": "redis",
                               "connection_string": redis_connection_string(settings.redis_url)}
    else:
        raw["online_store"] = {"type": "sqlite", "path": str(settings.sqlite_path().resolve())}
    return raw


def feature_store(settings: FeatureStoreSettings) -> FeatureStore:
    from feast import FeatureStore, RepoConfig

    repo = (settings.feature_repo or DEFAULT_REPO_DIR).resolve()
    (settings.data_dir / "feast").mkdir(parents=True, exist_ok=True)
    config = RepoConfig(repo_path=repo, **repo_config_dict(settings))
    return FeatureStore(config=config)


def apply_repo(settings: FeatureStoreSettings) -> FeatureStore:
    """``feast apply`` of feature_repo/ against this deployment; applying twice is a no-op."""
    import importlib

    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource

    repo = (settings.feature_repo or DEFAULT_REPO_DIR).resolve()
    # The repo's sources read DRIFTLOOP_DATA_DIR when Feast imports them, as under the CLI;
    # drop earlier imports so a process serving another data dir (tests) re-reads it.
    os.environ["DRIFTLOOP_DATA_DIR"] = str(settings.data_dir.resolve())
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    for path in repo.glob("*.py"):
        sys.modules.pop(path.stem, None)
    # Collect what the modules declare, as Feast's parse_repo does (which needs cwd = repo).
    kinds = (Entity, DataSource, FeatureView, FeatureService)
    objects: list[Any] = []
    for path in sorted(repo.glob("*.py")):
        module = importlib.import_module(path.stem)
        for value in vars(module).values():
            if isinstance(value, kinds) and not any(value is o for o in objects):
                objects.append(value)
    store = feature_store(settings)
    store.apply(objects)
    return store


def training_set(settings: FeatureStoreSettings, entity_df: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time correct features for ``entity_df`` (join keys + ``event_timestamp``):
    each row gets the newest feature row at or before its own timestamp, never a later one,
    through the feature service named in settings (Feast's duckdb offline store)."""
    store = feature_store(settings)
    service = store.get_feature_service(settings.service_name())
    frame = entity_df.copy()
    frame["event_timestamp"] = frame["event_timestamp"].astype("datetime64[us, UTC]")
    job = store.get_historical_features(entity_df=frame, features=service,
                                        full_feature_names=False)
    return job.to_df()
