"""The Grafana dashboard against live /metrics pages: the five services run for real (in this
process, on the session's broker and Redis, with real Feast, onnxruntime and torch imported),
a little traffic goes round the loop, and every metric the dashboard queries must be on some
service's /metrics page with samples, carrying the labels the dashboard groups and filters by.

The traffic, and the metric series it is there to create:
- 50 ordinary card events and 1 invalid one by HTTP to ingest: ``ingest_events_total`` (valid and
  deadletter), ``ingest_batch_seconds``; features folds them into windows
  (``features_events_total``); the scorer scores them with its baseline model
  (``scorer_predictions_total``, ``scorer_latency_seconds``, ``scorer_model_info``); the monitor
  and the trainer read the predictions.
- a label for each of those 50 events, both classes: the monitor's live quality
  (``monitor_quality``), the trainer's labelled examples.
- 40 events with amounts a thousand times larger: the monitor's detectors (warm-up shortened to
  10 predictions) see the drift (``monitor_drift_signals_total``).
- a retrain request, with fewer labelled rows than the trainer needs: one run whose outcome is
  ``not_enough_data`` (``trainer_runs_total``), with no training, so the test stays fast.

Unlabelled series (the consumer lag of every service, ``scorer_degraded_total``) are on the page
from the start. A service that does not start is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from driftloop.contracts import AvroCodec, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.featurestore import FeatureClient, FeatureStoreSettings
from driftloop.registry import ModelRegistry
from services.features.app import Features
from services.features.settings import FeaturesSettings
from services.ingest.app import Ingest
from services.ingest.settings import IngestSettings
from services.monitor.app import Monitor
from services.monitor.settings import MonitorSettings
from services.scorer.app import Scorer
from services.scorer.settings import ScorerSettings
from services.trainer.app import Trainer
from services.trainer.settings import TrainerSettings
from tests.conftest import free_port
from tests.dashboards import (
    REPO,
    all_exprs,
    dashboards,
    promql_groupings,
    promql_matchers,
    promql_metrics,
)
from tests.integration.kafka_helpers import produce

SERVICES = ("ingest", "features", "scorer", "trainer", "monitor")
PROMETHEUS = REPO / "deploy" / "prometheus.yml"
#: Labels Prometheus adds when it scrapes (never on a /metrics page): checked against the
#: scrape configuration instead.
SCRAPE_LABELS = {"job", "instance"}
NORMAL, SHIFTED = 50, 40
START_TIMEOUT_S = 90.0
WAIT_TIMEOUT_S = 30.0

Scrape = dict[str, list[Sample]]  # sample name -> samples, for one service


# -- the services --------------------------------------------------------------------------------
@dataclass
class Running:
    name: str
    service: Any
    port: int
    task: asyncio.Task[None]
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def build_services(kafka: str, redis_url: str, prefix: str, data_dir: Path
                   ) -> dict[str, tuple[Any, int]]:
    """Each service object as its ``main()`` would build it, on private ports, groups and
    topics (one partition, so the monitor sees the predictions in the order they were made)."""
    common: dict[str, Any] = {"kafka_bootstrap": kafka, "topic_prefix": prefix,
                              "topic_partitions": 1, "data_dir": data_dir}
    ports = {name: free_port() for name in SERVICES}
    group = {f"{name}_group": f"{prefix}{name}" for name in SERVICES}
    registry_root = str(data_dir / "registry")
    store = FeatureStoreSettings(redis_url=redis_url, data_dir=data_dir)  # type: ignore[call-arg]
    return {
        "ingest": (Ingest(IngestSettings(
            **common, ingest_port=ports["ingest"], ingest_group=group["ingest_group"])),
            ports["ingest"]),
        "features": (Features(FeaturesSettings.model_validate({
            **common, "redis_url": redis_url, "features_port": ports["features"],
            "features_group": group["features_group"]})), ports["features"]),
        "scorer": (Scorer(
            ScorerSettings(**common, scorer_port=ports["scorer"],
                           scorer_group=group["scorer_group"]),
            FeatureClient.from_settings(store), ModelRegistry(registry_root)), ports["scorer"]),
        "trainer": (Trainer(TrainerSettings(
            **common, registry_url=registry_root, trainer_port=ports["trainer"],
            trainer_group=group["trainer_group"], trainer_min_new_labels=0,
            trainer_min_rows=10_000, trainer_code_version="test")), ports["trainer"]),
        "monitor": (Monitor(MonitorSettings(
            **common, registry_url=registry_root, monitor_port=ports["monitor"],
            monitor_group=group["monitor_group"], monitor_warmup=10,
            monitor_snapshot_interval_s=3600.0,
            monitor_gauge_interval_s=0.0)), ports["monitor"]),
    }


async def wait_ready(services: dict[str, Running], client: httpx.AsyncClient) -> None:
    """Until every /readyz answers 200; a service that crashed or stays unready fails the test
    with what it was waiting for."""
    waiting: dict[str, str] = dict.fromkeys(services, "no answer")
    deadline = time.monotonic() + START_TIMEOUT_S
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            run = services[name]
            if run.task.done():
                pytest.fail(f"{name} stopped while starting: {run.task.exception()!r}")
            try:
                reply = await client.get(f"{run.url}/readyz")
            except httpx.TransportError:
                continue
            if reply.status_code == 200:
                del waiting[name]
            else:
                waiting[name] = reply.text
        await asyncio.sleep(0.1)
    assert not waiting, f"services not ready after {START_TIMEOUT_S:.0f} s: {waiting}"


@asynccontextmanager
async def the_loop(kafka: str, redis_url: str, prefix: str, data_dir: Path
                   ) -> AsyncIterator[tuple[dict[str, Running], httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
        services: dict[str, Running] = {}

        async def stop_all() -> None:
            for run in services.values():
                run.stopping.set()
            await asyncio.wait_for(
                asyncio.gather(*(r.task for r in services.values()), return_exceptions=True), 30)

        stack.push_async_callback(stop_all)
        for name, (service, port) in build_services(kafka, redis_url, prefix, data_dir).items():
            stopping = asyncio.Event()
            task = asyncio.create_task(service.run(stopping), name=f"driftloop-{name}")
            services[name] = Running(name, service, port, task, stopping)
        await wait_ready(services, client)
        yield services, client


# -- scraping ------------------------------------------------------------------------------------
async def scrape(client: httpx.AsyncClient, run: Running) -> Scrape:
    """One GET /metrics, parsed as Prometheus does: sample name -> samples."""
    reply = await client.get(f"{run.url}/metrics")
    assert reply.status_code == 200, f"{run.name} /metrics: {reply.status_code}"
    samples: Scrape = defaultdict(list)
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[sample.name].append(sample)
    return dict(samples)


async def scrape_all(client: httpx.AsyncClient, services: dict[str, Running]
                     ) -> dict[str, Scrape]:
    pages = await asyncio.gather(*(scrape(client, run) for run in services.values()))
    return dict(zip(services, pages, strict=True))


def total(page: Scrape, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(s.value for s in page.get(name, [])
               if all(s.labels.get(k) == v for k, v in labels.items()))


async def wait_for(client: httpx.AsyncClient, services: dict[str, Running], what: str,
                   done: Callable[[dict[str, Scrape]], bool]) -> dict[str, Scrape]:
    """Scrape every service until ``done`` holds (the live pages are the progress signal)."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while True:
        for run in services.values():
            if run.task.done():
                pytest.fail(f"{run.name} stopped: {run.task.exception()!r}")
        pages = await scrape_all(client, services)
        if done(pages):
            return pages
        if time.monotonic() > deadline:
            pytest.fail(f"after {WAIT_TIMEOUT_S:.0f} s still waiting for {what}")
        await asyncio.sleep(0.2)


