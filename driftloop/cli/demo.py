"""``driftloop demo``: the whole loop on one machine, ending with the report of it closing."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        duration: float = typer.Option(240.0, help="Seconds of simulated stream."),
        rate: float = typer.Option(200.0, help="Events per second."),
        seed: int = typer.Option(7, help="Same seed, same stream."),
        domain: str | None = typer.Option(
            None, help="Domain to run (a folder under domains/); unset: DRIFTLOOP_DOMAIN, "
            "else domains/index.toml's default."),
        drifts: str | None = typer.Option(
            None, help="kind@start_s[+ramp_s], comma separated; unset: the domain's."),
        output: str = typer.Option("demo-output", help="Report, PNG, JSON, logs."),
        bootstrap: str = typer.Option("", help="Use this broker instead of the embedded one."),
        broker_port: int = typer.Option(9092, help="Port of the embedded broker."),
        topic_prefix: str = typer.Option("", help="Prefix for every topic."),
        label_delay: float | None = typer.Option(
            None, help="Mean analyst delay in seconds; unset: the domain's."),
        warmup: float = typer.Option(20.0, help="Seconds before quality counts as 'before'."),
        drain_timeout: float = typer.Option(
            180.0, help="After the stream, the longest wait for the last labels and for every "
            "service to consume its inputs."),
        max_extension: float = typer.Option(
            0.0, help="Most seconds the stream may go on past --duration until the loop has "
            "recovered from the concept drift and the recovering model has served 20 s (a "
            "slow machine takes longer to close the loop; 0: stop at --duration)."),
        ports: str = typer.Option("", help="service=port,... overriding the defaults."),
        dispute_rate: float | None = typer.Option(
            None, help="Share of positives their owners report; unset: the domain's."),
        bad_rate: float | None = typer.Option(
            None, help="Broken payloads added per event; unset: the domain's."),
    ) -> None:
        """Run broker + services + simulator; report whether the loop closed and beat the
        baselines (exit 0), closed but lost to the best baseline (exit 3) or did not close
        (exit 1)."""
        from driftloop.demo import DemoConfig, run_demo

        port_map = {k: int(v) for k, _, v in (p.partition("=") for p in ports.split(",") if p)}
        config = DemoConfig(
            output_dir=Path(output), duration_s=duration, rate=rate, seed=seed, domain=domain,
            drifts=drifts, bootstrap=bootstrap or None, broker_port=broker_port,
            topic_prefix=topic_prefix,
            label_delay_s=(None if label_delay is None
                           else (max(0.5, label_delay - 2), label_delay + 2)), warmup_s=warmup,
            drain_timeout_s=drain_timeout, max_extension_s=max_extension,
            ingest_port=port_map.pop("ingest", 8001), ports=port_map,
            baseline_every=max(1, int(rate // 500)), dispute_rate=dispute_rate,
            bad_rate=bad_rate)
        raise typer.Exit(run_demo(config))
