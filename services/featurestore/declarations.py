"""Feature declarations: feature_repo/features.toml read without Feast.

The Feast .py files, the features service and the feature client all read this one file, so a
feature is declared once. Reading it needs only the standard library (tomllib): the scorer
must start fast and stay small, and ``import feast`` costs seconds and hundreds of MB."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REPO_DIR = Path(__file__).resolve().parents[2] / "feature_repo"

#: Aggregations the features service knows how to keep; a declaration names one of them.
AGGS = ("count", "sum", "mean", "max", "distinct", "seconds_since_last")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DeclarationError(ValueError):
    """features.toml declares something impossible (unknown agg, entity or view)."""


def parse_window(text: str) -> int:
    """``"10m"`` -> 600 seconds."""
    try:
        return int(text[:-1]) * _UNITS[text[-1]]
    except (KeyError, ValueError) as exc:
        raise DeclarationError(f"window {text!r} is not <number><s|m|h|d>") from exc


@dataclass(frozen=True)
class EntityDeclaration:
    name: str
    join_key: str
    event_field: str
    description: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: the aggregation of an event field over a window (None: no window)."""

    name: str
    view: str
    agg: str
    field: str
    window_s: int | None
    default: float


@dataclass(frozen=True)
class ViewDeclaration:
    name: str
    entity: EntityDeclaration
    ttl_days: int
    features: tuple[FeatureSpec, ...]
    description: str = ""

    @property
    def max_window_s(self) -> int:
        return max((f.window_s or 0 for f in self.features), default=0)


@dataclass(frozen=True)
class ServiceDeclaration:
    name: str
    views: tuple[ViewDeclaration, ...]
    description: str = ""

    @property
    def features(self) -> tuple[FeatureSpec, ...]:
        return tuple(f for view in self.views for f in view.features)


@dataclass(frozen=True)
class FeatureDeclarations:
    project: str
    lateness_s: int
    entities: dict[str, EntityDeclaration]
    views: dict[str, ViewDeclaration]
    services: dict[str, ServiceDeclaration]
    directory: Path

    def service(self, name: str) -> ServiceDeclaration:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise DeclarationError(f"no feature service {name!r} (declared: {known})") from None

    @classmethod
    def load(cls, directory: Path | None = None) -> FeatureDeclarations:
        directory = directory or DEFAULT_REPO_DIR
        raw = tomllib.loads((directory / "features.toml").read_text())
        entities = {
            name: EntityDeclaration(name, e["join_key"], e["event_field"], e.get("description", ""))
            for name, e in raw.get("entities", {}).items()
        }
        views: dict[str, ViewDeclaration] = {}
        for v in raw.get("views", []):
            if v["entity"] not in entities:
                raise DeclarationError(f"view {v['name']!r}: unknown entity {v['entity']!r}")
            views[v["name"]] = ViewDeclaration(
                v["name"], entities[v["entity"]], int(v.get("ttl_days", 1)),
                tuple(f for a in v.get("aggregates", []) for f in _expand(v["name"], a)),
                v.get("description", ""))
        services = {}
        for name, s in raw.get("services", {}).items():
            missing = [v for v in s["views"] if v not in views]
            if missing:
                raise DeclarationError(f"feature service {name!r}: unknown views {missing}")
            services[name] = ServiceDeclaration(
                name, tuple(views[v] for v in s["views"]), s.get("description", ""))
        return cls(raw["project"], int(raw.get("lateness_seconds", 0)), entities, views,
                   services, directory)


def _expand(view: str, aggregate: dict[str, object]) -> list[FeatureSpec]:
    """One aggregate entry -> its features, one per (agg, window)."""
    prefix = str(aggregate["prefix"])
    field = str(aggregate["field"])
    default = float(aggregate.get("default", 0.0))  # type: ignore[arg-type]
    aggs = list(aggregate.get("aggs", []))  # type: ignore[call-overload]
    windows = list(aggregate.get("windows", []))  # type: ignore[call-overload]
    specs = []
    for agg in aggs:
        if agg not in AGGS:
            raise DeclarationError(f"view {view!r}: unknown agg {agg!r} (known: {AGGS})")
        if agg == "seconds_since_last":
            specs.append(FeatureSpec(prefix, view, agg, field, None, default))
            continue
        if not windows:
            raise DeclarationError(f"view {view!r}: {prefix}_{agg} needs windows")
        for window in windows:
            specs.append(FeatureSpec(f"{prefix}_{agg}_{window}", view, agg, field,
                                     parse_window(str(window)), default))
    return specs
