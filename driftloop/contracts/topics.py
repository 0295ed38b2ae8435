"""Topic names and what each carries (DESIGN.md's topic table, in one place).

Every service builds its topic names from one ``Topics`` so a deployment (or a test) can put
all of them under a prefix without touching code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topic:
    """A topic's base name, its key, the full name of its value schema (None: raw bytes), and
    the services' consumer groups that read it (by their default group names; group-less
    followers such as the scorer's lifecycle listener are not groups and are not listed)."""

    base: str
    key: str
    schema: str | None
    doc: str
    read_by: tuple[str, ...] = ()


#: The topics of the loop. ``schema=None`` marks events.raw: applications' own JSON or Avro.
#: events.valid's schema is the domain's event schema, filled in by ``Topics``.
CATALOG: tuple[Topic, ...] = (
    Topic("events.raw", "event id", None, "raw JSON or Avro events from applications",
          ("ingest",)),
    Topic("events.valid", "entity id", "<domain>", "validated domain events",
          ("features", "scorer")),
    Topic("events.deadletter", "event id or none", "driftloop.ops.DeadLetter", "rejected input"),
    Topic("predictions", "event id", "driftloop.models.Prediction", "scores, features as scored",
          ("trainer", "monitor")),
    Topic("labels", "event id", "driftloop.models.Label", "ground truth from analysts",
          ("trainer", "monitor")),
    Topic("label.requests", "event id", "driftloop.models.LabelRequest", "asks for labels"),
    Topic("drift.signals", "detector", "driftloop.monitoring.DriftSignal", "drift detections"),
    Topic("retrain.requests", "model name", "driftloop.monitoring.RetrainRequest", "retrain asks",
          ("trainer",)),
    Topic("models.lifecycle", "model name", "driftloop.models.ModelLifecycle", "model changes",
          ("monitor",)),
    Topic("features.repartition", "entity id", "driftloop.features.RepartitionedInput",
          "the features service's inputs re-keyed by another entity of the event",
          ("features.repartition",)),
)


@dataclass(frozen=True)
class Topics:
    """Concrete topic names under an optional prefix, with the domain's event schema."""

    prefix: str = ""
    # the domain's event schema (Domain.event_schema); None: events.valid has no schema here
    event_schema: str | None = None
    catalog: tuple[Topic, ...] = field(default=CATALOG)

    def name(self, base: str) -> str:
        if base not in {t.base for t in self.catalog}:
            raise KeyError(f"unknown topic {base!r}")
        return f"{self.prefix}{base}"

    def schema_for(self, base: str) -> str | None:
        for topic in self.catalog:
            if topic.base == base:
                if topic.schema != "<domain>":
                    return topic.schema
                if self.event_schema is None:
                    raise ValueError(f"{base} carries the domain's events: build Topics with "
                                     "the domain's event_schema (CommonSettings.topics())")
                return self.event_schema
        raise KeyError(f"unknown topic {base!r}")

    def all_names(self) -> list[str]:
        return [self.name(t.base) for t in self.catalog]

    def inputs_by_group(self, group_ids: dict[str, str] | None = None) -> dict[str, list[str]]:
        """The topics each consumer group reads (from the catalog's ``read_by``), keyed by the
        group's id: ``group_ids`` maps a default group name to the id a deployment gives it."""
        ids = group_ids or {}
        inputs: dict[str, list[str]] = {}
        for topic in self.catalog:
            for group in topic.read_by:
                inputs.setdefault(ids.get(group, group), []).append(self.name(topic.base))
        return inputs

    # The names services use most, spelled as attributes for readability at call sites.
    @property
    def raw(self) -> str:
        return self.name("events.raw")

    @property
    def valid(self) -> str:
        return self.name("events.valid")

    @property
    def deadletter(self) -> str:
        return self.name("events.deadletter")

    @property
    def predictions(self) -> str:
        return self.name("predictions")

    @property
    def labels(self) -> str:
        return self.name("labels")

    @property
    def label_requests(self) -> str:
        return self.name("label.requests")

    @property
    def drift_signals(self) -> str:
        return self.name("drift.signals")

    @property
    def retrain_requests(self) -> str:
        return self.name("retrain.requests")

    @property
    def lifecycle(self) -> str:
        return self.name("models.lifecycle")
