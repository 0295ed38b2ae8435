"""Where online features come from, as the scorer sees it: one lookup per batch of entity ids
that never raises for store trouble and says when it fell back to defaults.
services.featurestore.FeatureClient fits; ``StaticFeatures`` is an in-memory one for unit
tests and for running without a store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class FeatureRows(Protocol):
    """The shape of services.featurestore.FeatureLookup."""

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def values(self) -> list[dict[str, float]]: ...

    @property
    def defaulted(self) -> list[list[str]]: ...

    @property
    def degraded(self) -> bool: ...


class FeatureSource(Protocol):
    async def lookup(self, entity_ids: Sequence[str]) -> FeatureRows: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Lookup:
    """A plain FeatureRows, for sources of our own and for the scorer's own fallback."""

    feature_names: list[str]
    values: list[dict[str, float]]
    defaulted: list[list[str]]
    degraded: bool


@dataclass
class StaticFeatures:
    """Features from a dict: entity -> {name: value}; absent ones get ``defaults``."""

    defaults: Mapping[str, float]
    rows: dict[str, dict[str, float]] = field(default_factory=dict)

    async def lookup(self, entity_ids: Sequence[str]) -> Lookup:
        names = list(self.defaults)
        values, defaulted = [], []
        for entity in entity_ids:
            known = self.rows.get(entity, {})
            values.append({n: known.get(n, self.defaults[n]) for n in names})
            defaulted.append([n for n in names if n not in known])
        return Lookup(names, values, defaulted, False)

    async def close(self) -> None:
        return None
