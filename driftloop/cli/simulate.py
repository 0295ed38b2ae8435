"""``driftloop simulate``: play a domain's seeded stream into a running loop, over ingest's HTTP
API or the events.raw topic, with the analyst bot answering label requests."""

from __future__ import annotations

import asyncio
import signal
import time

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        rate: float = typer.Option(200.0, help="Events per second."),
        seed: int = typer.Option(7, help="Same seed, same stream."),
        duration: float = typer.Option(60.0, help="Seconds of stream."),
        domain: str | None = typer.Option(
            None, help="Domain to play (a folder under domains/); unset: DRIFTLOOP_DOMAIN, "
            "else domains/index.toml's default."),
        drifts: str | None = typer.Option(
            None, help="kind@start_s[+ramp_s], comma separated; '' for none; unset: the "
            "domain's."),
        target: str = typer.Option("http", help="http (POST /events) or kafka (events.raw)."),
        url: str = typer.Option("http://127.0.0.1:8001/events", help="Ingest's /events URL."),
        analyst: bool = typer.Option(True, help="Run the analyst bot (labels)."),
        sample_rate: float | None = typer.Option(
            None, help="Share of traffic the bot audits; unset: the domain's."),
    ) -> None:
        """Publish a domain's simulated stream with drifts; the analyst bot labels on
        `labels`."""
        from driftloop.contracts import AvroCodec, Domain, Topics, load_schemas
        from driftloop.contracts.schema_registry import registry_for
        from driftloop.messaging import KafkaClients, Publisher, ensure_topics
        from driftloop.runtime import CommonSettings
        from driftloop.simulation import (
            AnalystBot,
            AnalystConfig,
            AnalystDesk,
            DriftSchedule,
            EventSink,
            HttpEventSink,
            KafkaEventSink,
            PacedStream,
            stream_for,
        )

        settings = CommonSettings.model_validate({})
        chosen = Domain.load(domain or settings.domain)
        topics = Topics(prefix=settings.topic_prefix, event_schema=chosen.event_schema)
        schedule = DriftSchedule.parse(
            str(chosen.stream.get("drifts", "")) if drifts is None else drifts)
        labels = chosen.labels

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopping.set)
            clients = KafkaClients(settings.kafka_bootstrap, client_id="simulate")
            await ensure_topics(settings.kafka_bootstrap, topics.all_names(),
                                settings.topic_partitions)
            simulator = stream_for(chosen, seed=seed, rate=rate,
                                   start_ms=int(time.time() * 1000), drifts=schedule)
            producer = None
            sink: EventSink
            if target == "kafka":
                producer = clients.producer()
                await producer.start()
                sink = KafkaEventSink(Publisher(producer), topics.raw)
            else:
                sink = HttpEventSink(url)
            observers = []
            tasks = []
            inner = asyncio.Event()
            if analyst:
                schemas = load_schemas()
                codec = AvroCodec(schemas, registry_for(settings.schema_registry_url, schemas))
                low, high = labels.get("delay_s", (2.0, 6.0))
                bot = AnalystBot(AnalystConfig(
                    seed=seed, min_delay_s=float(low), max_delay_s=float(high),
                    sample_rate=float(labels.get("sample_rate", 0.05)
                                      if sample_rate is None else sample_rate),
                    noise=float(labels.get("noise", 0.01)),
                    dispute_rate=float(labels.get("dispute_rate", 0.0))))
                desk = AnalystDesk(bot, clients, codec, topics)
                observers.append(desk.observe)
                tasks.append(asyncio.create_task(desk.run(inner, linger_s=10.0)))
            stream = PacedStream(simulator, sink, duration_s=duration, observers=observers)
            typer.echo(f"simulating {stream.total} {chosen.name} events at {rate:g}/s, seed "
                       f"{seed}, drifts {schedule.describe()} -> {target}")
            started = time.monotonic()
            await stream.run(stopping)
            inner.set()
            await asyncio.gather(*tasks)
            await sink.close()
            if producer is not None:
                await producer.stop()
            elapsed = time.monotonic() - started
            typer.echo(f"sent {stream.sent} events ({stream.accepted} accepted) in "
                       f"{elapsed:.1f}s = {stream.sent / max(elapsed, 1e-9):.0f}/s")

        asyncio.run(main())
