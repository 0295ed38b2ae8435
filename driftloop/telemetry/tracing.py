"""Tracing across services. Each event's trace starts at ingest; every hop reads the W3C
``traceparent`` Kafka header, continues the trace in its own span, and writes the header of
its output, so on-call follows one event from ingest to monitor in one trace."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
    Tracer,
)
from opentelemetry.util.types import Attributes

TRACEPARENT = "traceparent"
_SAMPLED_LAST_DIGITS = frozenset(b"13579bdfBDF")
_NO_PARENT = Context()
#: The root span of each event's trace, started by ``EventTraces`` at ingest.
EVENT_ROOT = "ingest"
#: Roots the SDK's sampler keeps whatever the ratio: rare, consequential work (a retrain
#: request, a training run), which on-call would usually find missing if sampled per event;
#: and event roots, whose sampling ``EventTraces`` has already decided (sampling them again
#: would keep ratio² of the events).
ALWAYS_SAMPLED = frozenset({"retrain.request", "train", EVENT_ROOT})


class _RareAlwaysSampler(Sampler):
    """Roots named in ALWAYS_SAMPLED are kept; other roots at the per-event ratio."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None, trace_state: Any = None
                      ) -> SamplingResult:
        sampler = ALWAYS_ON if name in ALWAYS_SAMPLED else self._ratio
        return sampler.should_sample(parent_context, trace_id, name, kind, attributes, links,
                                     trace_state)

    def get_description(self) -> str:
        return f"RareAlways{{{self._ratio.get_description()}}}"


class JsonLinesExporter(SpanExporter):
    """Writes finished spans as JSON lines: for tests and for a laptop without a trace UI."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", buffering=1)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            ctx = span.get_span_context()
            parent = span.parent
            links = [f"{link.context.trace_id:032x}-{link.context.span_id:016x}"
                     for link in span.links]
            self._file.write(json.dumps({
                "name": span.name,
                "service": span.resource.attributes.get("service.name"),
                "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
                "span_id": f"{ctx.span_id:016x}" if ctx else None,
                "parent_id": f"{parent.span_id:016x}" if parent else None,
                "start": span.start_time,
                "end": span.end_time,
                "attributes": dict(span.attributes or {}),
                "links": links,
            }) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def setup_tracing(
    service_name: str,
    *,
    otlp_endpoint: str | None = None,
    trace_file: Path | None = None,
    sample_ratio: float = 1.0,
    otlp_timeout_s: float = 2.0,
) -> TracerProvider:
    """Install the tracer provider for this process. The OTLP exporter is created only when an
    endpoint is configured, with a short timeout, so a missing collector never hangs exit."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(_RareAlwaysSampler(sample_ratio)),
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, timeout=otlp_timeout_s),
            export_timeout_millis=int(otlp_timeout_s * 1000),
        ))
    if trace_file is not None:
        # Exported each second (the SDK's default is 5 s): a file is cheap to append to, and
        # a process killed without warning loses at most that much.
        provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(trace_file),
                                                       schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    return provider


def traceparent_of(span: Span) -> bytes | None:
    """The W3C traceparent header value of ``span``, built directly (the generic propagator
    costs several microseconds per event on the hot path); None when tracing is off."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}".encode()


class EventTraces:
    """Starts one trace per event at high rates. A recorded SDK span costs ~20 µs here, a
    non-recording one ~7 µs; at tens of thousands of events per second that is the budget.
    So the sampling decision is made first, and an unsampled event gets a traceparent with
    fresh ids and the sampled flag off (~1 µs): downstream services, whose samplers follow the
    parent, record nothing for it, and its id still correlates logs."""

    def __init__(self, tracer: Tracer, sample_ratio: float, seed: int | None = None) -> None:
        self._tracer = tracer
        self._ratio = sample_ratio
        self._random = random.Random(seed)

    def start(self, attributes: dict[str, str]) -> bytes:
        """Record (if sampled) the root span of a new event's trace; return its traceparent.
        Always a root: an HTTP request's span (one per POST of hundreds of events) is not the
        event's parent, or one trace would hold a whole batch."""
        if self._ratio >= 1.0 or self._random.random() < self._ratio:
            span = self._tracer.start_span(EVENT_ROOT, context=_NO_PARENT, attributes=attributes)
            span.end()
            header = traceparent_of(span)
            if header is not None:
                return header
        bits = self._random.getrandbits
        return f"00-{bits(128) or 1:032x}-{bits(64) or 1:016x}-00".encode()


def context_from_headers(headers: Sequence[tuple[str, bytes]] | None) -> Context | None:
    """The remote parent context carried in Kafka headers, or None."""
    span_ctx = _span_context(_traceparent(headers))
    return None if span_ctx is None else trace.set_span_in_context(NonRecordingSpan(span_ctx))


def _traceparent(headers: Sequence[tuple[str, bytes]] | None) -> bytes | None:
    """The raw ``traceparent`` header value, unparsed (parsing costs more than the scan)."""
    for key, value in headers or ():
        if key == TRACEPARENT:
            return value
    return None


def _span_context(value: bytes | None) -> SpanContext | None:
    if value is None:
        return None
    try:
        _, trace_id, span_id, flags = value.decode().split("-")
        return SpanContext(trace_id=int(trace_id, 16), span_id=int(span_id, 16), is_remote=True,
                           trace_flags=TraceFlags(int(flags, 16)))
    except (ValueError, UnicodeDecodeError):
        return None


def link_from_headers(headers: Sequence[tuple[str, bytes]] | None) -> Link | None:
    """A link to the span that wrote these Kafka headers (e.g. the retrain request that
    caused a training run), or None."""
    ctx = _span_context(_traceparent(headers))
    return Link(ctx) if ctx is not None else None


class HopSpans:
    """A consuming service's hop in each sampled event's trace: one span per consumed record
    whose ``traceparent`` says sampled, child of the span that wrote it, from when its batch
    was polled to when the batch's outputs were acknowledged and its offsets committed. An
    unsampled record costs one look at its headers (~0.3 µs); nothing is built for it."""

    def __init__(self, tracer: Tracer, name: str) -> None:
        self._tracer = tracer
        self._name = name

    def begin(self, records: Sequence[Any]) -> tuple[int, list[tuple[Context, Any]]]:
        """The batch's start time and the sampled records' parent contexts."""
        sampled = []
        for record in records:
            value = _traceparent(record.headers)
            # Only sampled records are parsed. The sampled flag is the low bit of the last hex
            # digit: newer SDKs also set the "random trace id" bit, so flags read 03, not 01.
            if value is not None and value[-1] in _SAMPLED_LAST_DIGITS:
                ctx = _span_context(value)
                if ctx is not None:
                    sampled.append((trace.set_span_in_context(NonRecordingSpan(ctx)), record))
        return time.time_ns(), sampled

    def end(self, begun: tuple[int, list[tuple[Context, Any]]]) -> None:
        started, sampled = begun
        for parent, record in sampled:
            self._tracer.start_span(self._name, context=parent, start_time=started, attributes={
                "messaging.destination.name": record.topic,
                "messaging.kafka.partition": record.partition,
                "messaging.kafka.offset": record.offset,
            }).end()
