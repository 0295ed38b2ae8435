"""The labels topic as a table: event id -> its first label, for joining labels to the events
the first stage holds. Pure.

Every replica reads every label (a *global* table, as Kafka Streams' GlobalKTable): a label is
keyed by event id, not by the entity, so any partition of labels may hold any entity's label, and
partitions of events.valid move between replicas. A label is joined from whichever side comes
second: when it arrives and its event is already in an owned key-entity window, or when its event
is applied later (a label may be read before its event, e.g. while the first stage lags).
The first label of an event wins, as the trainer's does. Labels are forgotten once their label
time is ``horizon_s`` behind the newest label: by then their event has left every window."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class HeldLabel:
    record: Mapping[str, Any]  # the Label record as decoded (schemas/label.avsc)
    time_s: float  # labelled_at, in seconds
    joined: bool = False

    @property
    def entity(self) -> str | None:
        entity = self.record.get("entity_id")
        return None if entity is None else str(entity)


class LabelTable:
    def __init__(self, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self._labels: OrderedDict[str, HeldLabel] = OrderedDict()  # in arrival order
        self._newest = float("-inf")

    def put(self, record: Mapping[str, Any]) -> HeldLabel | None:
        """Hold a label; None when its event already has one (the first label wins)."""
        event_id = str(record["event_id"])
        if event_id in self._labels:
            return None
        held = self._labels[event_id] = HeldLabel(record, record["labelled_at"].timestamp())
        self._newest = max(self._newest, held.time_s)
        return held

    def get(self, event_id: str) -> HeldLabel | None:
        return self._labels.get(event_id)

    def expire(self) -> list[HeldLabel]:
        """Forget labels past the horizon (in arrival order, which follows label time closely
        enough for a memory bound); returns them."""
        cutoff = self._newest - self.horizon_s
        gone = []
        while self._labels:
            event_id, held = next(iter(self._labels.items()))
            if held.time_s >= cutoff:
                break
            del self._labels[event_id]
            gone.append(held)
        return gone

    def __iter__(self) -> Iterator[HeldLabel]:
        return iter(self._labels.values())

    def __len__(self) -> int:
        return len(self._labels)
