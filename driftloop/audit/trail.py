"""One event's whole story, from the topics and the registry alone: the event as ingested (or
its dead letter), its predictions with the features as scored, its labels and who gave them,
the serving model version with its training run (code, data digest, parameters, metrics, the
gate's decision and what it was compared with), and the model's promotions and rollbacks
around the moment it was scored. Nothing here needs a running service: after restarts, on
Apache Kafka or the embedded broker, what the services published is enough."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftloop.contracts import AvroCodec, Topics
from driftloop.messaging.topic_scan import scan
from driftloop.registry import ModelRegistry, RegistryError, RunTracker

#: Lifecycle actions that change which version serves.
CHANGES = ("PROMOTED", "ROLLED_BACK")


@dataclass
class AuditTrail:
    event_id: str
    event: dict[str, Any] | None = None          # as published on events.valid
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)  # champion first
    labels: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] | None = None           # the champion prediction's version
    run: dict[str, Any] | None = None             # the training run that made it
    history: list[dict[str, Any]] = field(default_factory=list)  # changes around scoring
    missing: list[str] = field(default_factory=list)  # links that could not be followed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _plain(value: Any) -> Any:
    """Avro-decoded values (datetimes, enums) as JSON-ready ones: times in epoch ms."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def assemble(event_id: str, events: Sequence[dict[str, Any]],
             dead_letters: Sequence[dict[str, Any]], predictions: Sequence[dict[str, Any]],
             labels: Sequence[dict[str, Any]], registry: ModelRegistry,
             tracker: RunTracker) -> AuditTrail:
    """The trail from the decoded records of one event and the registry. Pure but for the
    registry reads."""
    trail = AuditTrail(event_id, event=_plain(events[0]) if events else None,
                       dead_letters=[_plain(d) for d in dead_letters],
                       predictions=[_plain(p) for p in sorted(
                           predictions, key=lambda p: (bool(p.get("shadow")),
                                                       _plain(p.get("scored_at")) or 0))],
                       labels=[_plain(x) for x in labels])
    if trail.event is None and not trail.dead_letters:
        trail.missing.append("the event: neither on events.valid nor dead-lettered")
    if not trail.predictions:
        if trail.event is not None:
            trail.missing.append("a prediction: the event was never scored")
        return trail
    if not trail.labels:
        trail.missing.append("a label: none was given (yet)")
    served = trail.predictions[0]
    name, version = served["model_name"], served["model_version"]
    if version.startswith("baseline-"):
        trail.model = {"version": version, "declared_rule": True,
                       "note": "the domain's declared rule (domains/NAME/domain.toml model_inputs."
                               "baseline), served while no champion existed"}
    else:
        try:
            mv = registry.get(name, version)
        except (RegistryError, FileNotFoundError, KeyError) as exc:
            trail.missing.append(f"model version {name} {version}: {exc}")
        else:
            meta = mv.metadata
            trail.model = {"version": version, "model": meta.get("model"),
                           "threshold": meta.get("threshold"),
                           "objective": meta.get("objective"),
                           "features": meta.get("features"), "metrics": meta.get("metrics"),
                           "gate": meta.get("gate"), "lineage": meta.get("lineage")}
            run_id = (meta.get("lineage") or {}).get("run_id")
            if run_id:
                try:
                    run = tracker.get(name, str(run_id))
                except (FileNotFoundError, KeyError, ValueError) as exc:
                    trail.missing.append(f"training run {run_id}: {exc}")
                else:
                    trail.run = {k: run.get(k) for k in (
                        "run_id", "status", "reason", "code_version", "data_digest", "rows",
                        "params", "metrics", "baseline_metrics", "champion_metrics",
                        "requested_by", "request_id", "duration_s", "device", "marks")}
            else:
                trail.missing.append(f"training run of {version}: no run_id in its lineage")
    trail.history = _around(registry.history(name), version, int(served["scored_at"]))
    return trail


