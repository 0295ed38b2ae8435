"""``driftloop run SERVICE``, ``driftloop broker``, ``driftloop topics``."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import pkgutil
import signal

import typer


def service_names() -> list[str]:
    """Services are the packages under services/ that have an app.py."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(importlib.import_module("services").__path__)
        if info.ispkg and importlib.util.find_spec(f"services.{info.name}.app") is not None
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def run(service: str = typer.Argument(..., help="ingest, features, scorer, trainer, monitor")
            ) -> None:
        """Run one service in the foreground (same as python -m services.SERVICE)."""
        names = service_names()
        if service not in names:
            raise typer.BadParameter(f"unknown service {service!r}; choose from {names}")
        importlib.import_module(f"services.{service}.app").main()

    @app.command()
    def broker(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(9092, help="Port to listen on."),
    ) -> None:
        """Run the embedded Kafka-compatible broker (Tansu, memory only) until Ctrl-C."""
        from driftloop.messaging.embedded_broker import EmbeddedBroker

        embedded = EmbeddedBroker(host=host, port=port)
        embedded.start()
        typer.echo(f"embedded broker listening on {embedded.bootstrap} (memory only)")
        signal.signal(signal.SIGTERM, lambda *_: embedded.stop())
        try:
            embedded.wait()
        except KeyboardInterrupt:
            pass
        finally:
            embedded.stop()

    @app.command()
    def topics() -> None:
        """Create every topic of the loop (idempotent) on DRIFTLOOP_KAFKA_BOOTSTRAP."""
        from driftloop.messaging import ensure_topics
        from driftloop.runtime import CommonSettings

        settings = CommonSettings()
        created = asyncio.run(ensure_topics(
            settings.kafka_bootstrap, settings.topics().all_names(), settings.topic_partitions))
        typer.echo(f"created: {created or 'none (all existed)'}")
