"""Simulation: the seeded card-transaction world (cards, merchants, habits, fraud patterns,
scheduled covariate and concept drifts, ground truth per event), the analyst bot that labels
events as a fraud team would, and the runners that play them against a live loop."""

from __future__ import annotations

from driftloop.simulation.analyst_bot import AnalystBot, AnalystConfig, LabelDecision
from driftloop.simulation.analyst_desk import AnalystDesk
from driftloop.simulation.drift_schedule import Drift, DriftKind, DriftSchedule
from driftloop.simulation.event_sink import EventSink, HttpEventSink, KafkaEventSink, SinkError
from driftloop.simulation.paced_stream import Observer, PacedStream
from driftloop.simulation.transaction_simulator import (
    FRAUD_PATTERNS,
    SimulatedEvent,
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
]
