"""What benchmarks share: an embedded broker on a free port and services run as real
processes (`python -m services.X`), so numbers include process boundaries and Kafka hops."""

from __future__ import annotations

import os
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


@contextmanager
def service_process(name: str, env: dict[str, str], ready_url: str,
                    timeout_s: float = 60.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python -m services.<name>`` and wait for /readyz."""
    proc = subprocess.Popen([sys.executable, "-m", f"services.{name}"],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL)
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
