"""Telemetry: one OpenTelemetry set-up for every service (service.name = the service's name),
W3C trace context carried in Kafka headers, and Prometheus metrics named per service."""

from __future__ import annotations

from driftloop.telemetry.metrics import ServiceMetrics
from driftloop.telemetry.tracing import (
    TRACEPARENT,
    EventTraces,
    HopSpans,
    context_from_headers,
    link_from_headers,
    setup_tracing,
    traceparent_of,
)

__all__ = [
    "TRACEPARENT",
    "EventTraces",
    "HopSpans",
    "ServiceMetrics",
    "context_from_headers",
    "link_from_headers",
    "setup_tracing",
    "traceparent_of",
]
