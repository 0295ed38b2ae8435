"""``driftloop audit EVENT_ID``: the event's whole trail, for on-call and for auditors."""

from __future__ import annotations

import asyncio
import json

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def audit(event_id: str,
              as_json: bool = typer.Option(False, "--json", help="The trail as JSON."),
              timeout: float = typer.Option(300.0, help="Longest scan of the topics, s.")
              ) -> None:
        """The event as ingested (or its dead letter), its predictions and the features they
        used, its labels, the serving model version, its training run and gate decision, and
        the promotions around it: from the topics and the registry alone. Exit 1 when the
        event is on no topic."""
        from driftloop.audit import collect, render_text
        from driftloop.contracts import AvroCodec, load_schemas
        from driftloop.contracts.schema_registry import registry_for
        from driftloop.registry import ModelRegistry, RegistrySettings, RunTracker
        from driftloop.runtime import CommonSettings

        common, registry_settings = CommonSettings(), RegistrySettings()
        schemas = load_schemas()
        codec = AvroCodec(schemas, registry_for(common.schema_registry_url, schemas))
        root = registry_settings.registry_root()
        trail = asyncio.run(collect(
            common.kafka_bootstrap, common.topics(), codec, event_id, ModelRegistry(root),
            RunTracker(root), event_id_field=common.load_domain().event_id_field,
            timeout_s=timeout))
        typer.echo(json.dumps(trail.to_dict(), indent=2, default=str) if as_json
                   else render_text(trail))
        if trail.event is None and not trail.dead_letters and not trail.predictions:
            raise typer.Exit(1)
