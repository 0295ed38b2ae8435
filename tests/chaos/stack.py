"""The loop under test: the five services as separate processes (the demo's ``Supervisor``),
a private redis-server the tests may freeze and restart, small filesystems under the
registry and the offline store that the tests may fill, and the ways to read the results
back from the topics."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from driftloop.contracts import AvroCodec, Domain, Topics, load_schemas
from driftloop.contracts.schema_registry import LocalSchemaRegistry
from driftloop.demo.service_process import ServiceProcess
from driftloop.demo.supervisor import LOOP_ORDER, Supervisor, SupervisorConfig
from driftloop.featurestore import FeatureDeclarations
from driftloop.featurestore.online_store import RedisOnlineStore
from driftloop.messaging.consumer_lag import end_offsets, wait_until_drained


class RedisServer:
    """A private redis-server on a fixed port (a restart must come back where the services
    look for it), without persistence: a restart loses every key, as a crashed cache does."""

    def __init__(self, port: int, log_path: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = ServiceProcess(
            "redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no"], dict(os.environ), log_path,
            ready_port=("127.0.0.1", port))

    def start(self) -> None:
        self.process.start()
        self.process.wait_ready(10)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process.process is not None
        os.kill(self.process.process.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and every command hangs, the worst case of a
        store that is slow rather than gone."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def restart(self) -> None:
        """Killed and started empty on the same port."""
        self.process.stop(grace_s=2)
        self.start()

    def stop(self) -> None:
        if self.process.alive:
            self.thaw()
        self.process.stop(grace_s=2)


class SmallDisk:
    """A tiny tmpfs mounted at ``path`` (the tests run as root here) that ``fill`` fills to
    the last byte. Where mounting is refused (not root), ``fill`` makes the directory tree
    read-only instead, which stops a non-root writer just as well; ``mounted`` says which."""

    FILLER = "chaos-filler"

    def __init__(self, path: Path, size: str = "32m") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True)
        self.mounted = done.returncode == 0

    def fill(self) -> None:
        if not self.mounted:
            for folder in [self.path, *[p for p in self.path.rglob("*") if p.is_dir()]]:
                folder.chmod(0o555)
            return
        chunk = b"\0" * (64 << 10)
        with (self.path / self.FILLER).open("wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        # the last partial chunk: tmpfs refuses a write larger than what is left
        with (self.path / f"{self.FILLER}-tail").open("wb", buffering=0) as tail:
            try:
                while True:
                    tail.write(b"\0")
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

    def free(self) -> None:
        if not self.mounted:
            for folder in [self.path, *[p for p in self.path.rglob("*") if p.is_dir()]]:
                folder.chmod(0o755)
            return
        for name in (self.FILLER, f"{self.FILLER}-tail"):
            (self.path / name).unlink(missing_ok=True)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@dataclass
class ChaosStack:
    """The running loop. ``restarts`` counts the test's restarts per service; ``pids`` are
    the current leader pids (a changed pid nobody asked for is a crash)."""

    supervisor: Supervisor
    redis: RedisServer
    registry_disk: SmallDisk
    offline_disk: SmallDisk
    topics: Topics
    codec: AvroCodec = field(default_factory=lambda: AvroCodec(
        load_schemas(), LocalSchemaRegistry(load_schemas())))
    restarts: dict[str, int] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.supervisor.bootstrap

    def process(self, name: str) -> ServiceProcess:
        return next(p for p in self.supervisor.processes if p.name == name)

    def pid(self, name: str) -> int:
        proc = self.process(name).process
        assert proc is not None
        return proc.pid

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.supervisor.config.ports[name]}{path}"

    def log(self, name: str) -> str:
        return (self.supervisor.log_dir / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """kill -9 of the service's whole process group: no flush, no commit, no goodbye."""
        proc = self.process(name)
        assert proc.process is not None
        os.killpg(proc.process.pid, signal.SIGKILL)
        proc.process.wait(timeout=10)
        proc.stop()  # reaps what is left of the group and closes the log

    def restart(self, name: str) -> None:
        proc = self.process(name)
        proc.start()
        proc.wait_ready(self.supervisor.config.ready_timeout_s)
        self.restarts[name] = self.restarts.get(name, 0) + 1

    def alive(self) -> list[str]:
        return [n for n in LOOP_ORDER if self.process(n).alive]

    async def drained(self, timeout_s: float = 180.0) -> float:
        """The drain barrier: every service's consumer group has committed the end of every
        partition of its inputs (twice in a row). Returns the seconds it took."""
        return await wait_until_drained(self.bootstrap, self.supervisor.consumer_inputs(
            self.topics), timeout_s=timeout_s)

    def metrics(self, name: str) -> str:
        return httpx.get(self.url(name, "/metrics"), timeout=5).text

    def champion_version(self) -> tuple[str, bool] | None:
        """The scorer's champion (version, is the declared baseline) from its /metrics."""
        found = re.search(r'driftloop_scorer_model_info\{[^}]*role="champion"[^}]*\}',
                          self.metrics("scorer"))
        if found is None:
            return None
        labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(0)))
        return labels["version"], labels["baseline"] == "true"

    def online_store(self) -> RedisOnlineStore:
        declarations = FeatureDeclarations.load(None)
        return RedisOnlineStore(self.redis.url, declarations.project,
                                declarations.services[Domain.load().feature_service or ""],
                                timeout_s=5.0)

    def decode(self, records: Iterable[ConsumerRecord], schema: str) -> list[dict[str, Any]]:
        return [self.codec.decode(r.value, schema) for r in records]


