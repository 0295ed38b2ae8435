"""Each consuming service's hop in a sampled event's trace, links from a training run to its
request, and the sampler that always keeps those rare roots."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased

from services.telemetry import TRACEPARENT, HopSpans, link_from_headers
from services.telemetry.tracing import _RareAlwaysSampler

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]


def _provider(ratio: float) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider(sampler=ParentBased(_RareAlwaysSampler(ratio)))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_one_child_span_per_sampled_record_and_none_for_the_rest() -> None:
    provider, exporter = _provider(0.0)
    hops = HopSpans(provider.get_tracer("features"), "features.apply")
    records = [
        Record("events.valid", 0, 10, [(TRACEPARENT, f"00-{TRACE}-{PARENT}-01".encode())]),
        Record("events.valid", 0, 11, [(TRACEPARENT, f"00-{TRACE}-{PARENT}-00".encode())]),
        Record("events.valid", 1, 12, []),
        Record("events.valid", 1, 13, [(TRACEPARENT, b"garbage-01")]),
    ]
    hops.end(hops.begin(records))
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    span = spans[0]
    assert span.name == "features.apply"
    assert f"{span.context.trace_id:032x}" == TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT
    assert dict(span.attributes or {}) == {"messaging.destination.name": "events.valid",
                                           "messaging.kafka.partition": 0,
                                           "messaging.kafka.offset": 10}
    assert span.start_time is not None and span.end_time is not None
    assert span.start_time <= span.end_time


def test_retrain_roots_are_always_kept_and_a_run_links_to_its_request() -> None:
    provider, exporter = _provider(0.0)  # no per-event root is kept
    tracer = provider.get_tracer("monitor")
    tracer.start_span("score").end()
    request = tracer.start_span("retrain.request")
    request.end()
    ctx = request.get_span_context()
    header = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}".encode()
    link = link_from_headers([("other", b"x"), (TRACEPARENT, header)])
    assert link is not None and link.context.span_id == ctx.span_id
    tracer.start_span("train", links=[link]).end()
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["retrain.request", "train"]
    assert exporter.get_finished_spans()[1].links[0].context.trace_id == ctx.trace_id
    assert link_from_headers(None) is None and link_from_headers([(TRACEPARENT, b"no")]) is None
