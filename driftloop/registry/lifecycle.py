"""ModelLifecycle records (schemas/model_lifecycle.avsc) built from a model version, so every
change the registry makes is published the same way by the trainer, the monitor and the CLI."""

from __future__ import annotations

import time
from typing import Any

from driftloop.registry.model_version import ModelVersion

LIFECYCLE_SCHEMA = "driftloop.models.ModelLifecycle"
ACTIONS = ("TRAINED", "PROMOTED", "REJECTED", "ROLLED_BACK", "CHALLENGER", "OTHER")


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The Avro map holds doubles: keep the scalar metrics, drop matrices and text."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def string_lineage(lineage: dict[str, Any]) -> dict[str, str]:
    """The Avro map holds strings: scalars as text, nested values left to the registry."""
    return {k: str(v) for k, v in lineage.items()
            if v is not None and isinstance(v, str | int | float | bool)}


def lifecycle_record(
    action: str,
    mv: ModelVersion,
    *,
    previous: str | None,
    reason: str,
    actor: str,
    metrics: dict[str, float] | None = None,
    lineage: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A record ready for ``AvroCodec.encode("driftloop.models.ModelLifecycle", ...)``.
    Metrics and lineage default to the version's own (held-out metrics, training lineage)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown lifecycle action {action!r}; one of {ACTIONS}")
    return {
        "model_name": mv.model_name,
        "action": action,
        "version": mv.version,
        "previous_version": previous,
        "sha256": mv.sha256,
        "reason": reason,
        "actor": actor,
        "metrics": numeric_metrics(mv.metrics if metrics is None else metrics),
        "lineage": string_lineage(mv.lineage if lineage is None else lineage),
        "at": int(time.time() * 1000),
    }


def refusal_record(promotion: dict[str, Any], *, previous: str | None, reason: str,
                   actor: str) -> dict[str, Any]:
    """The REJECTED record a consumer publishes when it refuses a version a lifecycle record
    asked it to serve (``promotion``, as decoded): same model, version and digest, who refused
    it and why, and ``previous`` the version still serving."""
    return {**promotion, "action": "REJECTED", "previous_version": previous, "reason": reason,
            "actor": actor, "at": int(time.time() * 1000)}