def _around(history: Sequence[dict[str, Any]], version: str, at_ms: int
            ) -> list[dict[str, Any]]:
    """The change that made ``version`` serve (the last one at or before ``at_ms`` naming
    it), the change before that, and the changes after it until ``version`` stopped serving
    (and the one that stopped it)."""
    changes = sorted((h for h in history if h.get("action") in CHANGES),
                     key=lambda h: int(h.get("at", 0)))
    keep = [h for h in changes if int(h.get("at", 0)) <= at_ms][-2:]
    for h in changes:
        if int(h.get("at", 0)) > at_ms:
            keep.append(h)
            if h.get("version") != version:
                break
    return [{k: h.get(k) for k in ("action", "version", "at", "reason", "actor")}
            for h in keep]


async def collect(bootstrap: str, topics: Topics, codec: AvroCodec, event_id: str,
                  registry: ModelRegistry, tracker: RunTracker, *,
                  event_id_field: str = "event_id", timeout_s: float = 300.0) -> AuditTrail:
    """Scan the topics once for the event's records, then follow the registry's links.
    Predictions, labels and dead letters are keyed by event id; events.valid is keyed by the
    entity, so its records are matched on the id's bytes in the value and then decoded."""
    key = event_id.encode()
    by_key = {topics.predictions, topics.labels, topics.deadletter}
    records = await scan(bootstrap, [topics.valid, *sorted(by_key)],
                         lambda r: (r.key == key) if r.topic in by_key
                         else key in (r.value or b""), timeout_s=timeout_s)
    decoded: dict[str, list[dict[str, Any]]] = {t: [] for t in (topics.valid, *by_key)}
    for r in records:
        value = codec.decode(r.value)
        if r.topic != topics.valid or value.get(event_id_field) == event_id:
            decoded[r.topic].append(value)
    return assemble(event_id, decoded[topics.valid], decoded[topics.deadletter],
                    decoded[topics.predictions], decoded[topics.labels], registry, tracker)


def render_text(trail: AuditTrail) -> str:
    def when(ms: Any) -> str:
        if not isinstance(ms, int):
            return "-"
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    lines = [f"audit of event {trail.event_id}"]
    if trail.event is not None:
        lines.append("  event (events.valid): " + ", ".join(
            f"{k}={v}" for k, v in trail.event.items()))
    for d in trail.dead_letters:
        lines.append(f"  dead-lettered by {d.get('service')}: {d.get('error_class')}: "
                     f"{d.get('reason')}")
    for p in trail.predictions:
        role = "shadow" if p.get("shadow") else "served"
        asked = f", label asked: {p['label_reason']}" if p.get("label_reason") else ""
        lines.append(f"  prediction ({role}) by {p['model_name']} {p['model_version']} at "
                     f"{when(p.get('scored_at'))}: score {p['score']:.4f}, threshold "
                     f"{p['threshold']:.4f} -> {p['label']}"
                     f"{', DEGRADED' if p.get('degraded') else ''}"
                     f"{asked}")
        feats = p.get("features") or {}
        defaulted = set(p.get("defaulted_features") or [])
        lines.append("    features as scored: " + ", ".join(
            f"{k}={v:.4g}{' (default)' if k in defaulted else ''}"
            for k, v in sorted(feats.items())))
    for x in trail.labels:
        lines.append(f"  label {x['label']} by {x['labelled_by']} at {when(x['labelled_at'])}")
    if trail.model is not None:
        m = trail.model
        if m.get("declared_rule"):
            lines.append(f"  model {m['version']}: {m['note']}")
        else:
            metrics = m.get("metrics") or {}
            lines.append(f"  model {m['version']} ({m.get('model')}), threshold "
                         f"{m.get('threshold')}, objective {m.get('objective')}, held-out "
                         f"ROC AUC {metrics.get('roc_auc')}")
            gate = m.get("gate") or {}
            lines.append(f"    gate: {gate.get('reason')}")
    if trail.run is not None:
        r = trail.run
        lines.append(f"  training run {r['run_id']}: {r.get('status')}, {r.get('rows')} rows, "
                     f"data digest {str(r.get('data_digest'))[:16]}, code "
                     f"{r.get('code_version')}, requested by {r.get('requested_by')} "
                     f"({r.get('request_id') or 'no request'})")
    for h in trail.history:
        lines.append(f"  {when(h.get('at'))} {h.get('action')} {h.get('version')}: "
                     f"{h.get('reason')}")
    for gap in trail.missing:
        lines.append(f"  missing: {gap}")
    return "\n".join(lines)
