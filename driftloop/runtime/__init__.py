"""Runtime: what every service process shares. The settings every service has (one
``DRIFTLOOP_`` prefix), health and readiness, the small HTTP server for /healthz, /readyz and
/metrics, and the run loop with graceful shutdown on SIGINT/SIGTERM."""

from __future__ import annotations

from driftloop.runtime.health import Health
from driftloop.runtime.http import health_app, read_limited_body, serve_http
from driftloop.runtime.service import connect_to_kafka, run_until_stopped, serve_service
from driftloop.runtime.settings import CommonSettings

__all__ = [
    "CommonSettings",
    "connect_to_kafka",
    "Health",
    "health_app",
    "read_limited_body",
    "run_until_stopped",
    "serve_http",
    "serve_service",
]
