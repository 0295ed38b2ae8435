from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from driftloop.contracts.model_inputs import ModelInputs

EVENT = {"event_id": "e1", "card_id": "c1", "merchant_id": "m", "amount": 99.0,
         "currency": "USD", "merchant_category": "7995", "channel": "ONLINE", "country": "DE",
         "event_time": datetime(2024, 5, 1, 23, 30, tzinfo=UTC)}


def test_cards_inputs_from_the_domain_file() -> None:
    inputs = ModelInputs.load("cards")
    values = inputs.compute(EVENT)
    assert inputs.names[:4] == ["amount", "log_amount", "hour_of_day", "channel=POS"]
    assert values["amount"] == 99.0
    assert values["log_amount"] == math.log1p(99.0)
    assert values["hour_of_day"] == 23.0
    assert [values[f"channel={c}"] for c in ("POS", "ONLINE", "ATM")] == [0.0, 1.0, 0.0]
    assert values["currency=USD"] == 1.0 and values["currency=EUR"] == 0.0
    assert values["mcc_high_risk"] == 1.0


def test_hour_is_utc_for_epoch_ms_and_other_zones() -> None:
    inputs = ModelInputs.load("cards")
    ms = int(datetime(2024, 5, 1, 7, 5, tzinfo=UTC).timestamp() * 1000)
    assert inputs.compute({**EVENT, "event_time": ms})["hour_of_day"] == 7.0
    paris = datetime(2024, 5, 1, 9, 5, tzinfo=timezone(timedelta(hours=2)))
    assert inputs.compute({**EVENT, "event_time": paris})["hour_of_day"] == 7.0
