"""Where online features come from, as the scorer sees it: one lookup per batch of entity ids
that never raises for store trouble and says when it fell back to defaults.
driftloop.featurestore.FeatureClient fits; ``StaticFeatures`` is an in-memory one for unit
tests and for running without a store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class FeatureRows(Protocol):
    """The shape of driftloop.featurestore.FeatureLookup."""

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def values(self) -> list[dict[str, float]]: ...

    @property
    def defaulted(self) -> list[list[str]]: ...

    @property
    def degraded(self) -> bool: ...


class FeatureSource(Protocol):
    """``feature_names``: every feature the source serves (the scorer logs them all, used by
    the model or not, so the next model can learn from them); ``defaults``: the value each
    takes when the store has none (the reference explanations start from); ``entity_row``:
    the join keys of an event."""

    @property
    def feature_names(self) -> list[str]: ...

    @property
    def defaults(self) -> Mapping[str, float]: ...

    def entity_row(self, event: Mapping[str, object]) -> dict[str, str]: ...

    async def lookup(self, entities: Sequence[Mapping[str, str]]) -> FeatureRows: ...

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
    """Features from a dict: entity id (the value of ``join_key``) -> {name: value}; absent
    ones get ``defaults``."""

    defaults: Mapping[str, float]
    rows: dict[str, dict[str, float]]
    join_key: str

    @property
    def feature_names(self) -> list[str]:
        return list(self.defaults)

    def entity_row(self, event: Mapping[str, object]) -> dict[str, str]:
        return {self.join_key: str(event[self.join_key])}

    async def lookup(self, entities: Sequence[Mapping[str, str]]) -> Lookup:
        names = list(self.defaults)
        values, defaulted = [], []
        for entity in entities:
            known = self.rows.get(entity[self.join_key], {})
            values.append({n: known.get(n, self.defaults[n]) for n in names})
            defaulted.append([n for n in names if n not in known])
        return Lookup(names, values, defaulted, False)

    async def close(self) -> None:
        return None
