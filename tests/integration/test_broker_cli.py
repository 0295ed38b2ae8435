"""``driftloop broker`` as a user runs it: a real process with the real Tansu broker, stopped
the way supervisors stop things (SIGTERM)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def poll(condition, what: str, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def broker_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:  # a broker that did not stop must not outlive the test
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def start(args: list[str], started: list[subprocess.Popen[bytes]], **env: str
          ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([DRIFTLOOP, "broker", *args], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(proc)
    return proc


def test_sigterm_stops_the_broker_and_the_process_exits(
        broker_process: list[subprocess.Popen[bytes]]) -> None:
    """Its SIGTERM handler once stopped the Tansu child from inside the main thread's wait on
    it: the child was left defunct and the process waited forever."""
    port = free_port()
    proc = start(["--port", str(port)], broker_process)
    poll(lambda: accepts(port) or proc.poll() is not None, "the broker to listen", 30)
    assert proc.poll() is None, "driftloop broker exited before listening"
    proc.send_signal(signal.SIGTERM)
    poll(lambda: proc.poll() is not None, "driftloop broker to exit after SIGTERM", 15)
    assert proc.returncode == 0
    poll(lambda: not accepts(port), "the port to close (the broker itself stopped)", 10)


def test_listens_where_the_bootstrap_setting_points(
        broker_process: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    proc = start([], broker_process, DRIFTLOOP_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}")
    poll(lambda: accepts(port) or proc.poll() is not None, "the broker to listen", 30)
    assert proc.poll() is None, "driftloop broker exited before listening"
    proc.send_signal(signal.SIGINT)
    poll(lambda: proc.poll() is not None, "driftloop broker to exit after SIGINT", 15)
    assert proc.returncode == 0
