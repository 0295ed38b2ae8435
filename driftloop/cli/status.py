"""``driftloop status``: what a person on call asks first. The champion (registry), its live
quality and any open retraining episode (the monitor's state), the drift signals since the
last model change, and the recent lifecycle events (topics)."""

from __future__ import annotations

import asyncio
import importlib
import math
from datetime import UTC, datetime
from typing import Any

import typer


async def _tail(bootstrap: str, topic: str, codec: Any, keep: int) -> list[dict[str, Any]]:
    """The last ``keep`` records of ``topic`` (every partition, read up to its end now)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    try:
        await consumer.start()
        parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or [])]
        if not parts:
            await consumer.topics()
            parts = [TopicPartition(topic, p)
                     for p in (consumer.partitions_for_topic(topic) or [])]
        if not parts:
            return []
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, max(0, ends[tp] - keep))
        records = []
        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        records.sort(key=lambda r: r.timestamp)
        return [codec.decode(r.value) for r in records[-keep:]]
    finally:
        await consumer.stop()


def _when(ms: int | datetime) -> str:
    if isinstance(ms, datetime):
        return ms.strftime("%Y-%m-%d %H:%M:%S")
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def register(app: typer.Typer) -> None:
    @app.command()
    def status(model: str | None = typer.Option(None, help="Model name; default: the "
                                                "domain's."),
               recent: int = typer.Option(10, help="Lifecycle events and signals to show.")
               ) -> None:
        """Champion, live quality, open drift signals and recent lifecycle events."""
        from driftloop.contracts import AvroCodec, load_schemas
        from driftloop.contracts.schema_registry import registry_for
        from driftloop.registry import ModelRegistry

        # The monitor's state file is read with the monitor's own reader, loaded by name as
        # ``driftloop run`` loads a service: driftloop never imports a service statically.
        monitor = importlib.import_module("services.monitor.settings")
        state_store = importlib.import_module("services.monitor.state_store")
        MonitorSettings, StateStore = monitor.MonitorSettings, state_store.StateStore  # noqa: N806

        settings = MonitorSettings()
        model = model or settings.load_domain().model_name
        champion = ModelRegistry(settings.registry_root()).alias(model, "champion")
        typer.echo(f"model {model}: champion "
                   f"{'none' if champion is None else champion.version}")
        if champion is not None and champion.metrics:
            held = ", ".join(f"{k} {v:.4g}" for k, v in sorted(champion.metrics.items()))
            typer.echo(f"  held-out: {held}")
        state = StateStore(settings.state_path()).load()
        m = (state or {}).get("models", {}).get(model)
        if m is not None:
            LiveQuality = importlib.import_module(  # noqa: N806
                "services.monitor.live_quality").LiveQuality

            for version, watch in sorted(m["versions"].items()):
                q = LiveQuality.from_state(watch["quality"]).metrics()
                if q.get("n"):
                    shown = ", ".join(f"{k} {q[k]:.4f}" for k in
                                      ("accuracy", "roc_auc", "log_loss", "precision", "recall")
                                      if not math.isnan(q[k]))
                    typer.echo(f"  live {version} over {int(q['n'])} labels: {shown}")
            episode = m["retrain"]["episode"]
            if episode is not None:
                typer.echo(f"  retraining episode open: error {episode['reference_error']:.3f}"
                           f" before the change, {episode['requests']} request(s) so far")
        schemas = load_schemas()
        codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        topics = settings.topics()
        try:
            lifecycle = asyncio.run(_tail(settings.kafka_bootstrap, topics.lifecycle, codec,
                                          recent * 4))
            signals = asyncio.run(_tail(settings.kafka_bootstrap, topics.drift_signals, codec,
                                        recent * 10))
        except Exception as exc:  # the broker may be down: show what we have
            typer.echo(f"  (topics unreadable on {settings.kafka_bootstrap}: {exc!r})")
            return
        lifecycle = [e for e in lifecycle if e["model_name"] == model]
        last_change = max((e["at"] for e in lifecycle
                           if e["action"] in ("PROMOTED", "ROLLED_BACK")), default=None)
        open_signals = [s for s in signals if s["model_name"] == model
                        and (last_change is None or s["detected_at"] >= last_change)]
        typer.echo(f"drift signals since the last model change: {len(open_signals)}")
        for s in open_signals[-recent:]:
            typer.echo(f"  {_when(s['detected_at'])} {s['kind']:10s} {s['subject']} "
                       f"({s['detector']}, {s['model_version']}, statistic "
                       f"{s['statistic']:.4g})")
        typer.echo("recent lifecycle events:")
        for e in lifecycle[-recent:]:
            typer.echo(f"  {_when(e['at'])} {e['action']:11s} {e['version']} "
                       f"(was {e['previous_version']}) by {e['actor']}: {e['reason']}")