async def read_to_end(bootstrap: str, topic: str, timeout_s: float = 60.0
                      ) -> list[ConsumerRecord]:
    """Every record of ``topic`` up to its end offsets as of the call (taken after a drain
    barrier, that end is the whole output of the run)."""
    ends = await end_offsets(bootstrap, [topic])
    assigned = list(ends)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end in {timeout_s:.0f}s")
            for batch in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                records.extend(r for r in batch if r.offset < ends[TopicPartition(
                    r.topic, r.partition)])
        return records
    finally:
        await consumer.stop()


async def wait_for(condition: Any, timeout_s: float, what: str, poll_s: float = 0.2) -> Any:
    """Poll ``condition()`` (sync or async) until it returns something truthy; fail with
    ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(poll_s)


def start_stack(out: Path, bootstrap: str, prefix: str, ports: dict[str, int],
                redis_port: int, extra_env: dict[str, str]) -> ChaosStack:
    """Mount the small disks, start Redis and the five services; the caller stops it with
    ``stop_stack`` whatever happens."""
    data = out / "data"
    registry_disk = SmallDisk(data / "registry")
    # big enough for every test's history (one parquet file per view, partition and batch
    # filled the 32 MB of the registry's): only the store test fills it, on purpose
    offline_disk = SmallDisk(data / "offline", size="512m")
    redis = RedisServer(redis_port, out / "logs" / "redis.log")
    redis.start()
    env = {"DRIFTLOOP_REDIS_URL": redis.url, **extra_env}
    supervisor = Supervisor(SupervisorConfig(out, bootstrap=bootstrap, topic_prefix=prefix,
                                             ports=ports, services=list(LOOP_ORDER),
                                             extra_env=env, ready_timeout_s=240, grace_s=5))
    stack = ChaosStack(supervisor, redis, registry_disk, offline_disk,
                       Topics(prefix=prefix, event_schema=Domain.load().event_schema))
    try:
        supervisor.start(say=lambda line: print(line, flush=True))
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: ChaosStack) -> None:
    stack.redis.thaw() if stack.redis.process.alive else None
    stack.supervisor.stop()
    stack.redis.stop()
    for disk in (stack.registry_disk, stack.offline_disk):
        disk.free()
        disk.close()
