"""Routing checked events to their topic: accepted ones to events.valid keyed by entity id,
with a new trace started per event; rejected ones to events.deadletter with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop.contracts import AvroCodec, EncodeError
from driftloop.messaging import DeadLetterer, Outbound
from driftloop.telemetry import TRACEPARENT, EventTraces
from services.ingest.event_checker import Accepted, Checked, Rejected


@dataclass(frozen=True, slots=True)
class Source:
    """Where a batch came from: ``http``, or a topic with the record's partition and offset."""

    name: str
    partition: int | None = None
    offset: int | None = None


class EventRouter:
    def __init__(self, codec: AvroCodec, event_schema: str, valid_topic: str,
                 dead_letters: DeadLetterer, traces: EventTraces) -> None:
        self._codec = codec
        self._schema = event_schema
        self._valid_topic = valid_topic
        self._dead_letters = dead_letters
        self._traces = traces

    def route(self, checked: Checked, source: Source) -> tuple[Outbound, dict[str, Any]]:
        """The record to publish and the per-event result a client is told."""
        out, rejected = self.publish_form(checked, source.name, source.partition, source.offset)
        if rejected is None:
            return out, {"event_id": checked.event_id, "accepted": True}
        return out, {"event_id": rejected.event_id, "accepted": False,
                     "error": rejected.error_class, "reason": rejected.reason}

    def publish_form(self, checked: Checked, source: str, partition: int | None = None,
                     offset: int | None = None) -> tuple[Outbound, Rejected | None]:
        """The record to publish, and the rejection when it goes to the dead-letter topic. The
        events.raw loop calls this once per event, so it builds nothing a client is not told."""
        if type(checked) is Accepted:
            try:
                value = self._codec.encode(self._schema, checked.record)
            except EncodeError as exc:  # the validator should have caught it; never lose it
                checked = Rejected(repr(checked.record).encode(), "encode_error", str(exc))
            else:
                event_id = checked.event_id
                parent = self._traces.start({"event.id": event_id, "source": source})
                return (Outbound(self._valid_topic, value, checked.entity_id.encode(),
                                 [(TRACEPARENT, parent)]), None)
        assert isinstance(checked, Rejected)
        dead = self._dead_letters.record(
            checked.original, checked.error_class, checked.reason, source=source,
            field=checked.field, partition=partition, offset=offset,
            key=checked.event_id.encode() if checked.event_id else None,
        )
        return dead, checked
