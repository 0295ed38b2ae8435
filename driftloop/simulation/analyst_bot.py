"""The analyst bot: labels events as a team of analysts would. It answers label requests and
audits a random sample of traffic, each answer arriving after a realistic delay and, now and
then, wrong (analysts err too). Owners report a share of the positives themselves, later than a
review (disputes: in cards, chargebacks, where most positive labels come from; a team that
only audited a 3 % sample would see a handful of frauds a minute). A domain whose every event
is labelled in time (a loan repaid or not) audits all of them (sample_rate 1).

Pure: the caller passes the time in and publishes what ``due`` returns. Every decision about
an event (sampled? how long? mislabelled? by whom?) is drawn from a generator seeded by the
bot's seed and the event id, so the same seed labels the same events the same way whatever
order requests arrive in - Kafka does not promise one across partitions."""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from driftloop.simulation.simulated_event import SimulatedEvent

BOT_PREFIX = "analyst-bot"


@dataclass(frozen=True)
class AnalystConfig:
    seed: int = 7
    sample_rate: float = 0.03        # share of all traffic audited without being asked
    min_delay_s: float = 2.0         # an analyst needs a moment...
    max_delay_s: float = 6.0         # ...but labels come within seconds in the demo
    dispute_rate: float = 0.0        # share of positives their owner reports (disputes)
    dispute_min_delay_s: float = 5.0  # disputes come later than reviews (days, in real life:
    dispute_max_delay_s: float = 15.0  # the demo compresses them like every other delay)
    noise: float = 0.01              # chance a label is wrong
    analysts: int = 4
    max_requests_per_s: float = 1e9  # capacity of the team; requests over it go unanswered
    memory: int = 2_000_000          # events whose truth is remembered


@dataclass(frozen=True, slots=True)
class LabelDecision:
    due_ms: int
    event_id: str
    entity_id: str
    label: int
    labelled_by: str
    true_label: int
    reason: str  # "request", "sample" or "dispute"

    def record(self) -> dict[str, Any]:
        """The Label record (schemas/label.avsc), labelled when it is due."""
        return {"event_id": self.event_id, "label": self.label, "labelled_by": self.labelled_by,
                "labelled_at": self.due_ms, "entity_id": self.entity_id}


class AnalystBot:
    def __init__(self, config: AnalystConfig) -> None:
        self.config = config
        self._truth: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._labelled: set[str] = set()
        self._queue: list[tuple[int, str, LabelDecision]] = []
        self.requests = 0
        self.unknown_requests = 0
        self.dropped_requests = 0
        self.scheduled = 0
        self._budget_window = -1
        self._budget_used = 0

    def _draw(self, event_id: str) -> random.Random:
        return random.Random(f"analyst:{self.config.seed}:{event_id}")

    def observe(self, event: SimulatedEvent, now_ms: int) -> LabelDecision | None:
        """Remember the truth of an event the bot can later be asked about; audit a random
        sample of them. Returns the scheduled decision when the event was sampled."""
        self._truth[event.event_id] = (event.entity_id, int(event.positive))
        if len(self._truth) > self.config.memory:
            self._truth.popitem(last=False)
        if self._draw(event.event_id).random() < self.config.sample_rate:
            return self._schedule(event.event_id, now_ms, "sample")
        if event.positive and self.config.dispute_rate > 0 and random.Random(
                f"dispute:{self.config.seed}:{event.event_id}").random() < self.config.dispute_rate:
            return self._schedule(event.event_id, now_ms, "dispute")
        return None

    def request(self, event_id: str, now_ms: int) -> LabelDecision | None:
        """A label.request arrived: schedule the answer, unless the event is unknown, already
        labelled, or the team is over capacity this second."""
        self.requests += 1
        if event_id not in self._truth:
            self.unknown_requests += 1
            return None
        second = now_ms // 1000
        if second != self._budget_window:
            self._budget_window, self._budget_used = second, 0
        if self._budget_used >= self.config.max_requests_per_s:
            self.dropped_requests += 1
            return None
        self._budget_used += 1
        return self._schedule(event_id, now_ms, "request")

    def _schedule(self, event_id: str, now_ms: int, reason: str) -> LabelDecision | None:
        if event_id in self._labelled:
            return None
        self._labelled.add(event_id)
        entity_id, truth = self._truth[event_id]
        rng = self._draw(event_id)
        rng.random()  # the sampling draw, so delay and noise do not depend on it
        cfg = self.config
        low, high = ((cfg.dispute_min_delay_s, cfg.dispute_max_delay_s) if reason == "dispute"
                     else (cfg.min_delay_s, cfg.max_delay_s))
        delay_ms = round(rng.uniform(low, high) * 1000)
        label = 1 - truth if rng.random() < self.config.noise else truth
        who = f"{BOT_PREFIX}-{rng.randrange(self.config.analysts) + 1}"
        decision = LabelDecision(now_ms + delay_ms, event_id, entity_id, label, who, truth,
                                 reason)
        heapq.heappush(self._queue, (decision.due_ms, event_id, decision))
        self.scheduled += 1
        return decision

    def due(self, now_ms: int) -> list[LabelDecision]:
        """The labels whose delay has passed, oldest first."""
        out = []
        while self._queue and self._queue[0][0] <= now_ms:
            out.append(heapq.heappop(self._queue)[2])
        return out

    @property
    def waiting(self) -> int:
        return len(self._queue)
