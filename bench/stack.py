"""What benchmarks share: an embedded broker on a free port and services run as real
processes (`python -m services.X`), so numbers include process boundaries and Kafka hops.

Two environment variables, read when a benchmark runs (never at import):
``DRIFTLOOP_BENCH_SCALE`` multiplies every benchmark's event counts (0.05: a few seconds
each, to check they work; the README's figures are taken at 1), and
``DRIFTLOOP_BENCH_PROFILE_DIR`` (set by ``python -m bench profile``) runs each service
process under cProfile, its stats written there when it stops."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from driftloop.messaging.embedded_broker import EmbeddedBroker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_broker() -> Iterator[str]:
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def scaled(n: int, least: int = 1) -> int:
    """``n`` times DRIFTLOOP_BENCH_SCALE, at least ``least``."""
    return max(least, round(n * float(os.environ.get("DRIFTLOOP_BENCH_SCALE", "1"))))


def service_argv(name: str) -> list[str]:
    """The command of service ``name``; under cProfile when a profile run asked for it."""
    folder = os.environ.get("DRIFTLOOP_BENCH_PROFILE_DIR")
    if not folder:
        return [sys.executable, "-m", f"services.{name}"]
    return [sys.executable, "-m", "cProfile", "-o", os.path.join(folder, f"{name}.pstats"),
            "-m", f"services.{name}"]


@contextmanager
def service_process(name: str, env: dict[str, str], ready_url: str,
                    timeout_s: float = 60.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python -m services.<name>`` and wait for /readyz."""
    proc = subprocess.Popen(service_argv(name), env={**os.environ, **env},
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{name} not ready after {timeout_s}s")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def redis_server() -> Iterator[str]:
    """A private, memory-only redis-server on a free port; yields its URL once it answers."""
    import redis

    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port",
                             str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
