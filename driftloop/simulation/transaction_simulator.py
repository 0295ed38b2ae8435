"""The card-transaction stream: everyday spending, fraud patterns, daily rhythm and drifts,
with the ground truth of every event.

Pure and seeded: event ``i`` of seed ``s`` is the same on every machine, whatever the pace it
is consumed at. Time is stream time (``index / rate`` seconds after ``start_ms``): the runner
that paces it decides when it is real.

Fraud before a concept drift ("tactic A") is loud: bursts of card testing then big buys, big
tickets at resale merchants abroad, cash withdrawals in a new country. After it ("tactic B")
fraud is quiet: single contactless payments just under the no-PIN limit at a ring of
compromised domestic merchants, while honest cardholders start travelling, so a model that
learnt "abroad and unusual means fraud" now misses fraud and flags travellers."""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from driftloop.simulation.drift_schedule import DriftKind, DriftSchedule
from driftloop.simulation.simulated_event import SimulatedEvent
from driftloop.simulation.world import CHANNELS, FOREIGN_ONLY, Card, World

LEGIT = "legit"
TRAVEL = "legit_travel"
BURST = "burst"
BIG_TICKET = "big_ticket"
NEW_COUNTRY = "new_country"
RING = "merchant_ring"
FRAUD_PATTERNS: tuple[str, ...] = (BURST, BIG_TICKET, NEW_COUNTRY, RING)

#: Contactless payments below this need no PIN: tactic B stays just under it.
NO_PIN_LIMIT = 50.0


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 7
    rate: float = 200.0                 # events per second of stream time
    start_ms: int = 0                   # event_time of event 0
    n_cards: int = 5000
    n_merchants: int = 2000
    fraud_rate: float = 0.008           # chance an event starts a fraud (bursts add more)
    day_length_s: float = 86_400.0      # a simulated day, in stream seconds (shorter: faster)
    start_hour: float = 12.0
    drifts: DriftSchedule = DriftSchedule()
    ring_size: int = 12                 # compromised merchants used by tactic B


