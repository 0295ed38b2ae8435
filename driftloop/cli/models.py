"""``driftloop models list|show|promote|rollback|history``, ``driftloop runs`` and
``driftloop train``: the registry and the trainer for people. Every change a person makes is
also published on models.lifecycle, so the scorer and monitor follow it like any other."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
import uuid
from typing import Any

import typer

from driftloop.cli.run_summary import describe_run
from driftloop.registry import (
    ModelRegistry,
    ModelVersion,
    RegistryError,
    RegistrySettings,
    RunTracker,
)
from driftloop.registry.lifecycle import LIFECYCLE_SCHEMA, lifecycle_record

RETRAIN_SCHEMA = "driftloop.monitoring.RetrainRequest"


def _common() -> Any:
    from driftloop.runtime import CommonSettings

    return CommonSettings()


def _registry() -> ModelRegistry:
    return ModelRegistry(RegistrySettings().registry_root())


def _model(name: str | None) -> str:
    return name or _common().load_domain().model_name


def _publish(schema: str, topic_base: str, key: str, record: dict[str, Any]) -> None:
    """Publish one record, acknowledged, on DRIFTLOOP_KAFKA_BOOTSTRAP."""
    from driftloop.contracts import AvroCodec, load_schemas
    from driftloop.contracts.schema_registry import registry_for
    from driftloop.messaging import KafkaClients, Outbound, Publisher, ensure_topics

    settings = _common()
    schemas = load_schemas()
    codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
    topic = settings.topics().name(topic_base)

    async def send() -> None:
        await ensure_topics(settings.kafka_bootstrap, [topic], settings.topic_partitions)
        producer = KafkaClients(settings.kafka_bootstrap, client_id="driftloop-cli").producer()
        await producer.start()
        try:
            await Publisher(producer).publish(
                [Outbound(topic, codec.encode(schema, record), key.encode())])
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(send(), 30))
    typer.echo(f"published on {topic}")


def _summary(mv: ModelVersion, aliases: dict[str, str]) -> str:
    m = mv.metrics
    lin = mv.lineage
    tag = ",".join(a for a, v in aliases.items() if v == mv.version)
    return (f"{mv.version:7} {tag or '-':18} {mv.metadata.get('status', '-'):9} "
            f"auc={m.get('roc_auc', float('nan')):.4f} rows={lin.get('rows', '-')!s:7} "
            f"parent={lin.get('parent_champion') or '-':6} run={lin.get('run_id', '-')} "
            f"{mv.metadata.get('registered_at', '')}")


def register(app: typer.Typer) -> None:
    models = typer.Typer(no_args_is_help=True, help="Model versions, aliases and history.")
    app.add_typer(models, name="models")
    model_opt = typer.Option(None, "--model", "-m", help="Model name; default: the domain's.")

    @models.command("list")
    def list_(model: str | None = model_opt) -> None:
        """Every version, oldest first, with aliases, status, held-out ROC AUC and lineage."""
        registry, name = _registry(), _model(model)
        aliases = {a: mv.version for a in ("champion", "challenger")
                   if (mv := registry.alias(name, a)) is not None}
        versions = registry.versions(name)
        if not versions:
            typer.echo(f"no versions of {name} in {registry.root}")
        for mv in versions:
            typer.echo(_summary(mv, aliases))

    @models.command("show")
    def show(version: str, model: str | None = model_opt) -> None:
        """A version's metadata (features, metrics, gate, lineage) and its history."""
        registry, name = _registry(), _model(model)
        try:
            mv = registry.get(name, version)
        except RegistryError as exc:
            raise typer.BadParameter(str(exc)) from exc
        events = [e for e in registry.history(name) if e.get("version") == version]
        typer.echo(json.dumps({"model_name": mv.model_name, "version": mv.version,
                               "sha256": mv.sha256, "metadata": mv.metadata,
                               "history": events}, indent=2, sort_keys=True))

    @models.command("history")
    def history(model: str | None = model_opt) -> None:
        """The append-only history: registrations, promotions, rejections, rollbacks."""
        for event in _registry().history(_model(model)):
            typer.echo(f"{event['at_iso']} {event['action']:11} {event.get('version') or '-':7}"
                       f" prev={event.get('previous') or '-':6} by {event['actor']}:"
                       f" {event['reason']}")

    @models.command("promote")
    def promote(version: str, model: str | None = model_opt,
                reason: str = typer.Option("promoted by hand", help="Why, for the history."),
                actor: str = typer.Option("cli", help="Who."),
                publish: bool = typer.Option(True, help="Publish on models.lifecycle.")) -> None:
        """Make VERSION the champion."""
        registry, name = _registry(), _model(model)
        try:
            previous = registry.promote(name, version, reason, actor)
            mv = registry.get(name, version)
        except RegistryError as exc:
            raise typer.BadParameter(str(exc)) from exc
        prev = previous.version if previous else None
        typer.echo(f"{name}: champion {prev or '-'} -> {version}")
        if publish:
            _publish(LIFECYCLE_SCHEMA, "models.lifecycle", name, lifecycle_record(
                "PROMOTED", mv, previous=prev, reason=reason, actor=actor))

    @models.command("rollback")
    def rollback(model: str | None = model_opt,
                 reason: str = typer.Option("rolled back by hand", help="Why."),
                 actor: str = typer.Option("cli", help="Who."),
                 publish: bool = typer.Option(True, help="Publish on models.lifecycle.")) -> None:
        """Put back the champion the current one replaced."""
        registry, name = _registry(), _model(model)
        current = registry.alias(name, "champion")
        try:
            mv = registry.rollback(name, reason, actor)
        except RegistryError as exc:
            raise typer.BadParameter(str(exc)) from exc
        prev = current.version if current else None
        typer.echo(f"{name}: champion {prev} -> {mv.version}")
        if publish:
            _publish(LIFECYCLE_SCHEMA, "models.lifecycle", name, lifecycle_record(
                "ROLLED_BACK", mv, previous=prev, reason=reason, actor=actor))

    @app.command("runs")
    def runs(model: str | None = model_opt,
             show: str | None = typer.Option(
                 None, help="One run: its decision, confusion matrix, worst slices and "
                 "calibration error."),
             as_json: bool = typer.Option(False, "--json", help="With --show: the full "
                                          "record, error analysis included, as JSON."),
             reproduce: str | None = typer.Option(
                 None, help="Retrain RUN_ID from its record (not registered); compare.")) -> None:
        """Training runs: parameters, data digest, code version, metrics, duration, device."""
        name = _model(model)
        tracker = RunTracker(RegistrySettings().registry_root())
        if show or reproduce:
            try:
                record = tracker.get(name, str(show or reproduce))
            except KeyError as exc:
                raise typer.BadParameter(str(exc.args[0])) from exc
            if show and not as_json:
                typer.echo(describe_run(record))
                return
            if reproduce:
                record = {"run": record["run_id"], **_job().reproduce(record)}
            typer.echo(json.dumps(record, indent=2, sort_keys=True))
            return
        for run in tracker.runs(name):
            m = run["metrics"]
            typer.echo(f"{run['run_id']} {run['version']:7} {run['status']:9} "
                       f"auc={m['roc_auc']:.4f} pr_auc={m['pr_auc']:.4f} "
                       f"rows={run.get('rows', '-')!s:7} "
                       f"{run['device']:4} {run['duration_s']:.1f}s "
                       f"data={run['data_digest'][:12]} code={run['code_version'][:12]} "
                       f"request={run.get('request_id') or '-'}")

    @app.command("train")
    def train(model: str | None = model_opt,
              reason: str = typer.Option("asked for by hand", help="Why, for the lineage."),
              local: bool = typer.Option(
                  False, help="Train here on the trainer's store instead of asking it."),
              publish: bool = typer.Option(True, help="Publish lifecycle events (--local).")
              ) -> None:
        """Ask the trainer to retrain (a retrain.requests event), or train here (--local)."""
        name = _model(model)
        request_id = f"cli-{uuid.uuid4().hex[:12]}"
        if not local:
            _publish(RETRAIN_SCHEMA, "retrain.requests", name, {
                "request_id": request_id, "model_name": name, "reason": reason,
                "requested_by": "cli", "requested_at": int(time.time() * 1000),
                "evidence": {}})
            typer.echo(f"retrain request {request_id} sent")
            return
        job = _job()
        outcome = job.run(name, reason=reason, requested_by="cli", request_id=request_id)
        typer.echo(f"{outcome.version.version} {outcome.run['status']}: "
                   f"{outcome.decision.reason}")
        if publish:
            for record in outcome.lifecycle:
                _publish(LIFECYCLE_SCHEMA, "models.lifecycle", name, record)
        if (png := job.plot_errors(outcome.run)) is not None:
            typer.echo(f"error analysis: driftloop runs --show {outcome.run['run_id']}; {png}")


def _job() -> Any:
    """The trainer's job on its own store and settings, for --local and --reproduce. Loaded
    by name, like `driftloop run`: the CLI carries torch only when these are used."""
    trainer = importlib.import_module("services.trainer.app")
    return trainer.Trainer(trainer.TrainerSettings()).job
