"""Shared fixtures. Integration tests run against a real Kafka-compatible broker and a real
Redis, both started here when the environment does not name them. A missing broker or Redis
is a failure, never a skip.

- DRIFTLOOP_TEST_KAFKA_BOOTSTRAP: use this broker instead of starting the embedded one.
- DRIFTLOOP_TEST_REDIS_URL: use this Redis instead of starting a private redis-server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from driftloop.messaging.embedded_broker import EmbeddedBroker
from driftloop.telemetry import setup_tracing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def tracing() -> None:
    """Tests run with a real tracer provider (no exporter), as services do."""
    setup_tracing("tests")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real broker for the whole session: the embedded Tansu broker on a free port."""
    configured = os.environ.get("DRIFTLOOP_TEST_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the whole session: a private redis-server on a free port."""
    configured = os.environ.get("DRIFTLOOP_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (make test installs it); "
                    "or set DRIFTLOOP_TEST_REDIS_URL")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix (and consumer-group suffix) per test, so tests never share state."""
    return f"t{uuid.uuid4().hex[:10]}."