class TransactionSimulator:
    def __init__(self, config: SimulatorConfig, world: World | None = None) -> None:
        self.config = config
        self.world = world or World.generate(config.seed, config.n_cards, config.n_merchants)
        self._rng = random.Random(f"stream:{config.seed}")
        self._index = 0
        # follow-ups of running fraud bursts: (index, sequence, card index, step)
        self._pending: list[tuple[int, int, int, int]] = []
        self._seq = 0
        ring_rng = random.Random(f"ring:{config.seed}")
        self._ring = tuple(ring_rng.randrange(len(self.world.merchants))
                           for _ in range(config.ring_size))

    @property
    def rate(self) -> float:
        return self.config.rate

    @property
    def index(self) -> int:
        """How many events have been generated so far."""
        return self._index

    def hour_of_day(self, offset_s: float) -> float:
        return (self.config.start_hour + offset_s * 24.0 / self.config.day_length_s) % 24.0

    def __iter__(self) -> Iterator[SimulatedEvent]:
        while True:
            yield self.next()

    def take(self, n: int) -> list[SimulatedEvent]:
        return [self.next() for _ in range(n)]

    def next(self) -> SimulatedEvent:
        i = self._index
        self._index += 1
        offset_s = i / self.config.rate
        if self._pending and self._pending[0][0] <= i:
            _, _, card_idx, step = heapq.heappop(self._pending)
            return self._burst_step(i, offset_s, card_idx, step)
        hour = self.hour_of_day(offset_s)
        # fraud clusters at night, when cardholders sleep and do not notice
        night = 1.8 if hour < 6 else 1.0
        if self._rng.random() < self.config.fraud_rate * night:
            return self._fraud(i, offset_s)
        return self._legit(i, offset_s, hour)

    # -- helpers ---------------------------------------------------------------------------
    def _event(self, i: int, offset_s: float, card: Card, merchant_idx: int, amount: float,
               channel: str) -> dict[str, Any]:
        merchant = self.world.merchants[merchant_idx]
        return {
            "event_id": f"s{self.config.seed}-{i:09d}",
            "card_id": card.card_id,
            "merchant_id": merchant.merchant_id,
            "amount": round(min(max(amount, 0.5), 50_000.0), 2),
            "currency": card.currency,
            "merchant_category": merchant.category,
            "channel": channel,
            "country": merchant.country,
            "event_time": self.config.start_ms + round(offset_s * 1000),
        }

    def _pick_card(self) -> tuple[int, Card]:
        cw = self.world.card_cumweights
        idx = min(bisect.bisect_left(cw, self._rng.random() * cw[-1]), len(cw) - 1)
        return idx, self.world.cards[idx]

    def _pick(self, pool: tuple[int, ...]) -> int:
        return pool[self._rng.randrange(len(pool))] if pool else self._rng.randrange(
            len(self.world.merchants))

    def _foreign(self, card: Card) -> int:
        country = FOREIGN_ONLY[self._rng.randrange(len(FOREIGN_ONLY))]
        return self._pick(self.world.by_country.get(country, ()))

    # -- honest spending -------------------------------------------------------------------
    def _legit(self, i: int, offset_s: float, hour: float) -> SimulatedEvent:
        _, card = self._pick_card()
        rng = self._rng
        covariate = self.config.drifts.strength(DriftKind.COVARIATE, offset_s)
        concept = self.config.drifts.strength(DriftKind.CONCEPT, offset_s)
        weights = list(card.channel_weights)
        weights[1] *= 1.0 + 2.0 * covariate  # the spending shift moves people online
        channel = rng.choices(CHANNELS, weights)[0]
        # evenings are for bigger baskets; the covariate drift makes everything dearer
        rhythm = 1.0 + 0.3 * math.sin((hour - 13.0) / 24.0 * 2 * math.pi)
        amount = math.exp(rng.gauss(card.log_mean, card.log_sd)) * rhythm * (1 + 0.6 * covariate)
        if concept and rng.random() < 0.20 * concept:
            # honest travellers: abroad, new merchants, bigger amounts - what fraud used to be
            merchant = self._foreign(card)
            return SimulatedEvent(i, offset_s, self._event(
                i, offset_s, card, merchant, amount * rng.uniform(1.5, 4.0),
                rng.choice(("POS", "ATM", "ONLINE"))), False, TRAVEL, card.card_id)
        if rng.random() < 0.8 - 0.15 * covariate:
            merchant = card.favourites[rng.randrange(len(card.favourites))]
        else:
            merchant = self._pick(self.world.by_country.get(card.home, ()))
        amount *= self.world.merchants[merchant].basket
        if channel == "ATM":
            amount = 20.0 * max(1, round(amount * 2 / 20.0))
        return SimulatedEvent(i, offset_s, self._event(i, offset_s, card, merchant, amount,
                                                       channel), False, LEGIT, card.card_id)

    # -- fraud -----------------------------------------------------------------------------
    def _fraud(self, i: int, offset_s: float) -> SimulatedEvent:
        rng = self._rng
        concept = self.config.drifts.strength(DriftKind.CONCEPT, offset_s)
        card_idx = rng.randrange(len(self.world.cards))  # stolen cards are anyone's
        card = self.world.cards[card_idx]
        if rng.random() < concept:
            return self._ring_fraud(i, offset_s, card)
        pattern = rng.choices((BURST, BIG_TICKET, NEW_COUNTRY), (0.5, 0.3, 0.2))[0]
        if pattern == BURST:
            follow_ups = rng.randint(2, 6)
            at = offset_s
            for step in range(1, follow_ups + 1):
                at += rng.uniform(2.0, 30.0)
                target = max(i + 1, math.ceil(at * self.config.rate))
                self._seq += 1
                heapq.heappush(self._pending, (target, self._seq, card_idx, step))
            return self._burst_step(i, offset_s, card_idx, 0)
        typical = math.exp(card.log_mean)
        if pattern == BIG_TICKET:
            risky = self.world.risky_by_country
            pool = tuple(m for c in FOREIGN_ONLY for m in risky.get(c, ()))
            merchant = self._pick(pool)
            amount = typical * rng.uniform(8.0, 25.0)
            channel = rng.choice(("ONLINE", "POS"))
        else:
            merchant = self._foreign(card)
            amount = 20.0 * rng.randint(10, 50)
            channel = "ATM"
        return SimulatedEvent(i, offset_s, self._event(i, offset_s, card, merchant, amount,
                                                       channel), True, pattern, card.card_id)

    def _burst_step(self, i: int, offset_s: float, card_idx: int, step: int) -> SimulatedEvent:
        rng = self._rng
        card = self.world.cards[card_idx]
        risky = self.world.risky_by_country
        country = rng.choice(FOREIGN_ONLY + (card.home,))
        merchant = self._pick(risky.get(country, ()) or self.world.by_country.get(country, ()))
        # card testing: a tiny payment first, then the real spending once the card works
        amount = rng.uniform(0.5, 3.0) if step == 0 else rng.uniform(150.0, 900.0)
        return SimulatedEvent(i, offset_s, self._event(i, offset_s, card, merchant, amount,
                                                       "ONLINE"), True, BURST, card.card_id)

    def _ring_fraud(self, i: int, offset_s: float, card: Card) -> SimulatedEvent:
        rng = self._rng
        merchant = self._ring[rng.randrange(len(self._ring))]
        amount = rng.uniform(NO_PIN_LIMIT - 12.0, NO_PIN_LIMIT - 0.5)
        return SimulatedEvent(i, offset_s, self._event(i, offset_s, card, merchant, amount,
                                                       "CONTACTLESS"), True, RING, card.card_id)


def card_stream(seed: int, rate: float, start_ms: int, drifts: DriftSchedule
                ) -> TransactionSimulator:
    """The card domain's generator (domains/cards/domain.toml ``[stream]``)."""
    return TransactionSimulator(SimulatorConfig(seed=seed, rate=rate, start_ms=start_ms,
                                                drifts=drifts))