# -- traffic -------------------------------------------------------------------------------------
CODEC = AvroCodec(load_schemas(), LocalSchemaRegistry(load_schemas()))


def card_event(i: int, amount: float) -> dict[str, object]:
    return {"event_id": f"live-{i}", "card_id": f"live-card-{i % 7}", "merchant_id": "m1",
            "amount": amount, "currency": "EUR", "merchant_category": "5411",
            "channel": "ONLINE" if i % 3 == 0 else "POS", "country": "DE",
            "event_time": int(time.time() * 1000)}


async def post_events(client: httpx.AsyncClient, ingest: Running, events: list[Any]
                      ) -> dict[str, Any]:
    reply = await client.post(f"{ingest.url}/events", json=events)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def push_traffic(kafka: str, services: dict[str, Running],
                       client: httpx.AsyncClient) -> dict[str, Scrape]:
    ingest, trainer = services["ingest"], services["trainer"]
    topics = ingest.service.topics

    # 1. Ordinary events (and one invalid) through ingest, features, scorer, monitor, trainer.
    normal = [card_event(i, 10.0 + i) for i in range(NORMAL)]
    body = await post_events(client, ingest, [*normal, {"event_id": "live-bad"}])
    assert (body["accepted"], body["rejected"]) == (NORMAL, 1), body
    await wait_for(client, services, f"{NORMAL} predictions at the monitor and the trainer",
                   lambda p: total(p["features"], "driftloop_features_events_total") >= NORMAL
                   and total(p["scorer"], "driftloop_scorer_predictions_total") >= NORMAL
                   and total(p["monitor"], "driftloop_monitor_records_total",
                             kind="prediction") >= NORMAL
                   and total(p["trainer"], "driftloop_trainer_records_total",
                             topic="predictions") >= NORMAL)

    # 2. Their labels, both classes, so live quality has every metric (ROC AUC included).
    await produce(kafka, topics.labels, [
        (f"live-{i}".encode(), CODEC.encode("driftloop.models.Label", {
            "event_id": f"live-{i}", "label": i % 2, "labelled_by": "test",
            "labelled_at": int(time.time() * 1000)})) for i in range(NORMAL)])
    await wait_for(client, services, f"{NORMAL} labels at the monitor and the trainer",
                   lambda p: total(p["monitor"], "driftloop_monitor_records_total",
                                   kind="label") >= NORMAL
                   and total(p["trainer"], "driftloop_trainer_records_total",
                             topic="labels") >= NORMAL)
    # (the monitor refreshes its gauges after every batch here: no pause between the phases)

    # 3. Amounts a thousand times larger: data and prediction drift for the monitor.
    shifted = [card_event(NORMAL + i, 50_000.0 + i) for i in range(SHIFTED)]
    body = await post_events(client, ingest, shifted)
    assert body["accepted"] == SHIFTED, body

    # 4. A retrain request the trainer cannot satisfy yet (min rows 10,000): a quick run.
    await produce(kafka, topics.retrain_requests, [(b"fraud", CODEC.encode(
        "driftloop.monitoring.RetrainRequest", {
            "request_id": "live-metrics-1", "model_name": trainer.service.model_name,
            "reason": "test", "requested_by": "test", "requested_at": int(time.time() * 1000),
            "evidence": {}}))])
    return await wait_for(
        client, services, "the drifted predictions, the drift signal and the training run",
        lambda p: total(p["monitor"], "driftloop_monitor_records_total",
                        kind="prediction") >= NORMAL + SHIFTED
        and total(p["monitor"], "driftloop_monitor_drift_signals_total") >= 1
        and total(p["trainer"], "driftloop_trainer_runs_total") >= 1
        and bool(p["monitor"].get("driftloop_monitor_quality")))


