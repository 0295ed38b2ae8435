"""The simulated world: cards with spending habits and merchants with a place and a trade.

Generated once from a seed, so the same seed gives the same cards, merchants and habits. Pure:
no clock, no I/O."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

#: Countries with a weight (how many cards live there) and the currency spent there.
COUNTRIES: tuple[tuple[str, float, str], ...] = (
    ("DE", 0.24, "EUR"), ("FR", 0.18, "EUR"), ("GB", 0.14, "GBP"), ("NL", 0.08, "EUR"),
    ("ES", 0.08, "EUR"), ("IT", 0.08, "EUR"), ("US", 0.10, "USD"), ("CH", 0.05, "CHF"),
    ("JP", 0.05, "JPY"),
)
#: Far-away countries where only fraudsters (and, after some drifts, travellers) spend.
FOREIGN_ONLY: tuple[str, ...] = ("BR", "NG", "RU", "ID", "VN", "MX")

#: Everyday merchant categories (ISO 18245 MCC) with a typical basket size factor.
EVERYDAY_MCC: tuple[tuple[str, float], ...] = (
    ("5411", 1.0),   # grocery stores
    ("5812", 0.8),   # restaurants
    ("5814", 0.3),   # fast food
    ("5541", 1.2),   # fuel
    ("4111", 0.2),   # commuter transport
    ("5912", 0.5),   # pharmacies
    ("5311", 1.5),   # department stores
    ("5651", 1.6),   # clothing
)
#: Categories fraudsters like: resale value (electronics, jewellery) or cash-like goods.
RISKY_MCC: tuple[str, ...] = ("5732", "5944", "6051", "4829", "5999")

CHANNELS: tuple[str, ...] = ("POS", "ONLINE", "ATM", "CONTACTLESS")


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    country: str
    category: str
    basket: float  # typical basket size factor of the trade


@dataclass(frozen=True, slots=True)
class Card:
    card_id: str
    home: str
    currency: str
    log_mean: float       # habitual log(amount)
    log_sd: float
    channel_weights: tuple[float, ...]  # over CHANNELS
    activity: float       # how often the card is used, relative to others
    favourites: tuple[int, ...]  # indices of merchants the card usually pays at


@dataclass(frozen=True)
class World:
    cards: tuple[Card, ...]
    merchants: tuple[Merchant, ...]
    card_cumweights: tuple[float, ...]
    #: merchant indices by country, to find "a new merchant at home" or "one abroad"
    by_country: dict[str, tuple[int, ...]]
    #: merchants in risky categories, by country
    risky_by_country: dict[str, tuple[int, ...]]

    @classmethod
    def generate(cls, seed: int, n_cards: int = 5000, n_merchants: int = 2000) -> World:
        rng = random.Random(f"world:{seed}")
        countries = [c for c, _, _ in COUNTRIES]
        weights = [w for _, w, _ in COUNTRIES]
        currency = {c: cur for c, _, cur in COUNTRIES}
        merchants: list[Merchant] = []
        for i in range(n_merchants):
            # one merchant in ten sits abroad, so fraud "abroad" has somewhere to happen
            if i % 10 == 9:
                country = FOREIGN_ONLY[rng.randrange(len(FOREIGN_ONLY))]
            else:
                country = rng.choices(countries, weights)[0]
            if rng.random() < 0.15:
                category, basket = RISKY_MCC[rng.randrange(len(RISKY_MCC))], 3.0
            else:
                category, basket = EVERYDAY_MCC[rng.randrange(len(EVERYDAY_MCC))]
            merchants.append(Merchant(f"m{i:05d}", country, category, basket))
        by_country: dict[str, list[int]] = {}
        risky: dict[str, list[int]] = {}
        for idx, m in enumerate(merchants):
            by_country.setdefault(m.country, []).append(idx)
            if m.category in RISKY_MCC:
                risky.setdefault(m.country, []).append(idx)
        cards: list[Card] = []
        cum = 0.0
        cumweights: list[float] = []
        for i in range(n_cards):
            home = rng.choices(countries, weights)[0]
            local = by_country.get(home) or list(range(n_merchants))
            favourites = tuple(local[rng.randrange(len(local))] for _ in range(6))
            channel_weights = (
                rng.uniform(2, 6), rng.uniform(0.5, 3), rng.uniform(0.1, 0.6),
                rng.uniform(0.5, 4),
            )
            activity = math.exp(rng.gauss(0.0, 0.8))
            cards.append(Card(
                f"c{i:05d}", home, currency[home], rng.gauss(3.4, 0.45), rng.uniform(0.35, 0.7),
                channel_weights, activity, favourites,
            ))
            cum += activity
            cumweights.append(cum)
        return cls(
            tuple(cards), tuple(merchants), tuple(cumweights),
            {k: tuple(v) for k, v in by_country.items()},
            {k: tuple(v) for k, v in risky.items()},
        )
