"""A domain: which event schema the platform carries and which of its fields name the entity,
the event id and the event time. Adding a domain is adding files (a schema in schemas/, a
domains/NAME.json, feature declarations), not changing service code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DOMAINS_DIR = Path(__file__).resolve().parents[2] / "domains"


@dataclass(frozen=True)
class Domain:
    name: str
    event_schema: str
    entity_field: str
    event_id_field: str
    event_time_field: str
    model_name: str
    # what a yes/no decision is worth (the trainer's thresholds and scores); None: F1
    objective: dict[str, Any] | None = None
    # the feature service (feature_repo) its models read online features from
    feature_service: str | None = None

    @classmethod
    def load(cls, name: str, directory: Path | None = None) -> Domain:
        path = (directory or DEFAULT_DOMAINS_DIR) / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"unknown domain {name!r}: {path} does not exist")
        raw = json.loads(path.read_text())
        return cls(
            name=raw["name"],
            event_schema=raw["event_schema"],
            entity_field=raw["entity_field"],
            event_id_field=raw["event_id_field"],
            event_time_field=raw["event_time_field"],
            model_name=raw["model_name"],
            objective=raw.get("objective"),
            feature_service=raw.get("feature_service"),
        )