# -- what the dashboard asks of the pages --------------------------------------------------------
def owner(metric: str) -> str:
    """The service a metric's name says exports it (``driftloop_<service>_...``)."""
    parts = metric.split("_")
    return parts[1] if len(parts) > 2 and parts[1] in SERVICES else "?"


def queried_metrics() -> dict[str, set[str]]:
    """Metric name -> the dashboards that query it."""
    used: dict[str, set[str]] = defaultdict(set)
    for dashboard, exprs in all_exprs().items():
        for expr in exprs:
            for metric in promql_metrics(expr):
                used[metric].add(dashboard)
    return used


def exporters(pages: dict[str, Scrape], metric: str) -> list[str]:
    return [name for name, page in pages.items() if page.get(metric)]


def missing_metrics(pages: dict[str, Scrape]) -> list[str]:
    problems = []
    for metric, where in sorted(queried_metrics().items()):
        if exporters(pages, metric):
            continue
        expected = owner(metric)
        page = pages.get(expected, {})
        ours = sorted(n for n in page if n.startswith(f"driftloop_{expected}_"))
        problems.append(f"{metric} (queried by {', '.join(sorted(where))}): expected from "
                        f"{expected}, whose /metrics has no such sample; it exports {ours}")
    return problems


def label_values(pages: dict[str, Scrape], metric: str, label: str) -> set[str] | None:
    """The values ``label`` takes on ``metric``'s samples; None if some sample lacks it."""
    samples = [s for name in exporters(pages, metric) for s in pages[name][metric]]
    if not samples or any(label not in s.labels for s in samples):
        return None
    return {s.labels[label] for s in samples}


