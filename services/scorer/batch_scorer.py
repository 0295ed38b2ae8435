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
from driftloop.contracts.model_inputs import ModelInputs
from services.scorer.feature_source import FeatureRows, FeatureSource, Lookup
from services.scorer.label_policy import LabelPolicy, confidence
from services.scorer.model import Model
from services.scorer.model_holder import ModelHolder

log = logging.getLogger(__name__)


@dataclass
class ScoredBatch:
    """Records ready to encode: ``predictions`` line up with the input events; ``shadow`` is
    empty or lines up too; ``label_requests`` are (index into events, reason)."""

    predictions: list[dict[str, Any]]
    shadow: list[dict[str, Any]] = field(default_factory=list)
    label_requests: list[tuple[int, str]] = field(default_factory=list)
    degraded: bool = False
    #: predictions (and shadow records) whose model score was not finite: scored by the
    #: baseline instead and flagged degraded
    non_finite: int = 0
    shadow_non_finite: int = 0
    #: the champion that scored ``predictions`` (None for an empty batch): what explains them
    champion: Model | None = None


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
        """One lookup per distinct entity row: a batch often holds many events of one entity."""
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

    def _finite_scores(self, model: Model, matrix: np.ndarray,
                       derived: list[dict[str, float]], online: FeatureRows
                       ) -> tuple[list[float], list[bool]]:
        """The model's scores, where one is NaN or infinite the rule baseline's instead (a
        model can pass the golden batch and still break on inputs it never saw), and which
        rows fell back. One vectorised check per batch; the baseline runs only then."""
        scores = model.predict(matrix)
        bad = ~np.isfinite(scores)
        if not bad.any():
            return scores.tolist(), [False] * len(scores)
        baseline = self._holder.baseline
        fallback = baseline.predict(self._matrix(baseline, derived, online)[0])
        # The baseline is a logistic over finite inputs; 0.0 only if even it cannot answer.
        scores = np.where(bad, np.where(np.isfinite(fallback), fallback, 0.0), scores)
        log.warning("%s %s: %d of %d scores not finite, scored by %s", model.name,
                    model.version, int(bad.sum()), len(scores), baseline.version)
        return scores.tolist(), bad.tolist()

    def _records(self, model: Model, events: Sequence[Mapping[str, Any]],
                 derived: list[dict[str, float]], online: FeatureRows, arrived: float,
                 shadow: bool) -> tuple[list[dict[str, Any]], int]:
        """The records of one model, and how many fell back to the baseline."""
        matrix, defaulted = self._matrix(model, derived, online)
        scores, fell_back = self._finite_scores(model, matrix, derived, online)
        names = model.features
        rows = matrix.tolist()  # float32 values widened exactly: the input as the model saw it
        now = time.time()
        scored_at, latency_ms = int(now * 1000), (now - arrived) * 1000.0
        store_degraded = online.degraded and self._needs_store(model)
        model_threshold, fallback_threshold = model.threshold, self._holder.baseline.threshold
        dom = self._domain
        records = []
        for event, score, bad, row, missing, event_inputs, features, online_missing in zip(
                events, scores, fell_back, rows, defaulted, derived, online.values,
                online.defaulted or [[] for _ in events], strict=True):
            # A fallen-back row is the baseline's score at the baseline's operating point,
            # flagged degraded (so it is not training data), under the serving model's name.
            threshold = fallback_threshold if bad else model_threshold
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
                "degraded": store_degraded or bad,
                "shadow": shadow,
                "event_time": event[dom.event_time_field],
                "scored_at": scored_at,
                "latency_ms": latency_ms,
            })
        return records, sum(fell_back)

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
        predictions, non_finite = self._records(serving.champion, events, derived, online,
                                                arrived, False)
        batch = ScoredBatch(
            predictions, non_finite=non_finite, champion=serving.champion,
            degraded=online.degraded and self._needs_store(serving.champion, serving.challenger))
        if serving.challenger is not None:
            batch.shadow, batch.shadow_non_finite = self._records(
                serving.challenger, events, derived, online, arrived, True)
        for i, record in enumerate(batch.predictions):
            reason = self._policy.reason(record["event_id"], record["confidence"])
            record["label_reason"] = reason
            record["label_propensity"] = self._policy.propensity(record["confidence"])
            if reason is not None:
                batch.label_requests.append((i, reason))
        for champion, shadow in zip(batch.predictions, batch.shadow, strict=False):
            shadow["label_reason"] = champion["label_reason"]
            shadow["label_propensity"] = champion["label_propensity"]
        return batch
