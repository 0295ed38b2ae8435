"""Monitor: watches every prediction and label. River-style drift detectors per model version
(Page-Hinkley on each input feature and on the score, ADWIN on the labelled mistakes), live
quality per version for the champion and shadow challengers, the retraining loop of DESIGN.md
(debounced requests until quality is back), automatic rollback of a worse promotion, and a
recommendation for a challenger that beats the champion. State persists as JSON."""

from __future__ import annotations

from services.monitor.decisions import DriftFinding, RetrainDecision, RollbackDecision
from services.monitor.model_watcher import ModelWatcher, WatchConfig

__all__ = ["DriftFinding", "ModelWatcher", "RetrainDecision", "RollbackDecision", "WatchConfig"]
