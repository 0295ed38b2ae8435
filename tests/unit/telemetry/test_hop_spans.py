"""Each event's root span at ingest, each consuming service's hop in a sampled event's trace,
links from a training run to its request, and the sampler that always keeps those roots."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased

from driftloop.telemetry import TRACEPARENT, EventTraces, HopSpans, link_from_headers
from driftloop.telemetry.tracing import _RareAlwaysSampler

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
        # flags 02: the SDK's "random trace id" bit alone, not sampled
        Record("events.valid", 1, 14, [(TRACEPARENT, f"00-{TRACE}-{PARENT}-02".encode())]),
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


def test_event_roots_are_sampled_once_by_event_traces_and_never_parented() -> None:
    ratio = 0.5
    provider, exporter = _provider(ratio)  # the SDK's root sampler runs at the same ratio
    tracer = provider.get_tracer("ingest")
    traces = EventTraces(tracer, ratio, seed=3)
    with tracer.start_as_current_span("POST /events"):  # an HTTP request's span is current
        headers = [traces.start({"event.id": str(i)}) for i in range(400)]
    roots = [s for s in exporter.get_finished_spans() if s.name == "ingest"]
    # Seeded: EventTraces keeps 193 of 400. Sampled again by the SDK it would keep about 100.
    assert len(roots) == 193
    assert all(root.parent is None for root in roots)
    assert len({root.context.trace_id for root in roots}) == 193  # one trace per event
    sampled = [h for h in headers if int(h[-2:], 16) & 1]
    assert sorted(sampled) == sorted(
        f"00-{r.context.trace_id:032x}-{r.context.span_id:016x}-{int(r.context.trace_flags):02x}"
        .encode() for r in roots)


def test_a_hop_follows_the_headers_the_sdk_writes() -> None:
    """The SDK sets more flag bits than "sampled" (03 here): the hop must still see it."""
    provider, exporter = _provider(1.0)
    tracer = provider.get_tracer("ingest")
    header = EventTraces(tracer, 1.0).start({"event.id": "e1"})
    hops = HopSpans(tracer, "monitor.observe")
    hops.end(hops.begin([Record("predictions", 0, 0, [(TRACEPARENT, header)])]))
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["monitor.observe"].parent is not None
    assert spans["monitor.observe"].parent.span_id == spans["ingest"].context.span_id
