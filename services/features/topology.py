"""Which stage computes which view, and what the first stage sends the second. Pure.

events.valid is keyed (and partitioned) by the domain's entity, so only that entity's views
can be computed where the events land: the *first stage*, per-event windows per owned
partition. A view of any other declared entity the event names needs all of that entity's
inputs in one place, so the first stage re-keys them onto features.repartition, keyed by the other
entity's id, as Kafka Streams does with a repartition topic; the *second stage* consumes it
in its own consumer group and keeps bucketed windows. A bucketed view of the key entity itself
(a rate of its labels) is kept there too, re-keyed onto the same id: the first stage keeps
per-event windows only, and the second stage is where label inputs are folded. Labels reach
the second stage the same way: joined, in the first stage, to the event they label (the first
stage holds the key entity's events, fields included, for its longest window)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.featurestore.declarations import (
    DeclarationError,
    EntityDeclaration,
    FeatureDeclarations,
    ViewDeclaration,
)

#: The full name of the repartition topic's value schema (schemas/repartitioned_input.avsc).
REPARTITIONED_INPUT = "driftloop.features.RepartitionedInput"


@dataclass(frozen=True)
class Topology:
    key_views: tuple[ViewDeclaration, ...]
    """Per-event views of the entity events.valid is keyed by: first stage."""
    rekeyed_views: tuple[ViewDeclaration, ...]
    """Bucketed views (of every other entity the events name, and of the key entity):
    second stage."""
    entities: tuple[EntityDeclaration, ...]
    """The re-keyed entities, each once."""
    event_values: dict[str, tuple[str, ...]]
    """Per re-keyed entity, the event fields its views aggregate (sent as ``values``)."""
    label_values: dict[str, tuple[str, ...]]
    """Per re-keyed entity, the label fields its views aggregate (empty: no label input)."""

    @classmethod
    def plan(cls, declarations: FeatureDeclarations, key_field: str,
             event_fields: set[str]) -> Topology:
        """The stages of the declared views whose entity the domain's events name."""
        views = [v for v in declarations.views.values() if v.entity.event_field in event_fields]
        key_views = tuple(v for v in views
                          if v.entity.event_field == key_field and v.bucket_s is None)
        rekeyed = tuple(v for v in views if v not in key_views)
        for view in rekeyed:
            if view.bucket_s is None:
                raise DeclarationError(f"view {view.name!r} is of a re-keyed entity: declare "
                                       "its bucket (per-event windows of a hot entity would "
                                       "hold every event of its longest window)")
        if rekeyed and not key_views:
            raise DeclarationError("re-keyed views need a view of the key entity: its windows "
                                   "decide which events count and hold them for label joins")
        entities = tuple({v.entity.name: v.entity for v in rekeyed}.values())

        def fields(entity: EntityDeclaration, source: str) -> tuple[str, ...]:
            return tuple(sorted({f.field for v in rekeyed if v.entity == entity
                                 for f in v.features if f.source == source}))

        return cls(key_views, rekeyed, entities,
                   {e.name: fields(e, "events") for e in entities},
                   {e.name: fields(e, "labels") for e in entities})

    @property
    def carry(self) -> tuple[str, ...]:
        """Event fields the first stage keeps with each event, to re-key its label later."""
        return tuple(sorted({e.event_field for e in self.entities}))

    def views_of(self, entity: str) -> tuple[ViewDeclaration, ...]:
        return tuple(v for v in self.rekeyed_views if v.entity.name == entity)

    def event_inputs(self, event: Mapping[str, Any], event_id: str, time: Any
                     ) -> list[dict[str, Any]]:
        """The repartition records of one applied event: one per re-keyed entity it names."""
        out = []
        for entity in self.entities:
            entity_id = event.get(entity.event_field)
            if entity_id is None:
                continue
            out.append({"entity": entity.name, "entity_id": str(entity_id), "source": "events",
                        "input_id": event_id, "time": time,
                        "values": {f: float(event[f]) for f in self.event_values[entity.name]}})
        return out

    def label_inputs(self, label: Mapping[str, Any], carried: Mapping[str, Any]
                     ) -> list[dict[str, Any]]:
        """The repartition records of one label, given the fields its event carried: one per
        re-keyed entity whose views read labels."""
        out = []
        for entity in self.entities:
            names = self.label_values[entity.name]
            entity_id = carried.get(entity.event_field)
            if not names or entity_id is None:
                continue
            out.append({"entity": entity.name, "entity_id": str(entity_id), "source": "labels",
                        "input_id": str(label["event_id"]), "time": label["labelled_at"],
                        "values": {f: float(label[f]) for f in names}})
        return out
