"""One supervised child process: its own process group (so its children die with it), its
output in a log file, readiness by HTTP /readyz or an open port, and a stop that escalates
from SIGTERM to SIGKILL after a grace period."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


class ServiceStartError(RuntimeError):
    """A child exited or never became ready."""


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_url: str | None = None          # GET answering 200 when ready
    ready_port: tuple[str, int] | None = None  # or: a TCP port accepting connections
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # a new session = a new process group: one killpg reaches every grandchild too
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def is_ready(self) -> bool:
        if not self.alive:
            return False
        if self.ready_url:
            try:
                return httpx.get(self.ready_url, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False
        if self.ready_port:
            with socket.socket() as sock:
                sock.settimeout(0.2)
                return sock.connect_ex(self.ready_port) == 0
        return True

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.is_ready():
                return
            if not self.alive:
                raise ServiceStartError(f"{self.name} exited with {self.returncode}; "
                                        f"see {self.log_path}")
            time.sleep(0.2)
        raise ServiceStartError(f"{self.name} not ready after {timeout_s:.0f}s; "
                                f"see {self.log_path}")

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM the group, wait ``grace_s``, then SIGKILL it. Returns the exit status."""
        proc = self.process
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            # the leader may be gone while a grandchild lingers: sweep the group
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        except ProcessLookupError:
            pass
        if self._log is not None:
            self._log.close()
            self._log = None
        return proc.returncode
