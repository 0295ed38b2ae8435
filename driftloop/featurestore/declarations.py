"""Feature declarations: every domain's features.toml (domains/NAME/), read without Feast.

feature_repo/features.toml names the Feast project; each domain declares its own entities,
views and feature services beside its schema. The Feast .py files, the features service and
the feature client all read them through this module, so a feature is declared (and named)
once. Reading it needs only the standard library (tomllib): the scorer
must start fast and stay small, and ``import feast`` costs seconds and hundreds of MB."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.contracts.domain import FEATURES_FILE, domains_dir

DEFAULT_REPO_DIR = Path(__file__).resolve().parents[2] / "feature_repo"

#: Aggregations the features service knows how to keep; a declaration names one of them.
AGGS = ("count", "sum", "mean", "max", "distinct", "seconds_since_last", "rate")
#: What a bucketed view can keep: sums and counts per time bucket add up to any window, so
#: an entity costs one small row per bucket however many events it sees.
BUCKETED_AGGS = ("count", "sum", "mean", "rate")
#: Inputs an aggregate may read: the domain's events (timed by the event time) or the labels
#: topic (timed by ``labelled_at``, so a rate as of t only counts labels known at t).
SOURCES = ("events", "labels")
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
    """One feature: the aggregation of an input field over a window (None: no window).

    ``source`` says which input it reads (``SOURCES``); ``bucket_s`` is the time bucket of a
    bucketed view's aggregate; ``prior`` and ``prior_weight`` shrink a ``rate`` toward a
    declared value: ``(sum + prior * prior_weight) / (count + prior_weight)``."""

    name: str
    view: str
    agg: str
    field: str
    window_s: int | None
    default: float
    source: str = "events"
    bucket_s: int | None = None
    prior: float = 0.0
    prior_weight: float = 0.0


@dataclass(frozen=True)
class ViewDeclaration:
    """A feature view. ``bucket_s`` set: the view is bucketed (sums per time bucket, for
    hot entities); ``lateness_s``: how far behind its entity's newest input an input may
    arrive and still count."""

    name: str
    entity: EntityDeclaration
    ttl_days: int
    features: tuple[FeatureSpec, ...]
    description: str = ""
    bucket_s: int | None = None
    lateness_s: int = 0

    @property
    def max_window_s(self) -> int:
        return max((f.window_s or 0 for f in self.features), default=0)

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(f.source for f in self.features)


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
    entities: dict[str, EntityDeclaration]
    views: dict[str, ViewDeclaration]
    services: dict[str, ServiceDeclaration]
    directory: Path
    files: tuple[Path, ...] = ()

    @property
    def lateness_s(self) -> int:
        """The longest lateness any view accepts (how long a label waits for its event)."""
        return max((v.lateness_s for v in self.views.values()), default=0)

    def service(self, name: str) -> ServiceDeclaration:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise DeclarationError(f"no feature service {name!r} (declared: {known})") from None

    @classmethod
    def load(cls, directory: Path | None = None, domains: Path | None = None
             ) -> FeatureDeclarations:
        """The project of ``directory``/features.toml (default: feature_repo/) and what it
        and every domain folder's features.toml declare (default: DRIFTLOOP_DOMAINS_DIR or
        domains/). Names are global: two files declaring one name is an error."""
        directory = directory or DEFAULT_REPO_DIR
        repo_file = directory / "features.toml"
        project = tomllib.loads(repo_file.read_text())["project"]
        files = [repo_file, *sorted((domains or domains_dir()).glob(f"*/{FEATURES_FILE}"))]
        entities: dict[str, EntityDeclaration] = {}
        views: dict[str, ViewDeclaration] = {}
        services: dict[str, ServiceDeclaration] = {}
        for path in files:
            _read(path, entities, views, services)
        return cls(project, entities, views, services, directory, tuple(files))


def _claim(kind: str, name: str, taken: dict[str, Any], path: Path) -> None:
    if name in taken:
        raise DeclarationError(f"{path}: {kind} {name!r} is declared twice (names are shared "
                               "by every domain of one Feast project)")


def _read(path: Path, entities: dict[str, EntityDeclaration],
          views: dict[str, ViewDeclaration], services: dict[str, ServiceDeclaration]) -> None:
    """Add one features.toml's declarations; its ``lateness_seconds`` is its views' default."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{path}: {exc}") from exc
    for name, e in raw.get("entities", {}).items():
        _claim("entity", name, entities, path)
        entities[name] = EntityDeclaration(name, e["join_key"], e["event_field"],
                                           e.get("description", ""))
    lateness_s = int(raw.get("lateness_seconds", 0))
    for v in raw.get("views", []):
        _claim("view", v["name"], views, path)
        if v["entity"] not in entities:
            raise DeclarationError(f"{path}: view {v['name']!r}: unknown entity {v['entity']!r}")
        bucket_s = parse_window(str(v["bucket"])) if "bucket" in v else None
        views[v["name"]] = ViewDeclaration(
            v["name"], entities[v["entity"]], int(v.get("ttl_days", 1)),
            tuple(f for a in v.get("aggregates", [])
                  for f in _expand(v["name"], a, bucket_s)),
            v.get("description", ""), bucket_s,
            int(v.get("lateness_seconds", lateness_s)))
    for name, s in raw.get("services", {}).items():
        _claim("feature service", name, services, path)
        missing = [v for v in s["views"] if v not in views]
        if missing:
            raise DeclarationError(f"{path}: feature service {name!r}: unknown views {missing}")
        services[name] = ServiceDeclaration(
            name, tuple(views[v] for v in s["views"]), s.get("description", ""))


