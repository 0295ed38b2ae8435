"""Every detector of one model version: data drift per input feature and prediction drift on
the score (label-free, from the predictions alone), concept drift on the labelled mistakes,
and live quality.

Features have different units (an amount in euros, a count per hour), so each stream is
standardised with the mean and spread of the version's first ``warmup`` predictions: the
Page-Hinkley ``delta`` and ``threshold`` are then in standard deviations, one setting for
every feature and every domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.monitor.decisions import DriftFinding
from services.monitor.error_detector import ErrorDetector, ErrorShift
from services.monitor.live_quality import LiveQuality
from services.monitor.page_hinkley import VectorPageHinkley

SCORE = "score"


@dataclass(frozen=True)
class DetectorConfig:
    warmup: int = 500
    ph_delta: float = 0.1
    ph_threshold: float = 100.0
    # No fading: with alpha < 1 the faded sum wanders with a spread of ~1/sqrt(2(1-alpha))
    # standard deviations (70 at River's 0.9999) and crosses any useful threshold on a
    # stationary stream after ~10k events. Without it a false alarm needs ~exp(-2 delta h).
    ph_alpha: float = 1.0
    ph_min_instances: int = 30
    adwin_delta: float = 0.002
    quality_window: int = 2000


class VersionWatch:
    def __init__(self, model_name: str, version: str, feature_names: Sequence[str],
                 config: DetectorConfig) -> None:
        self.model_name = model_name
        self.version = version
        self.config = config
        # Shadow versions see the same inputs as the champion: they get no second set of
        # feature detectors (empty ``feature_names``), only their own score.
        self.feature_names = list(feature_names)
        self.streams = [*self.feature_names, SCORE]
        self.predictions = 0
        self._warm: list[NDArray[np.float64]] = []
        self.center: NDArray[np.float64] | None = None
        self.spread: NDArray[np.float64] | None = None
        self.ph = VectorPageHinkley(
            len(self.streams), min_instances=config.ph_min_instances, delta=config.ph_delta,
            threshold=config.ph_threshold, alpha=config.ph_alpha)
        self.errors = ErrorDetector(config.adwin_delta)
        self.quality = LiveQuality(config.quality_window)
        self.last_statistic = np.zeros(len(self.streams))
        self.alarms = np.zeros(len(self.streams), dtype=np.int64)
        self.muted_until = np.zeros(len(self.streams), dtype=np.int64)

    def matrix(self, features: Sequence[dict[str, float]], scores: Sequence[float]
               ) -> NDArray[np.float64]:
        """Rows of [features..., score]; a feature missing from a record counts as its
        reference mean (no evidence of drift), never as zero."""
        names = self.feature_names
        out = np.empty((len(scores), len(self.streams)))
        nan = float("nan")
        for i, f in enumerate(features):
            out[i, :-1] = [f.get(name, nan) for name in names]
        out[:, -1] = scores
        return out

    def observe(self, values: NDArray[np.float64]) -> list[DriftFinding]:
        """Feed a batch of predictions (rows of ``matrix``); returns the drifts found."""
        if values.shape[0] == 0:
            return []
        self.predictions += values.shape[0]
        if self.center is None:
            need = self.config.warmup - sum(w.shape[0] for w in self._warm)
            self._warm.append(values[:need])
            values = values[need:]
            if sum(w.shape[0] for w in self._warm) >= self.config.warmup:
                self._set_reference(np.vstack(self._warm))
                self._warm = []
            if values.shape[0] == 0:
                return []
        assert self.center is not None and self.spread is not None
        z = (values - self.center) / self.spread
        z = np.where(np.isnan(z), 0.0, z)
        findings = []
        first_row = self.predictions - values.shape[0]
        for det in self.ph.update(z):
            subject = self.streams[det.column]
            # Report the drifted stream's mean in its own units: what a person can read.
            mean = float(det.mean * self.spread[det.column] + self.center[det.column])
            self.last_statistic[det.column] = mean
            # A trend (a window count growing after start-up, prices creeping up) fires again
            # and again: after each signal a stream stays quiet twice as long as last time
            # (warm-up sized, up to 1,024 warm-ups), so a trend is a few signals, not a flood.
            at = first_row + det.row
            if at < self.muted_until[det.column]:
                continue
            self.alarms[det.column] += 1
            backoff = 2 ** min(int(self.alarms[det.column]), 10)
            self.muted_until[det.column] = at + self.config.warmup * backoff
            findings.append(DriftFinding(
                detector="page_hinkley", kind="PREDICTION" if subject == SCORE else "DATA",
                subject=subject, statistic=mean, window_events=int(self.ph.n[det.column]) or
                det.seen, events_seen=det.seen + self.config.warmup, model_name=self.model_name,
                model_version=self.version))
        return findings

    def _set_reference(self, warm: NDArray[np.float64]) -> None:
        center = np.nanmean(warm, axis=0)
        spread = np.nanstd(warm, axis=0)
        # A constant stream gets unit spread: any later change is then plainly visible.
        self.center = np.where(np.isnan(center), 0.0, center)
        self.spread = np.where((spread > 1e-12) & ~np.isnan(spread), spread, 1.0)

    def labelled(self, score: float, decided: int, truth: int, weight: float = 1.0
                 ) -> ErrorShift | None:
        """Quality takes the label at its selection weight; the change detector sees every
        mistake as it comes (it looks for a change in the stream of labels, not a level)."""
        self.quality.add(score, decided, truth, weight)
        return self.errors.update(int(decided != truth))

    # -- persistence as data -----------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name, "version": self.version,
            "feature_names": self.feature_names, "predictions": self.predictions,
            "warm": [w.tolist() for w in self._warm],
            "center": None if self.center is None else self.center.tolist(),
            "spread": None if self.spread is None else self.spread.tolist(),
            "ph": self.ph.to_state(), "errors": self.errors.to_state(),
            "quality": self.quality.to_state(),
            "alarms": self.alarms.tolist(), "muted_until": self.muted_until.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: DetectorConfig) -> VersionWatch:
        watch = cls(state["model_name"], state["version"], state["feature_names"], config)
        watch.predictions = int(state["predictions"])
        watch._warm = [np.asarray(w, dtype=np.float64).reshape(-1, len(watch.streams))
                       for w in state["warm"]]
        if state["center"] is not None:
            watch.center = np.asarray(state["center"], dtype=np.float64)
            watch.spread = np.asarray(state["spread"], dtype=np.float64)
        watch.ph = VectorPageHinkley.from_state(state["ph"])
        watch.errors = ErrorDetector.from_state(state["errors"])
        watch.quality = LiveQuality.from_state(state["quality"])
        if "alarms" in state:  # snapshots written before the back-off have none
            watch.alarms = np.asarray(state["alarms"], dtype=np.int64)
            watch.muted_until = np.asarray(state["muted_until"], dtype=np.int64)
        return watch
