"""The feature client shared by scorer and trainer: a batched online lookup of a feature
service's features with a deadline and a circuit breaker, falling back to the declared
defaults and saying which features were defaulted. It never raises for store trouble: a
scorer scores with defaults (and says so) rather than failing or stalling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from driftloop.featurestore.circuit_breaker import CircuitBreaker
from driftloop.featurestore.declarations import FeatureDeclarations
from driftloop.featurestore.online_store import (
    EntityRow,
    OnlineStore,
    RedisOnlineStore,
    SqliteOnlineStore,
)
from driftloop.featurestore.settings import FeatureStoreSettings

log = logging.getLogger(__name__)

#: The Redis socket timeout is the deadline of a batch this large: the per-lookup deadline
#: (``asyncio.wait_for``) cuts sooner; the socket's only guards a frozen server.
LARGEST_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class FeatureLookup:
    feature_names: list[str]
    values: list[dict[str, float]]
    defaulted: list[list[str]]
    degraded: bool


class FeatureClient:
    def __init__(self, store: OnlineStore, declarations: FeatureDeclarations, service: str,
                 deadline_s: float, breaker: CircuitBreaker, per_row_s: float = 0.0) -> None:
        self._store = store
        declared = declarations.service(service)
        specs = declared.features
        self.feature_names = [f.name for f in specs]
        #: join key -> the event field that names the entity, for every entity of the service
        self.entity_fields: dict[str, str] = {
            v.entity.join_key: v.entity.event_field for v in declared.views}
        self._single_key = next(iter(self.entity_fields)) if len(self.entity_fields) == 1 \
            else None
        self._defaults = {f.name: f.default for f in specs}
        # A lookup's time grows with its rows: a fixed deadline fails every large batch, so
        # a scorer catching up on a backlog would open the breaker and score the whole
        # backlog with defaults (which makes the next batches larger still).
        self._deadline_s = deadline_s
        self._per_row_s = per_row_s
        self.breaker = breaker

    @classmethod
    def from_settings(cls, settings: FeatureStoreSettings) -> FeatureClient:
        """Builds the client; opens no connection (Redis connects on the first lookup)."""
        declarations = FeatureDeclarations.load(settings.feature_repo)
        service = declarations.service(settings.service_name())
        store: OnlineStore
        if settings.redis_url:
            store = RedisOnlineStore(settings.redis_url, declarations.project, service,
                                     settings.deadline_s(LARGEST_BATCH_ROWS))
        else:
            store = SqliteOnlineStore(settings.sqlite_path(), declarations.project, service)
        breaker = CircuitBreaker(settings.feature_breaker_failures,
                                 settings.feature_breaker_reset_s)
        return cls(store, declarations, service.name, settings.deadline_s(0),
                   breaker, settings.feature_deadline_per_row_ms / 1000)

    @property
    def defaults(self) -> dict[str, float]:
        """The declared default of every feature: what a lookup answers when it has none."""
        return dict(self._defaults)

    def _defaults_for(self, count: int) -> FeatureLookup:
        return FeatureLookup(self.feature_names, [dict(self._defaults) for _ in range(count)],
                             [list(self.feature_names) for _ in range(count)], True)

    def entity_row(self, event: Mapping[str, object]) -> dict[str, str]:
        """The entity row of an event: each join key from the event field that names it."""
        return {key: str(event[field]) for key, field in self.entity_fields.items()
                if event.get(field) is not None}

    def _rows(self, entities: Sequence[str | EntityRow]) -> list[EntityRow]:
        if all(not isinstance(e, str) for e in entities):
            return entities  # type: ignore[return-value]
        if self._single_key is None:
            raise TypeError("a feature service of several entities is looked up by entity "
                            f"rows (join key -> id): {sorted(self.entity_fields)}")
        key = self._single_key
        return [{key: e} if isinstance(e, str) else e for e in entities]

    async def lookup(self, entities: Sequence[str | EntityRow]) -> FeatureLookup:
        """Features of each entity row (join key -> id, Feast's ``entity_rows``); a plain id
        stands for the row of a single-entity service."""
        if not entities:
            return FeatureLookup(self.feature_names, [], [], False)
        entity_rows = self._rows(entities)
        if not self.breaker.allow():
            return self._defaults_for(len(entity_rows))
        try:
            rows = await asyncio.wait_for(
                self._store.read(entity_rows),
                self._deadline_s + self._per_row_s * len(entity_rows))
        except Exception as exc:  # timeout, connection refused, protocol error: all degrade
            self.breaker.failure()
            log.warning("online lookup failed (%s), serving defaults; breaker %s",
                        type(exc).__name__, self.breaker.state)
            return self._defaults_for(len(entity_rows))
        self.breaker.success()
        values, defaulted = [], []
        for row in rows:
            missing = [n for n in self.feature_names if n not in row]
            for name in missing:
                row[name] = self._defaults[name]
            values.append(row)
            defaulted.append(missing)
        return FeatureLookup(self.feature_names, values, defaulted, False)

    async def close(self) -> None:
        await self._store.close()