def literal_alternatives(regex: str) -> list[str] | None:
    """``a|b|c`` as its alternatives, when every one is a plain literal."""
    parts = regex.split("|")
    return parts if all(re.fullmatch(r"[\w.:-]+", p) for p in parts) else None


def label_problems(pages: dict[str, Scrape]) -> list[str]:
    """Labels the dashboard groups or filters by that the live samples lack, and matcher
    values no sample has (a filter that always selects nothing)."""
    problems = []
    for dashboard, exprs in all_exprs().items():
        for expr in exprs:
            for grouping in promql_groupings(expr):
                for metric in sorted(grouping.metrics):
                    for label in sorted(grouping.labels - SCRAPE_LABELS):
                        if label_values(pages, metric, label) is None:
                            problems.append(f"{dashboard}: `by ({label})` but {metric} has no "
                                            f"label {label!r}: {expr}")
            for m in promql_matchers(expr):
                if m.label in SCRAPE_LABELS:
                    continue
                values = label_values(pages, m.metric, m.label)
                if values is None:
                    problems.append(f"{dashboard}: {m.metric} has no label {m.label!r}: {expr}")
                    continue
                wanted: list[str] = []
                if m.op == "=":
                    wanted = [m.value]
                elif m.op == "=~":
                    wanted = literal_alternatives(m.value) or []
                    if not any(re.fullmatch(m.value, v) for v in values):
                        problems.append(f"{dashboard}: {m.label}=~{m.value!r} matches none of "
                                        f"{sorted(values)} on {m.metric}")
                for value in wanted:
                    if value not in values:
                        problems.append(f"{dashboard}: {m.metric}{{{m.label}={value!r}}} never "
                                        f"occurs; {m.label} takes {sorted(values)}")
    return problems


# -- the tests -----------------------------------------------------------------------------------
async def test_every_dashboard_metric_is_on_a_live_metrics_page(
        kafka_bootstrap: str, redis_url: str, topic_prefix: str, tmp_path: Path) -> None:
    async with the_loop(kafka_bootstrap, redis_url, topic_prefix, tmp_path) as (services, client):
        for run in services.values():  # each page parses before any traffic
            assert await scrape(client, run), f"{run.name}: empty /metrics"
        pages = await push_traffic(kafka_bootstrap, services, client)

    assert set(pages) == set(SERVICES)
    for name, page in pages.items():
        foreign = sorted(n for n in page if n.startswith("driftloop_")
                         and not n.startswith(f"driftloop_{name}_"))
        assert not foreign, f"{name} exports metrics with another service's prefix: {foreign}"
        assert f"driftloop_{name}_consumer_lag" in page, f"{name}: no consumer lag"
    missing, labels = missing_metrics(pages), label_problems(pages)
    report = []
    if missing:
        report += ["the dashboard queries metrics no live service exports:", *missing]
    if labels:
        report += ["the dashboard's labels do not match the live samples:", *labels]
    assert not report, "\n  ".join(report)
    # The champion stat shows a version the scorer really serves.
    champion = {s.labels["version"] for s in pages["scorer"]["driftloop_scorer_model_info"]
                if s.labels["role"] == "champion" and s.value == 1}
    assert champion == {"baseline-rules-1"}, champion


