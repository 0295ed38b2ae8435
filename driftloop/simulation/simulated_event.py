"""What a stream generator yields: one event as an application would send it, with what really
happened (the label an analyst will give, noise aside). Shared by every domain's generator, the
analyst bot, the demo's ground truth and the baselines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    index: int
    offset_s: float          # stream seconds after event 0
    event: dict[str, Any]    # the payload, as the domain's schema declares it
    positive: bool           # the truth: label 1 (a fraud, a default, ...)
    pattern: str             # the generator's name for how the event came about
    entity_id: str           # the domain's entity (the event's key on events.valid)

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])
