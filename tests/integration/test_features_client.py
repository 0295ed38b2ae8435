"""The feature client against a real Redis that freezes (SIGSTOP): lookups answer defaults
within the deadline, the breaker opens, and the client recovers when Redis thaws."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from driftloop.featurestore import FeatureClient, FeatureStoreSettings
from tests.conftest import free_port


@pytest.fixture
def own_redis():
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.02)
    yield proc, f"redis://127.0.0.1:{port}/0"
    os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    proc.wait(5)


async def test_frozen_redis_degrades_fast(own_redis, tmp_path: Path) -> None:
    proc, url = own_redis
    settings = FeatureStoreSettings.model_validate({
        "redis_url": url, "data_dir": tmp_path, "feature_deadline_ms": 250,
        "feature_breaker_failures": 2, "feature_breaker_reset_s": 0.5})
    client = FeatureClient.from_settings(settings)
    # the default feature service joins two entities: rows name the card and the merchant
    rows = [{"card_id": "c1", "merchant_id": "m1"}, {"card_id": "c2", "merchant_id": "m1"}]
    healthy = await client.lookup(rows)
    assert not healthy.degraded
    assert healthy.defaulted == [healthy.feature_names, healthy.feature_names]
    assert healthy.values[0]["seconds_since_last"] == -1.0
    assert healthy.values[0]["merchant_fraud_rate_7d"] == 0.05  # the declared prior

    os.kill(proc.pid, signal.SIGSTOP)
    # Every lookup answers (degraded, at the declared defaults) although Redis never does:
    # two deadlines pass, then the open breaker answers without asking Redis. How fast that
    # is, is measured in bench/ (a test never judges a time).
    results = [await client.lookup(rows[:1]) for _ in range(5)]
    assert [r.degraded for r in results] == [True] * 5
    assert results[-1].values == healthy.values[:1]
    assert client.breaker.state == "open"

    os.kill(proc.pid, signal.SIGCONT)
    # after the breaker's reset time a trial lookup reaches the thawed Redis and closes it
    deadline = time.monotonic() + 30
    recovered = await client.lookup(rows[:1])
    while recovered.degraded and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        recovered = await client.lookup(rows[:1])
    assert not recovered.degraded and client.breaker.state == "closed"
    await client.close()