def scrape_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS.read_text())
    return config


def test_scrape_labels_the_dashboard_uses_come_from_the_prometheus_config() -> None:
    """The dashboard may filter or group by labels Prometheus adds (job, instance) or by the
    scrape config's static target labels (``service``) only with values that config gives; and
    every static target says the service whose port it scrapes."""
    jobs = {job["job_name"]: job for job in scrape_config()["scrape_configs"]}
    driftloop = jobs["driftloop"]
    static: dict[str, set[str]] = defaultdict(set)
    for group in driftloop["static_configs"]:
        for key, value in (group.get("labels") or {}).items():
            static[key].add(value)
        service = (group.get("labels") or {}).get("service")
        assert service in SERVICES, group
        assert all(t.split(":")[0] == service for t in group["targets"]), group
    assert static["service"] == set(SERVICES)
    everywhere = set.intersection(*(set(group.get("labels") or {})
                                    for group in driftloop["static_configs"]))
    target_labels = SCRAPE_LABELS | set(static)
    allowed = {"job": set(jobs), **static}
    problems = []
    for dashboard, exprs in all_exprs().items():
        for expr in exprs:
            for m in promql_matchers(expr):
                if m.label not in target_labels or m.label == "instance":
                    continue
                values = allowed[m.label]
                ok = (m.value in values if m.op == "=" else
                      any(re.fullmatch(m.value, v) for v in values) if m.op == "=~" else True)
                if not ok:
                    problems.append(f"{dashboard}: {m.label}{m.op}{m.value!r} but "
                                    f"{PROMETHEUS.name} gives {sorted(values)}: {expr}")
            for grouping in promql_groupings(expr):
                for label in grouping.labels & (set(static) - everywhere):
                    problems.append(f"{dashboard}: groups by {label!r}, which not every "
                                    f"target in {PROMETHEUS.name} has: {expr}")
    assert not problems, "\n".join(problems)


def test_legends_name_labels_the_query_keeps() -> None:
    """``{{label}}`` in a legend is a label the aggregation keeps (else it renders empty)."""
    problems = []
    for name, dashboard in dashboards().items():
        stack = list(dashboard.get("panels", []))
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
                groupings = promql_groupings(target.get("expr", ""))
                if not legend or not groupings:
                    continue
                kept = groupings[0].labels  # the outermost aggregation comes first
                if legend - kept:
                    problems.append(f"{name}, {panel['title']!r}: legend uses "
                                    f"{sorted(legend - kept)}, the query keeps {sorted(kept)}")
    assert not problems, "\n".join(problems)


def test_promql_reading() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, source) (rate('
            'driftloop_ingest_batch_seconds_bucket{source="driftloop_x", job=~"a|b"}[5m])))'
            ' / ignoring(x) sum(driftloop_scorer_model_info) by (version)')
    assert promql_metrics(expr) == {"driftloop_ingest_batch_seconds_bucket",
                                    "driftloop_scorer_model_info"}
    assert [(m.metric, m.label, m.op, m.value) for m in promql_matchers(expr)] == [
        ("driftloop_ingest_batch_seconds_bucket", "source", "=", "driftloop_x"),
        ("driftloop_ingest_batch_seconds_bucket", "job", "=~", "a|b")]
    assert [(sorted(g.labels), sorted(g.metrics)) for g in promql_groupings(expr)] == [
        (["le", "source"], ["driftloop_ingest_batch_seconds_bucket"]),
        (["version"], ["driftloop_scorer_model_info"])]

