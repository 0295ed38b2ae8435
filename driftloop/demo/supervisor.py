"""The demo supervisor: the embedded broker and every runnable service as separate processes,
with the same DRIFTLOOP_ environment, started together, checked, and stopped in data order
(upstream first, the broker last), each after its inputs are drained.

A service is runnable when ``services/<name>/app.py`` exists, so the demo picks up each
service the day it lands, with no change here."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from driftloop.contracts import Topics
from driftloop.demo.service_process import ServiceProcess

#: Start order follows the data: ingest feeds features, features feed the scorer...
LOOP_ORDER: tuple[str, ...] = ("ingest", "features", "scorer", "trainer", "monitor")
DEFAULT_PORTS: dict[str, int] = {"ingest": 8001, "scorer": 8002, "features": 8003,
                                 "trainer": 8004, "monitor": 8005}


def runnable_services() -> list[str]:
    """The loop's services whose package has an app.py today, in loop order."""
    return [name for name in LOOP_ORDER
            if importlib.util.find_spec(f"services.{name}") is not None
            and importlib.util.find_spec(f"services.{name}.app") is not None]


@dataclass
class SupervisorConfig:
    output_dir: Path
    bootstrap: str | None = None     # None: start the embedded broker on broker_port
    broker_port: int = 9092
    topic_prefix: str = ""
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    services: list[str] | None = None  # None: every runnable service
    extra_env: dict[str, str] = field(default_factory=dict)
    # the domain every service runs (the run's choice, over the user's DRIFTLOOP_DOMAIN)
    domain: str | None = None
    ready_timeout_s: float = 180.0
    grace_s: float = 10.0


class Supervisor:
    def __init__(self, config: SupervisorConfig) -> None:
        self.config = config
        self.services = config.services if config.services is not None else runnable_services()
        self.bootstrap = config.bootstrap or f"127.0.0.1:{config.broker_port}"
        self.data_dir = config.output_dir / "data"
        self.trace_dir = config.output_dir / "traces"
        self.log_dir = config.output_dir / "logs"
        self.processes: list[ServiceProcess] = []

    def env_for(self, name: str) -> dict[str, str]:
        """The environment every child shares, plus its own port and trace file."""
        # The user's DRIFTLOOP_ settings (a Redis URL, a registry...) reach every child and win
        # over the demo's own speed-ups; where the loop runs (broker, topics, data) is the
        # supervisor's.
        env = dict(self.config.extra_env)
        env.update(os.environ)
        env.update({
            "DRIFTLOOP_KAFKA_BOOTSTRAP": self.bootstrap,
            "DRIFTLOOP_TOPIC_PREFIX": self.config.topic_prefix,
            "DRIFTLOOP_DATA_DIR": str(self.data_dir),
            "DRIFTLOOP_TRACE_FILE": str(self.trace_dir / f"{name}.jsonl"),
            "PYTHONHASHSEED": "0",
            # one thread per process: 5 services on 2 cores must not fight over BLAS pools
            "OMP_NUM_THREADS": "1",
        })
        if self.config.domain:
            env["DRIFTLOOP_DOMAIN"] = self.config.domain
        for service, port in self.config.ports.items():
            env[f"DRIFTLOOP_{service.upper()}_PORT"] = str(port)
        for service in LOOP_ORDER:  # groups under the topic prefix: runs never share a group
            env[f"DRIFTLOOP_{service.upper()}_GROUP"] = self.group_ids()[service]
        return env

    def group_ids(self) -> dict[str, str]:
        """Default group name -> the id this run's services use (under the topic prefix)."""
        prefix = self.config.topic_prefix
        ids = {service: f"{prefix}{service}" for service in LOOP_ORDER}
        ids["features.repartition"] = f"{prefix}features.repartition"
        return ids

    def consumer_inputs(self, topics: Topics) -> dict[str, list[str]]:
        """The input topics of every running service's consumer groups: the drain barrier."""
        running = set(self.services)
        return {group: names for group, names in topics.inputs_by_group(self.group_ids()).items()
                if group.removeprefix(self.config.topic_prefix).split(".")[0] in running}

    def ready_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.config.ports[name]}/readyz"

    def start(self, say: Callable[[str], None] = print) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.config.bootstrap is None:
            from driftloop.messaging.embedded_broker import EmbeddedBroker

            broker = EmbeddedBroker(port=self.config.broker_port)
            proc = ServiceProcess("broker", broker.command(), self.env_for("broker"),
                                  self.log_dir / "broker.log",
                                  ready_port=(broker.host, broker.port))
            proc.start()
            self.processes.append(proc)
            proc.wait_ready(30)
            say(f"broker     ready on {self.bootstrap} (embedded, memory only)")
        started = []
        for name in self.services:
            proc = ServiceProcess(name, [sys.executable, "-m", f"services.{name}"],
                                  self.env_for(name), self.log_dir / f"{name}.log",
                                  ready_url=self.ready_url(name))
            proc.start()
            self.processes.append(proc)
            started.append(proc)
        for proc in started:  # started together: slow imports (torch, feast) overlap
            proc.wait_ready(self.config.ready_timeout_s)
            say(f"{proc.name:<10} ready on :{self.config.ports[proc.name]} "
                f"(pid {proc.process.pid if proc.process else '?'})")

    def dead(self) -> list[str]:
        return [p.name for p in self.processes if not p.alive]

    def stop(self) -> dict[str, int | None]:
        """Services in data order (a service stops after the ones feeding it, so nothing new
        reaches a stopped one), each flushing its spans and committing; the broker last."""
        codes = {}
        services = [p for p in self.processes if p.name != "broker"]
        broker = [p for p in self.processes if p.name == "broker"]
        for proc in [*services, *broker]:
            codes[proc.name] = proc.stop(self.config.grace_s)
        return codes