def _expand(view: str, aggregate: dict[str, Any], view_bucket_s: int | None
            ) -> list[FeatureSpec]:
    """One aggregate entry -> its features, one per (agg, window)."""
    prefix = str(aggregate["prefix"])
    field = str(aggregate["field"])
    default = float(aggregate.get("default", 0.0))
    aggs = list(aggregate.get("aggs", []))
    windows = list(aggregate.get("windows", []))
    source = str(aggregate.get("source", "events"))
    if source not in SOURCES:
        raise DeclarationError(f"view {view!r}: unknown source {source!r} (known: {SOURCES})")
    bucket_s = parse_window(str(aggregate["bucket"])) if "bucket" in aggregate \
        else view_bucket_s
    if view_bucket_s is None and (bucket_s is not None or source != "events"):
        raise DeclarationError(f"view {view!r}: {prefix} needs a bucketed view (bucket = ...)")
    prior = float(aggregate.get("prior", 0.0))
    prior_weight = float(aggregate.get("prior_weight", 0.0))
    specs = []
    for agg in aggs:
        if agg not in AGGS:
            raise DeclarationError(f"view {view!r}: unknown agg {agg!r} (known: {AGGS})")
        if bucket_s is not None and agg not in BUCKETED_AGGS:
            raise DeclarationError(
                f"view {view!r}: {agg!r} cannot be bucketed (bucketed: {BUCKETED_AGGS})")
        if agg == "rate" and (bucket_s is None or prior_weight <= 0 or not 0 <= prior <= 1):
            raise DeclarationError(f"view {view!r}: {prefix}_rate needs a bucketed view, "
                                   "a prior in [0, 1] and a prior_weight > 0")
        if agg == "seconds_since_last":
            specs.append(FeatureSpec(prefix, view, agg, field, None, default))
            continue
        if not windows:
            raise DeclarationError(f"view {view!r}: {prefix}_{agg} needs windows")
        for window in windows:
            window_s = parse_window(str(window))
            if bucket_s is not None and window_s % bucket_s:
                raise DeclarationError(f"view {view!r}: window {window} is not a whole "
                                       f"number of {bucket_s}s buckets")
            # A rate with no inputs is its prior (never 0/0): that is also its default.
            specs.append(FeatureSpec(
                f"{prefix}_{agg}_{window}", view, agg, field, window_s,
                prior if agg == "rate" else default, source, bucket_s, prior, prior_weight))
    return specs
