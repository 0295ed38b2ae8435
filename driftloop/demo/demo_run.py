"""``driftloop demo``: the whole loop on one machine. Starts the broker and every runnable
service as supervised processes, plays the seeded stream with its drifts through ingest,
lets the analyst bot label, watches the topics with live progress, and ends with the report,
the PNG timeline and the JSON summary. Exit status 0 only when the loop closed and beat the
baselines, 3 when it closed but lost to the best of them, 1 when it did not close."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftloop.contracts import AvroCodec, Domain, Topics, load_schemas
from driftloop.contracts.schema_registry import registry_for
from driftloop.demo.baselines import BaselineProcess, BaselineSpec
from driftloop.demo.loop_ledger import LoopLedger
from driftloop.demo.loop_report import (
    SWAP_S,
    Truth,
    auc_between,
    build_report,
    champion_pairs,
    exit_code,
    recovery,
    render_text,
)
from driftloop.demo.loop_watcher import LoopWatcher
from driftloop.demo.roc_auc import roc_auc
from driftloop.demo.supervisor import Supervisor, SupervisorConfig
from driftloop.demo.timeline_plot import plot_timeline
from driftloop.messaging import KafkaClients, ensure_topics, wait_for_broker
from driftloop.messaging.consumer_lag import NotDrained, wait_until_drained
from driftloop.simulation import (
    AnalystBot,
    AnalystConfig,
    AnalystDesk,
    DriftKind,
    DriftSchedule,
    HttpEventSink,
    PacedStream,
    SimulatedEvent,
    stream_for,
)
from driftloop.simulation.bad_events import BadEvents

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """A demo run. ``domain`` decides the stream, its labels and the services' clocks; every
    field left None takes the domain's declared value (domains/NAME/domain.toml)."""

    output_dir: Path = Path("demo-output")
    duration_s: float = 240.0
    rate: float = 200.0
    seed: int = 7
    domain: str | None = None       # None: DRIFTLOOP_DOMAIN, else domains/index.toml's
    drifts: str | None = None       # None: the domain's [stream] drifts
    warmup_s: float = 20.0          # quality "before" starts here: the first model needs labels
    # after the stream: the longest wait for the last labels to be given and for every
    # service's consumer group to drain its inputs (a condition, not a pause)
    drain_timeout_s: float = 180.0
    # past duration_s, the stream goes on (at most this long) until the loop has recovered
    # (the report's verdict) and the recovering model has served judge_window_s: how fast a
    # machine closes the loop then decides how long the run is, not what it concludes
    max_extension_s: float = 0.0
    judge_window_s: float = 20.0
    # how labels arrive (None: the domain's [labels]): analysts' delay, their error rate, the
    # share of traffic they audit, the share of positives owners report (disputes)
    label_delay_s: tuple[float, float] | None = None
    label_noise: float | None = None
    sample_rate: float | None = None
    dispute_rate: float | None = None
    bad_rate: float | None = None   # broken payloads added to the stream, for the dead letters
    bootstrap: str | None = None    # None: the embedded broker
    broker_port: int = 9092
    topic_prefix: str = ""
    ingest_port: int = 8001
    services: list[str] | None = None
    ports: dict[str, int] = field(default_factory=dict)
    progress_every_s: float = 2.0
    baseline_every: int = 1         # the scoreboard scores a seeded 1/N of the events
    # from the domain, in __post_init__
    dispute_delay_s: tuple[float, ...] = field(init=False, default=(5.0, 15.0))
    positive_rate: float = field(init=False, default=0.5)
    cadence: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        domain = Domain.load(self.domain)
        self.domain = domain.name
        labels = domain.labels
        if self.drifts is None:
            self.drifts = str(domain.stream.get("drifts", ""))
        if self.label_delay_s is None:
            low, high = labels.get("delay_s", (2.0, 6.0))
            self.label_delay_s = (float(low), float(high))
        self.label_noise = _or(self.label_noise, labels.get("noise", 0.01))
        self.sample_rate = _or(self.sample_rate, labels.get("sample_rate", 0.05))
        self.dispute_rate = _or(self.dispute_rate, labels.get("dispute_rate", 0.0))
        self.bad_rate = _or(self.bad_rate, labels.get("bad_rate", 0.0))
        self.dispute_delay_s = tuple(float(v) for v in labels.get("dispute_delay_s", (5, 15)))
        self.positive_rate = float(domain.stream.get("positive_rate", 0.5))
        self.cadence = dict(domain.cadence)

    def service_env(self) -> dict[str, str]:
        """The services' settings at demo speed. A demo compresses days into minutes (label
        delays of seconds, a drift a minute in), so the loop's clocks shrink with it: the
        first model is trained once the warm-up's labels are in, the monitor's cooldown is
        seconds, not minutes. The domain declares each clock in seconds of its label flow
        (``[cadence]``): a count tuned to one domain's label rate is wrong for another's.
        Every value stays overridable from the environment."""
        labels_per_s = self.rate * (float(self.sample_rate or 0.0)
                                    + float(self.dispute_rate or 0.0) * self.positive_rate)
        c = self.cadence

        def labels(key: str, seconds: float, floor: int) -> str:
            return str(max(int(c.get(f"{key}_floor", floor)),
                           round(labels_per_s * float(c.get(f"{key}_s", seconds)))))

        return {
            # a first model as soon as the warm-up's labels are in...
            "DRIFTLOOP_TRAINER_FIRST_MODEL_LABELS": labels("first_model", 20, 500),
            # ...then retraining when the monitor asks (the schedule is a slow safety net)
            "DRIFTLOOP_TRAINER_MIN_NEW_LABELS": labels("retrain", 120, 1000),
            # a retrain request once some seconds of post-change labels are in (in cards,
            # disputes - the frauds that fooled the model - come 5-15 s after the payment)
            "DRIFTLOOP_MONITOR_RETRAIN_MIN_LABELS": labels("monitor_retrain", 12, 200),
            "DRIFTLOOP_MONITOR_RETRAIN_COOLDOWN_S": "20",
            "DRIFTLOOP_MONITOR_SNAPSHOT_INTERVAL_S": "10",
            # seven processes share two cores here: a lookup that waits for a core is not a
            # sick store (at 25 ms the breaker opened for seconds at a time, and the
            # champion scored, and the trainer learnt from, defaults)
            "DRIFTLOOP_FEATURE_DEADLINE_MS": "500",
            "DRIFTLOOP_SCORER_FEATURE_DEADLINE_S": "1.0",
        }


