"""Settings every service shares. Each service's settings.py subclasses ``CommonSettings``;
values come from ``DRIFTLOOP_*`` environment variables and every one has a default that works
on the embedded stack (`driftloop broker` on 127.0.0.1:9092)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from driftloop.contracts import Domain, Topics
from driftloop.contracts.domain import default_domain


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIFTLOOP_", frozen=True, extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    schema_registry_url: str | None = Field(
        None, description="Confluent-compatible schema registry; unset: ids derived locally."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name.")
    topic_partitions: int = Field(4, ge=1, description="Partitions of topics created at start.")
    domain: str = Field(default_factory=default_domain,
                        description="The domain (a folder under domains/); unset: "
                        "domains/index.toml's default.")
    data_dir: Path = Field(Path(".driftloop"), description="Local state: registry, offline store.")
    log_level: str = Field("INFO", description="Python logging level.")
    http_host: str = Field("127.0.0.1", description="Address the service's HTTP server binds.")
    # A recorded span per event per service is costly at tens of thousands of events/s: one
    # event in ten is followed (the demo and the end-to-end test keep this default too).
    trace_sample_ratio: float = Field(0.1, ge=0.0, le=1.0, description="Share of traces kept.")
    # Which events are followed is drawn from a seeded generator: the same stream gives the
    # same sample in every run, so a test over sampled traces does not change from run to run.
    trace_sample_seed: int = Field(0, description="Seed of the per-event trace sampling.")
    trace_file: Path | None = Field(None, description="Also write spans as JSON lines here.")
    # The OpenTelemetry variable keeps its standard name: the exporter is only set up when
    # an endpoint is configured (an exporter pointed at nothing hangs exit ~29 s).
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "DRIFTLOOP_OTLP_ENDPOINT"
        ),
        description="OTLP/HTTP endpoint for traces (OTEL_EXPORTER_OTLP_ENDPOINT).",
    )

    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix, event_schema=self.load_domain().event_schema)

    def load_domain(self) -> Domain:
        return Domain.load(self.domain)
