"""Simulation: each domain's seeded stream generator (declared in its domain.toml and loaded by
``stream_for``: the card-transaction world of cards, merchants, habits and fraud patterns; the
loan applications of River's Agrawal generator), scheduled covariate and concept drifts, the
ground truth of every event, the analyst bot that labels events, and the runners that play
them against a live loop."""

from __future__ import annotations

from driftloop.simulation.analyst_bot import AnalystBot, AnalystConfig, LabelDecision
from driftloop.simulation.analyst_desk import AnalystDesk
from driftloop.simulation.drift_schedule import Drift, DriftKind, DriftSchedule
from driftloop.simulation.event_sink import EventSink, HttpEventSink, KafkaEventSink, SinkError
from driftloop.simulation.paced_stream import Observer, PacedStream
from driftloop.simulation.simulated_event import SimulatedEvent
from driftloop.simulation.streams import EventStream, generator_of, stream_for
from driftloop.simulation.transaction_simulator import (
    FRAUD_PATTERNS,
    SimulatorConfig,
    TransactionSimulator,
)
from driftloop.simulation.world import Card, Merchant, World

__all__ = [
    "FRAUD_PATTERNS",
    "AnalystBot",
    "AnalystConfig",
    "AnalystDesk",
    "Card",
    "Drift",
    "DriftKind",
    "DriftSchedule",
    "EventSink",
    "EventStream",
    "HttpEventSink",
    "KafkaEventSink",
    "LabelDecision",
    "Merchant",
    "Observer",
    "PacedStream",
    "SimulatedEvent",
    "SimulatorConfig",
    "SinkError",
    "TransactionSimulator",
    "World",
    "generator_of",
    "stream_for",
]