class Demo:
    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.domain = Domain.load(config.domain)
        self.schedule = DriftSchedule.parse(config.drifts or "")
        ports = {"ingest": config.ingest_port, **config.ports}
        sup_config = SupervisorConfig(config.output_dir, bootstrap=config.bootstrap,
                                      broker_port=config.broker_port,
                                      topic_prefix=config.topic_prefix,
                                      services=config.services,
                                      extra_env=config.service_env(),
                                      domain=self.domain.name)
        sup_config.ports.update(ports)
        self.supervisor = Supervisor(sup_config)
        self.ledger = LoopLedger()
        self.truth: dict[str, Truth] = {}
        self.baselines = BaselineProcess(BaselineSpec(
            self.domain.name, freeze_after_s=config.warmup_s, seed=config.seed,
            share=1 / max(1, config.baseline_every)))
        self.stopping = asyncio.Event()
        self.stream: PacedStream | None = None
        self._judged: tuple[float, bool] = (-math.inf, True)  # (when, still waiting)
        self.report: dict[str, Any] | None = None
        self.drained_s: float | None = None
        self.drain_error: str | None = None

    def _record_truth(self, events: list[SimulatedEvent] | Any, now_ms: int) -> None:
        for e in events:
            self.truth[e.event_id] = Truth(e.offset_s, e.positive)

    def _progress(self, stream: PacedStream, desk: AnalystDesk, last: list[float]) -> str:
        now = time.monotonic()
        sent_rate = (stream.sent - last[1]) / max(now - last[0], 1e-6)
        last[:] = [now, stream.sent]
        offset = stream.simulator.index / self.config.rate
        recent = [(p.score, self.truth[p.event_id].label)
                  for p in list(self.ledger.predictions.values())[-3000:]
                  if p.event_id in self.truth]
        auc = roc_auc([s for s, _ in recent], [int(y) for _, y in recent])
        phase = "concept drift" if self.schedule.strength(DriftKind.CONCEPT, offset) else (
            "covariate drift" if self.schedule.strength(DriftKind.COVARIATE, offset) else "calm")
        last_life = self.ledger.lifecycle[-1] if self.ledger.lifecycle else None
        return (f"t={offset:6.1f}s {phase:<15} {sent_rate:7.0f} ev/s  valid {self.ledger.valid}"
                f"  scored {len(self.ledger.predictions)}  labels {len(desk.published)}"
                f"  champion {self.ledger.champion or '-'}  AUC(recent) "
                f"{'-' if auc is None else f'{auc:.3f}'}  drift signals "
                f"{len(self.ledger.drift_signals)}  retrains {len(self.ledger.retrain_requests)}"
                + (f"  last: {last_life.get('action')} {last_life.get('version')}"
                   if last_life else ""))

    async def _loop(self) -> None:
        cfg = self.config
        bootstrap = self.supervisor.bootstrap
        await wait_for_broker(bootstrap, timeout_s=60)
        schemas = load_schemas()
        codec = AvroCodec(schemas, registry_for(None, schemas))
        topics = Topics(prefix=cfg.topic_prefix, event_schema=self.domain.event_schema)
        await ensure_topics(bootstrap, topics.all_names())
        clients = KafkaClients(bootstrap, client_id="demo")
        delay = cfg.label_delay_s or (2.0, 6.0)
        bot = AnalystBot(AnalystConfig(seed=cfg.seed, sample_rate=float(cfg.sample_rate or 0),
                                       min_delay_s=delay[0], max_delay_s=delay[1],
                                       noise=float(cfg.label_noise or 0),
                                       dispute_rate=float(cfg.dispute_rate or 0),
                                       dispute_min_delay_s=cfg.dispute_delay_s[0],
                                       dispute_max_delay_s=cfg.dispute_delay_s[1]))
        desk = AnalystDesk(bot, clients, codec, topics,
                           group_id=f"{cfg.topic_prefix}analyst-bot")
        self.baselines.start()
        self.baselines.follow(desk.published)  # learning each label once it is published
        simulator = stream_for(self.domain, seed=cfg.seed, rate=cfg.rate,
                               start_ms=int(time.time() * 1000), drifts=self.schedule)
        sink = HttpEventSink(f"http://127.0.0.1:{self.supervisor.config.ports['ingest']}/events")
        self.stream = stream = PacedStream(simulator, sink, duration_s=cfg.duration_s,
                             observers=[self._record_truth, desk.observe,
                                        self.baselines.observe],
                             bad=BadEvents(cfg.seed, cfg.bad_rate,
                                           schemas[self.domain.event_schema].raw, self.domain)
                             if cfg.bad_rate else None,
                             extend=self._not_yet_judged,
                             max_duration_s=cfg.duration_s + cfg.max_extension_s)
        watcher = LoopWatcher(clients, codec, topics, self.ledger)
        inner = asyncio.Event()
        tasks = [asyncio.create_task(watcher.run(inner)),
                 asyncio.create_task(desk.run(inner))]
        stream_task = asyncio.create_task(stream.run(self.stopping))
        last = [time.monotonic(), 0.0]
        drain: asyncio.Task[float] | None = None
        try:
            while True:
                await asyncio.sleep(cfg.progress_every_s)
                print(self._progress(stream, desk, last), flush=True)
                dead = [n for n in self.supervisor.dead() if n != "broker" or not cfg.bootstrap]
                if dead:
                    print(f"!! stopped unexpectedly: {', '.join(dead)}", flush=True)
                    break
                if self.stopping.is_set():
                    break
                if stream_task.done():
                    drain = drain or asyncio.create_task(self._drain(bootstrap, topics, desk))
                    if drain.done():
                        break
        finally:
            if drain is not None and not drain.done():
                drain.cancel()
            self.stopping.set()
            inner.set()
            await asyncio.gather(stream_task, *tasks, return_exceptions=True)
            await sink.close()
        self.report = build_report(
            self.ledger, self.truth, await asyncio.to_thread(self.baselines.finish),
            started_ms=stream.started_ms or 0, duration_s=stream.duration_s,
            concept_onset_s=self.schedule.onset(DriftKind.CONCEPT),
            covariate_onset_s=self.schedule.onset(DriftKind.COVARIATE),
            warmup_s=cfg.warmup_s, sent=stream.sent,
            bad_sent=stream.bad.sent if stream.bad else 0)
        self.report["config"] = {"domain": self.domain.name, "seed": cfg.seed,
                                 "rate": cfg.rate,
                                 "duration_s": cfg.duration_s,
                                 "streamed_s": stream.duration_s, "drifts": cfg.drifts,
                                 "services": self.supervisor.services,
                                 "label_delay_s": list(delay),
                                 "dispute_rate": cfg.dispute_rate, "bad_rate": cfg.bad_rate}
        self.report["drain"] = {"seconds": self.drained_s, "error": self.drain_error}

    def _not_yet_judged(self) -> bool:
        """True until the loop has recovered from the concept drift (the report's verdict:
        a promotion after the first retrain request from which the champion's ROC AUC stays
        near its level before the drift) and that promotion has served ``judge_window_s``
        of stream. A run with no concept drift has nothing to wait for. Evaluated at most
        once a second (it reads every champion prediction)."""
        onset_s = self.schedule.onset(DriftKind.CONCEPT)
        stream = self.stream
        if onset_s is None or stream is None or stream.started_ms is None:
            return False
        now = time.monotonic()
        if now - self._judged[0] < 1.0:
            return self._judged[1]
        champion = champion_pairs(self.ledger, self.truth)
        before = auc_between(champion, self.config.warmup_s, onset_s)
        requested = self.ledger.first("retrain", stream.started_ms + int(onset_s * 1000))
        recovered_s, _ = recovery(self.ledger, champion, stream.started_ms, requested, before)
        waiting = (recovered_s is None or stream.duration_s
                   < recovered_s + SWAP_S + self.config.judge_window_s)
        self._judged = (now, waiting)
        return waiting

    async def _drain(self, bootstrap: str, topics: Topics, desk: AnalystDesk) -> float:
        """Wait until the analysts have given every label they owe and every service's group
        has consumed (and committed) everything on its inputs: only then do the predictions,
        labels and spans of the whole stream exist. Returns the seconds it took."""
        started = time.monotonic()
        deadline = started + self.config.drain_timeout_s
        while desk.bot.waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        inputs = self.supervisor.consumer_inputs(topics)
        inputs[desk.group_id] = [topics.label_requests]
        shown = [0.0]

        def progress(lags: dict[str, int]) -> None:
            if time.monotonic() - shown[0] >= self.config.progress_every_s and any(lags.values()):
                shown[0] = time.monotonic()
                behind = ", ".join(f"{g.removeprefix(self.config.topic_prefix)} {n}"
                                   for g, n in sorted(lags.items()) if n)
                print(f"draining: records still to consume: {behind}", flush=True)

        try:
            await wait_until_drained(bootstrap, inputs, progress=progress,
                                     timeout_s=max(1.0, deadline - time.monotonic()))
        except NotDrained as exc:
            self.drain_error = str(exc)
            print(f"!! {exc}", flush=True)
        self.drained_s = time.monotonic() - started
        print(f"drained in {self.drained_s:.1f}s", flush=True)
        return self.drained_s

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        cfg = self.config
        cfg.output_dir.mkdir(parents=True, exist_ok=True)
        print(f"driftloop demo ({self.domain.name}): {cfg.duration_s:.0f}s at {cfg.rate:.0f} "
              f"events/s, seed {cfg.seed}, drifts {self.schedule.describe()}; services: "
              f"{', '.join(self.supervisor.services) or 'none'}", flush=True)
        try:
            await asyncio.to_thread(self.supervisor.start)
            await self._loop()
        finally:
            codes = await asyncio.to_thread(self.supervisor.stop)
            print(f"stopped: {codes}", flush=True)
        if self.report is None:
            return 2
        # each service's exit status on SIGTERM: 0 when it stopped within its grace period
        self.report["exit_codes"] = codes
        (cfg.output_dir / "summary.json").write_text(json.dumps(self.report, indent=2))
        plot_timeline(self.report, cfg.output_dir / "timeline.png")
        print(render_text(self.report))
        print(f"wrote {cfg.output_dir / 'summary.json'} and {cfg.output_dir / 'timeline.png'}")
        return exit_code(self.report)


def _or(value: float | None, declared: object) -> float:
    return float(declared) if value is None else value  # type: ignore[arg-type]


def run_demo(config: DemoConfig) -> int:
    return asyncio.run(Demo(config).run())
