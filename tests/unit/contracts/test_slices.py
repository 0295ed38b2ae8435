"""Slices as the domains declare them: exact labels at every bound, from an event and from the
inputs its prediction logs (the same on every domain's seeded stream), and a clear error for
each declaration that cannot be answered from the logged inputs."""

from __future__ import annotations

import numpy as np
import pytest

from driftloop.contracts.domain import Domain, domain_names
from driftloop.contracts.model_inputs import ModelInputs
from driftloop.contracts.slices import MISSING, OTHER, SliceError, Slices
from driftloop.simulation.streams import stream_for

CARD = {"amount": 99.0, "channel": "ONLINE", "country": "DE", "currency": "USD",
        "merchant_category": "7995", "event_time": 0}
LOAN = {"age": 45, "elevel": 2, "loan": 150_000.0, "salary": 50_000.0, "commission": 0.0,
        "car": 3, "zipcode": 1, "hvalue": 0.0, "hyears": 5, "event_time": 0}


def slices_of(name: str) -> Slices:
    domain = Domain.load(name)
    return Slices.from_config(domain.slices, domain.model_inputs)


def test_cards_slices_label_events_at_every_bound() -> None:
    slices = slices_of("cards")
    assert slices.names == ["channel", "country_risk", "amount_band"]
    assert slices.of_event(CARD) == {"channel": "ONLINE", "country_risk": "low",
                                     "amount_band": "20-100"}
    bands = [slices.of_event({**CARD, "amount": a})["amount_band"]
             for a in (0.0, 19.99, 20.0, 99.99, 100.0, 499.99, 500.0, 1e6)]
    assert bands == ["<20", "<20", "20-100", "20-100", "100-500", "100-500", ">=500", ">=500"]
    assert slices.of_event({**CARD, "country": "NG"})["country_risk"] == "high"
    assert slices.of_event({**CARD, "channel": "MOTO"})["channel"] == OTHER
    assert slices.of_event({**CARD, "channel": None})["channel"] == MISSING
    assert slices.groups()["amount_band"] == ("<20", "20-100", "100-500", ">=500", MISSING)
    # the channel's values are its one_hot input's, in order
    assert slices.groups()["channel"] == ("POS", "ONLINE", "ATM", "CONTACTLESS", "OTHER", OTHER,
                                          MISSING)


def test_loans_slices_read_the_loan_through_its_log_input() -> None:
    slices = slices_of("loans")
    inputs = ModelInputs.load("loans")
    assert slices.of_event(LOAN) == {"age_band": "40-60", "elevel": "2",
                                     "loan_band": "100000-300000"}
    ages = [slices.of_event({**LOAN, "age": a})["age_band"] for a in (18, 39, 40, 59, 60, 90)]
    assert ages == ["<40", "<40", "40-60", "40-60", ">=60", ">=60"]
    # the prediction logs log(1 + loan) only: the bounds are compared through the same function
    for loan, band in ((0.0, "<100000"), (99_999.99, "<100000"), (100_000.0, "100000-300000"),
                       (299_999.99, "100000-300000"), (300_000.0, ">=300000")):
        event = {**LOAN, "loan": loan}
        assert slices.of_event(event)["loan_band"] == band
        assert slices.of_inputs(inputs.compute(event))["loan_band"] == band
    assert slices.of_event({**LOAN, "elevel": 2.0})["elevel"] == "2"   # as declared
    assert slices.of_inputs(inputs.compute(LOAN))["elevel"] == "2"


@pytest.mark.parametrize("name", domain_names())
def test_an_event_and_its_logged_inputs_get_the_same_labels(name: str) -> None:
    domain = Domain.load(name)
    slices = Slices.from_config(domain.slices, domain.model_inputs)
    inputs = ModelInputs.from_config(domain.model_inputs)
    events = [e.event for e in stream_for(domain, seed=3, rate=100.0, start_ms=0).take(1000)]
    for event in events:
        computed = inputs.compute(event)
        assert slices.of_inputs(computed) == slices.of_event(event)
        # the served model's own inputs are logged as float32: labels stay the same here
        as_float32 = {k: float(np.float32(v)) for k, v in computed.items()}
        assert slices.of_inputs(as_float32) == slices.of_event(event)
    assert all(len(set(slices.of_event(e)[n] for e in events)) > 1 for n in slices.names)


def test_absent_inputs_are_missing_and_unset_one_hots_other() -> None:
    slices = slices_of("cards")
    assert slices.of_inputs({}) == dict.fromkeys(slices.names, MISSING)
    zeros = {f"channel={c}": 0.0 for c in ("POS", "ONLINE", "ATM", "CONTACTLESS", "OTHER")}
    assert slices.of_inputs({**zeros, "country_high_risk": 1.0, "amount": 500.0}) == {
        "channel": OTHER, "country_risk": "high", "amount_band": ">=500"}


INPUTS = {"inputs": [
    {"kind": "one_hot", "field": "channel", "values": ["POS", "ATM"]},
    {"name": "amount", "kind": "numeric", "field": "amount"},
    {"name": "hour", "kind": "hour_of_day", "field": "event_time"},
    {"name": "risky", "kind": "in_set", "field": "country", "values": ["NG"]},
]}


@pytest.mark.parametrize(("section", "message"), [
    ({"a": {"kind": "colour", "field": "channel"}}, "kind 'colour' is not one of"),
    ({"a": {"kind": "values", "field": "country"}}, "no one_hot model input on 'country'"),
    ({"a": {"kind": "values", "field": "channel", "values": ["POS", "MOTO"]}}, "not ['MOTO']"),
    ({"a": {"kind": "bands", "field": "event_time", "bounds": [1]}}, "no numeric or log1p"),
    ({"a": {"kind": "bands", "field": "amount", "bounds": [100, 20]}}, "ascending"),
    ({"a": {"kind": "bands", "field": "amount", "bounds": []}}, "ascending"),
    ({"a": {"kind": "bands", "field": "amount", "bounds": ["x"]}}, "must be numbers"),
    ({"a": {"kind": "flag", "input": "hour"}}, "not an in_set or in_range"),
    ({"a": {"kind": "flag", "input": "risky", "labels": ["x", "x"]}}, "two different"),
    ({"a": {"kind": "bands", "field": "amount", "bound": [1]}}, "takes no ['bound']"),
    ({"a": {"kind": "bands", "bounds": [1]}}, "names no 'field'"),
    ({"a": 3}, "a table"),
])
def test_a_slice_that_cannot_be_read_from_the_inputs_is_refused(
        section: dict, message: str) -> None:
    with pytest.raises(SliceError, match=None) as caught:
        Slices.from_config(section, INPUTS)
    assert message in str(caught.value)


def test_a_domain_without_slices_has_none() -> None:
    assert len(Slices.from_config({}, INPUTS)) == 0
    flag = Slices.from_config({"risk": {"kind": "flag", "input": "risky"}}, INPUTS)
    assert flag.of_event({"country": "NG"}) == {"risk": "in"}
    assert flag.of_event({"country": "FR"}) == {"risk": "out"}
