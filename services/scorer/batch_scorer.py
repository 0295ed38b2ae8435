"""Scoring a batch of validated events: event-derived inputs plus one online-feature lookup
for the batch, assembled in the order each model declares, run through the champion (and the
challenger, in shadow), with label requests decided by the policy. Shared by the Kafka and the
HTTP paths so both score alike. No Kafka, no HTTP here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftloop.contracts import Domain
from services.scorer.feature_source import FeatureRows, FeatureSource, Lookup
from services.scorer.label_policy import LabelPolicy, confidence
from services.scorer.model import Model
from services.scorer.model_holder import ModelHolder
from services.scorer.model_inputs import ModelInputs

log = logging.getLogger(__name__)


@dataclass
class ScoredBatch:
    """Records ready to encode: ``predictions`` line up with the input events; ``shadow`` is
    empty or lines up too; ``label_requests`` are (index into events, reason)."""

    predictions: list[dict[str, Any]]
    shadow: list[dict[str, Any]] = field(default_factory=list)
    label_requests: list[tuple[int, str]] = field(default_factory=list)
    degraded: bool = False


class BatchScorer:
    def __init__(self, domain: Domain, inputs: ModelInputs, features: FeatureSource,
                 holder: ModelHolder, policy: LabelPolicy, deadline_s: float = 0.5) -> None:
        self._domain = domain
        self._inputs = inputs
        self._input_names = frozenset(inputs.names)
        self._features = features
        self._holder = holder
        self._policy = policy
        self._deadline_s = deadline_s

    async def _lookup(self, entity_rows: list[dict[str, str]]) -> FeatureRows:
        try:
            return await asyncio.wait_for(self._features.lookup(entity_rows), self._deadline_s)
        except Exception as exc:  # the client should never raise; if it does, degrade anyway
            log.warning("feature lookup failed (%r); scoring with defaults", exc)
            # every feature of the source was defaulted, as the client itself would report
            names = list(self._features.feature_names)
            return Lookup(names, [{} for _ in entity_rows], [list(names) for _ in entity_rows],
                          True)

    async def _online(self, events: Sequence[Mapping[str, Any]]) -> FeatureRows:
        """One lookup per distinct entity row: a batch often holds many events of one card."""
        rows = [self._features.entity_row(e) for e in events]
        keys = [tuple(sorted(r.items())) for r in rows]
        unique = dict(zip(keys, rows, strict=True))
        found = await self._lookup(list(unique.values()))
        at = {key: i for i, key in enumerate(unique)}
        return Lookup(list(found.feature_names),
                      [found.values[at[key]] for key in keys],
                      [found.defaulted[at[key]] for key in keys]
                      if found.defaulted else [[] for _ in keys],
                      found.degraded)

    def _matrix(self, model: Model, derived: list[dict[str, float]], online: FeatureRows
                ) -> tuple[np.ndarray, list[list[str]]]:
        names = model.features
        matrix = np.empty((len(derived), len(names)), np.float32)
        defaulted: list[list[str]] = []
        online_names = [n for n in names if n not in self._input_names]
        for i, (event_inputs, features) in enumerate(zip(derived, online.values, strict=True)):
            matrix[i] = [event_inputs[n] if n in event_inputs else features.get(n, 0.0)
                         for n in names]
            if online_names:
                missing = set(online.defaulted[i]) if online.defaulted else set()
                defaulted.append([n for n in online_names if n in missing or n not in features])
            else:
                defaulted.append([])
        return matrix, defaulted

    def _records(self, model: Model, events: Sequence[Mapping[str, Any]],
                 derived: list[dict[str, float]], online: FeatureRows, arrived: float,
                 shadow: bool) -> list[dict[str, Any]]:
        matrix, defaulted = self._matrix(model, derived, online)
        scores = model.predict(matrix).tolist()
        names = model.features
        rows = matrix.tolist()  # float32 values widened exactly: the input as the model saw it
        now = time.time()
        scored_at, latency_ms = int(now * 1000), (now - arrived) * 1000.0
        threshold = model.threshold
        degraded = online.degraded and self._needs_store(model)
        dom = self._domain
        records = []
        for event, score, row, missing, event_inputs, features, online_missing in zip(
                events, scores, rows, defaulted, derived, online.values,
                online.defaulted or [[] for _ in events], strict=True):
            # The model's input exactly as scored, then every other input available now (event
            # inputs and online features): a retrained model may learn from any of them, and a
            # training row can only hold what was logged when the event was scored.
            logged = dict(zip(names, row, strict=True))
            for name, value in event_inputs.items():
                logged.setdefault(name, value)
            for name, value in features.items():
                logged.setdefault(name, value)
            records.append({
                "event_id": event[dom.event_id_field],
                "entity_id": event[dom.entity_field],
                "model_name": model.name,
                "model_version": model.version,
                "score": score,
                "label": 1 if score >= threshold else 0,
                "confidence": confidence(score, threshold),
                "threshold": threshold,
                "features": logged,
                "defaulted_features": missing + [n for n in online_missing if n not in missing],
                "degraded": degraded,
                "shadow": shadow,
                "event_time": event[dom.event_time_field],
                "scored_at": scored_at,
                "latency_ms": latency_ms,
            })
        return records

    def _needs_store(self, *models: Model | None) -> bool:
        return any(m is not None and any(n not in self._input_names for n in m.features)
                   for m in models)

    async def score(self, events: Sequence[Mapping[str, Any]], arrived: float | None = None
                    ) -> ScoredBatch:
        arrived = time.time() if arrived is None else arrived
        serving = self._holder.snapshot()  # one pair of models for the whole batch
        if not events:
            return ScoredBatch([])
        derived = [self._inputs.compute(e) for e in events]
        # Looked up whatever the models need: the features are logged with every prediction.
        online: FeatureRows = (await self._online(events) if self._features.feature_names
                               else Lookup([], [{} for _ in events], [[] for _ in events], False))
        batch = ScoredBatch(
            self._records(serving.champion, events, derived, online, arrived, False),
            degraded=online.degraded and self._needs_store(serving.champion, serving.challenger))
        if serving.challenger is not None:
            batch.shadow = self._records(serving.challenger, events, derived, online, arrived,
                                         True)
        for i, record in enumerate(batch.predictions):
            reason = self._policy.reason(record["event_id"], record["confidence"])
            if reason is not None:
                batch.label_requests.append((i, reason))
        return batch
