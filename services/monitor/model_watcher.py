"""The monitor's pure core: predictions, labels and lifecycle events in, decisions out.

It joins each label to the predictions made for the same event (the champion's and any
shadow challenger's), feeds every version's detectors and live quality, follows promotions
and rollbacks, and asks the three policies (retrain, rollback, challenger) what to do. No
Kafka, no clock, no files: the service passes decoded records and the time, and persists
``to_state()`` as JSON."""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.monitor.challenger_policy import ChallengerConfig, ChallengerPolicy
from services.monitor.change_point import error_change_point
from services.monitor.decisions import Decision, DriftFinding
from services.monitor.retrain_policy import RetrainConfig, RetrainPolicy
from services.monitor.rollback_policy import RollbackConfig, RollbackPolicy
from services.monitor.version_watch import DetectorConfig, VersionWatch

STATE_VERSION = 1


@dataclass(frozen=True)
class WatchConfig:
    detectors: DetectorConfig = field(default_factory=DetectorConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    rollback: RollbackConfig = field(default_factory=RollbackConfig)
    challenger: ChallengerConfig = field(default_factory=ChallengerConfig)
    #: Predictions waiting for their label; the oldest are forgotten beyond this.
    pending_capacity: int = 200_000
    #: Labels that arrived before their prediction (the topics are not ordered together).
    orphan_capacity: int = 20_000
    #: The largest selection weight a label gets (see ``label_weight``).
    max_label_weight: float = 1.0


class ModelState:
    """What the watcher knows about one model name."""

    def __init__(self, name: str, config: WatchConfig) -> None:
        self.name = name
        self.champion: str | None = None
        self.champion_since: dict[str, int] = {}  # version -> its labelled count then
        self.versions: dict[str, VersionWatch] = {}
        self.shadows: set[str] = set()
        self.retrain = RetrainPolicy(name, config.retrain)
        self.rollback = RollbackPolicy(name, config.rollback)
        self.challenger = ChallengerPolicy(name, config.challenger)
        # Event times and mistakes (0/1) of the champion's recent labelled events: where,
        # in event time, its error rate rose (the window a new model should learn from).
        self.label_times: deque[int] = deque(maxlen=50_000)
        self.label_errors: deque[int] = deque(maxlen=50_000)

    def change_time(self, labels: int, adwin_after_n: int, fallback: int) -> int:
        """When the champion's error rose: the best single split of its last ``labels``
        labelled events (those it served as champion), else ADWIN's coarser cut."""
        n = min(labels, len(self.label_times))
        if n:
            times, errors = list(self.label_times)[-n:], list(self.label_errors)[-n:]
            found = error_change_point(times, errors)
            if found is not None:
                return found
        back = min(adwin_after_n, len(self.label_times))
        return self.label_times[-back] if back else fallback


class ModelWatcher:
    def __init__(self, config: WatchConfig | None = None) -> None:
        self.config = config or WatchConfig()
        self.models: dict[str, ModelState] = {}
        # event_id -> [(model, version, score, decided, shadow, event_time_ms)]
        # event id -> (model, version, score, decided, shadow, event time, label weight)
        self.pending: OrderedDict[str, list[tuple[str, str, float, int, bool, int, float]]] = (
            OrderedDict())
        self.orphans: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self.label_lags_s: list[float] = []  # drained by the service into its histogram
        self.findings = 0
        self.labels_joined = 0
        self.labels_unmatched = 0

    def model(self, name: str) -> ModelState:
        state = self.models.get(name)
        if state is None:
            state = self.models[name] = ModelState(name, self.config)
        return state

    def _version(self, m: ModelState, version: str, features: Iterable[str] | None
                 ) -> VersionWatch:
        watch = m.versions.get(version)
        if watch is None:
            names = sorted(features) if features is not None else []
            watch = m.versions[version] = VersionWatch(
                m.name, version, names, self.config.detectors)
        return watch

    # -- inputs ------------------------------------------------------------------------------
    def on_predictions(self, preds: Sequence[dict[str, Any]]) -> list[Decision]:
        groups: dict[tuple[str, str, bool], list[dict[str, Any]]] = defaultdict(list)
        pending = self.pending
        cap = self.config.pending_capacity
        matched: list[tuple[str, tuple[int, int]]] = []
        for p in preds:
            eid = p["event_id"]
            shadow = bool(p.get("shadow", False))
            key = (p["model_name"], p["model_version"], shadow)
            groups[key].append(p)
            entry = (p["model_name"], p["model_version"], float(p["score"]), int(p["label"]),
                     shadow, _millis(p["event_time"]),
                     label_weight(p, self.config.max_label_weight))
            slot = pending.get(eid)
            if slot is None:
                pending[eid] = [entry]
                if len(pending) > cap:
                    pending.popitem(last=False)
            elif entry[:2] + entry[4:5] not in {e[:2] + e[4:5] for e in slot}:
                slot.append(entry)  # a second version for the same event (a shadow)
            else:
                continue  # a re-delivered duplicate: already counted
            if self.orphans and eid in self.orphans:
                matched.append((eid, self.orphans[eid]))
        out: list[Decision] = []
        for (name, version, shadow), items in groups.items():
            m = self.model(name)
            if shadow:
                m.shadows.add(version)
            elif m.champion is None:
                m.champion = version
                m.champion_since.setdefault(version, 0)
            watch = self._version(m, version, None if shadow else items[0]["features"].keys())
            values = watch.matrix([p["features"] for p in items] if watch.feature_names
                                  else [{}] * len(items), [p["score"] for p in items])
            out.extend(watch.observe(values))
        for eid, (truth, labelled_at) in matched:
            del self.orphans[eid]
            out.extend(self._join(eid, truth, labelled_at))
        self.findings += sum(isinstance(d, DriftFinding) for d in out)
        return out

    def on_labels(self, labels: Sequence[dict[str, Any]]) -> list[Decision]:
        out: list[Decision] = []
        for label in labels:
            eid = label["event_id"]
            truth, at = int(label["label"]), _millis(label["labelled_at"])
            if eid in self.pending:
                out.extend(self._join(eid, truth, at))
            else:
                self.orphans[eid] = (truth, at)
                if len(self.orphans) > self.config.orphan_capacity:
                    self.orphans.popitem(last=False)
                    self.labels_unmatched += 1
        self.findings += sum(isinstance(d, DriftFinding) for d in out)
        return out

    def _join(self, eid: str, truth: int, labelled_at: int) -> list[Decision]:
        out: list[Decision] = []
        entries = self.pending.pop(eid)
        self.labels_joined += 1
        for name, version, score, decided, shadow, event_time, weight in entries:
            m = self.model(name)
            watch = self._version(m, version, None)
            shift = watch.labelled(score, decided, truth, weight)
            if not shadow:
                m.retrain.on_label()
                m.label_times.append(event_time)
                m.label_errors.append(int(decided != truth))
                self.label_lags_s.append(max(0.0, (labelled_at - event_time) / 1000.0))
            if shift is None:
                continue
            out.append(DriftFinding(
                detector="adwin", kind="CONCEPT", subject="error", statistic=shift.after,
                window_events=shift.after_n, events_seen=shift.seen, model_name=name,
                model_version=version))
            if not shadow and version == m.champion:
                served = watch.quality.count - m.champion_since.get(version, 0)
                change_time = m.change_time(served, shift.after_n, event_time)
                after = sum(1 for t in m.label_times if t >= change_time)
                m.retrain.on_error_shift(version, shift, labelled_at, change_time, after)
        return out

    def on_lifecycle(self, event: dict[str, Any]) -> None:
        action = event["action"]
        if action not in ("PROMOTED", "ROLLED_BACK"):
            return
        m = self.model(event["model_name"])
        version = event["version"]
        previous = event.get("previous_version") or m.champion
        watch = self._version(m, version, None)
        if action == "PROMOTED":
            prev_quality = m.versions[previous].quality if previous in m.versions else None
            m.rollback.on_promotion(version, previous, prev_quality, watch.quality.count)
        else:
            m.rollback.probation = None
        m.champion = version
        m.champion_since[version] = watch.quality.count
        m.shadows.discard(version)

    def tick(self, now_ms: int) -> list[Decision]:
        """Ask the policies, once per batch."""
        out: list[Decision] = []
        for m in self.models.values():
            if m.champion is None or m.champion not in m.versions:
                continue
            champ = m.versions[m.champion]
            since = champ.quality.count - m.champion_since.get(m.champion, 0)
            out.extend(m.retrain.tick(now_ms, m.champion, champ.quality, since))
            rollback = m.rollback.check(champ.quality)
            if rollback is not None:
                out.append(rollback)
            shadows = {v: m.versions[v].quality for v in m.shadows if v in m.versions}
            out.extend(m.challenger.check(m.champion, champ.quality, shadows))
        self.findings += sum(isinstance(d, DriftFinding) for d in out)
        return out

    # -- persistence as data -----------------------------------------------------------------
    def to_state(self, max_pending: int = 50_000) -> dict[str, Any]:
        pending = list(self.pending.items())[-max_pending:]
        return {
            "state_version": STATE_VERSION,
            "models": {
                name: {
                    "champion": m.champion, "champion_since": m.champion_since,
                    "shadows": sorted(m.shadows),
                    "versions": {v: w.to_state() for v, w in m.versions.items()},
                    "retrain": m.retrain.to_state(), "rollback": m.rollback.to_state(),
                    "challenger": m.challenger.to_state(),
                    "label_times": list(m.label_times),
                    "label_errors": list(m.label_errors),
                } for name, m in self.models.items()},
            "pending": [[eid, [list(e) for e in entries]] for eid, entries in pending],
            "orphans": [[eid, list(v)] for eid, v in self.orphans.items()],
            "counters": {"findings": self.findings, "labels_joined": self.labels_joined,
                         "labels_unmatched": self.labels_unmatched},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: WatchConfig | None = None
                   ) -> ModelWatcher:
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(f"unknown monitor state version {state.get('state_version')!r}")
        watcher = cls(config)
        cfg = watcher.config
        for name, s in state["models"].items():
            m = watcher.model(name)
            m.champion = s["champion"]
            m.champion_since = {k: int(v) for k, v in s["champion_since"].items()}
            m.shadows = set(s["shadows"])
            m.versions = {v: VersionWatch.from_state(w, cfg.detectors)
                          for v, w in s["versions"].items()}
            m.retrain = RetrainPolicy.from_state(name, cfg.retrain, s["retrain"])
            m.rollback = RollbackPolicy.from_state(name, cfg.rollback, s["rollback"])
            m.challenger = ChallengerPolicy.from_state(name, cfg.challenger, s["challenger"])
            errors = s.get("label_errors", [])
            # a state written before mistakes were kept starts the series afresh
            if len(errors) == len(s["label_times"]):
                m.label_times.extend(int(t) for t in s["label_times"])
                m.label_errors.extend(int(e) for e in errors)
        for eid, entries in state["pending"]:
            watcher.pending[eid] = [  # a state from before label weights: weight 1
                (e[0], e[1], float(e[2]), int(e[3]), bool(e[4]), int(e[5]),
                 float(e[6]) if len(e) > 6 else 1.0) for e in entries]
        for eid, (truth, at) in state["orphans"]:
            watcher.orphans[eid] = (int(truth), int(at))
        counters = state["counters"]
        watcher.findings = int(counters["findings"])
        watcher.labels_joined = int(counters["labels_joined"])
        watcher.labels_unmatched = int(counters["labels_unmatched"])
        return watcher


def label_weight(prediction: dict[str, Any], cap: float = math.inf) -> float:
    """The weight of this event's label in quality estimates: 1 / the probability that the
    scorer sent it for labelling, when it did (see live_quality); 1 for a label nobody asked
    for (a feed, a dispute, an analyst's own audit) and for predictions older than the
    propensity field. Capped at ``cap``: with a 1 % audit share an uncapped label weighs
    100, and a window of a few hundred labels then rests on a handful of them (weight
    trimming: a little bias for much less variance)."""
    propensity = prediction.get("label_propensity")
    if prediction.get("label_reason") is None or not propensity:
        return 1.0
    return min(1.0 / float(propensity), cap)


def _millis(value: Any) -> int:
    """fastavro decodes timestamp-millis to an aware datetime; tests may pass plain ints."""
    if isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)
