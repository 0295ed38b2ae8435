"""``driftloop label EVENT_ID LABEL``: publish a label on the labels topic as an analyst
would, closing the loop the scorer's label.requests open."""

from __future__ import annotations

import asyncio
import getpass
import time

import typer

LABEL_SCHEMA = "driftloop.models.Label"


async def publish_label(bootstrap: str, topic: str, value: bytes, key: bytes) -> None:
    from driftloop.messaging import KafkaClients, Outbound, Publisher

    producer = KafkaClients(bootstrap, client_id="cli").producer()
    await producer.start()
    try:
        await Publisher(producer).publish([Outbound(topic, value, key)])
    finally:
        await producer.stop()


def register(app: typer.Typer) -> None:
    @app.command()
    def label(
        event_id: str = typer.Argument(..., help="The event to label."),
        value: int = typer.Argument(
            ..., min=0, max=1,
            help="1 the domain's positive class (fraud, repaid), 0 the negative one."),
        by: str = typer.Option("", help="Who labels it (default: your user name)."),
        entity_id: str | None = typer.Option(None, help="The event's entity, if known."),
    ) -> None:
        """Publish a label for EVENT_ID on DRIFTLOOP_KAFKA_BOOTSTRAP's labels topic."""
        from driftloop.contracts import AvroCodec, load_schemas
        from driftloop.contracts.schema_registry import registry_for
        from driftloop.runtime import CommonSettings

        settings = CommonSettings()
        schemas = load_schemas()
        codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
        record = {"event_id": event_id, "label": value,
                  "labelled_by": by or f"analyst:{getpass.getuser()}",
                  "labelled_at": int(time.time() * 1000), "entity_id": entity_id}
        topic = settings.topics().labels
        asyncio.run(publish_label(settings.kafka_bootstrap, topic,
                                  codec.encode(LABEL_SCHEMA, record), event_id.encode()))
        typer.echo(f"labelled {event_id} as {value} on {topic}")
