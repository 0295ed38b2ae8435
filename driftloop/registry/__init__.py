"""Registry: model versions shared by the trainer, scorer, monitor and CLI. Each version is an
immutable ONNX file checked by sha256 plus JSON metadata (features, input/output names,
threshold, metrics, lineage); ``champion``/``challenger`` aliases and an append-only history
of every promotion, rejection and rollback; the record of every training run. Stored in a
directory or any fsspec URL; no pickle anywhere."""

from __future__ import annotations

from driftloop.registry.lifecycle import lifecycle_record
from driftloop.registry.model_registry import ModelRegistry
from driftloop.registry.model_version import ModelVersion
from driftloop.registry.registry_errors import IntegrityError, InvalidMetadata, RegistryError
from driftloop.registry.registry_settings import RegistrySettings
from driftloop.registry.run_tracker import RunTracker, git_code_version

__all__ = [
    "IntegrityError",
    "InvalidMetadata",
    "ModelRegistry",
    "ModelVersion",
    "RegistryError",
    "RegistrySettings",
    "RunTracker",
    "git_code_version",
    "lifecycle_record",
]
