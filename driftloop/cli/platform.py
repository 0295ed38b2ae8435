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
        host: str | None = typer.Option(
            None, help="Address to listen on [default: DRIFTLOOP_KAFKA_BOOTSTRAP's host]."),
        port: int | None = typer.Option(
            None, help="Port to listen on [default: DRIFTLOOP_KAFKA_BOOTSTRAP's port]."),
    ) -> None:
        """Run the embedded Kafka-compatible broker (Tansu, memory only) until Ctrl-C or
        SIGTERM, where DRIFTLOOP_KAFKA_BOOTSTRAP points (127.0.0.1:9092) unless told."""
        from driftloop.messaging.embedded_broker import EmbeddedBroker, listen_address
        from driftloop.runtime import CommonSettings

        default_host, default_port = listen_address(CommonSettings().kafka_bootstrap)
        embedded = EmbeddedBroker(host=host or default_host,
                                  port=default_port if port is None else port)
        stopping: list[int] = []
        # The handlers only take note: the loop below stops and reaps the broker.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, _frame: stopping.append(number))
        embedded.start()
        typer.echo(f"embedded broker listening on {embedded.bootstrap} (memory only)")
        try:
            code = embedded.serve(lambda: bool(stopping))
        finally:
            embedded.stop()
        if code is not None:
            typer.echo(f"embedded broker exited by itself (code {code})", err=True)
            raise typer.Exit(code or 1)

    @app.command()
    def topics() -> None:
        """Create every topic of the loop (idempotent) on DRIFTLOOP_KAFKA_BOOTSTRAP."""
        from driftloop.messaging import ensure_topics
        from driftloop.runtime import CommonSettings

        settings = CommonSettings()
        created = asyncio.run(ensure_topics(
            settings.kafka_bootstrap, settings.topics().all_names(), settings.topic_partitions))
        typer.echo(f"created: {created or 'none (all existed)'}")
