"""Runtime: what every service process shares. The settings every service has (one
``DRIFTLOOP_`` prefix), health and readiness, the small HTTP server for /healthz, /readyz and
/metrics, and the run loop with graceful shutdown on SIGINT/SIGTERM."""

from __future__ import annotations

from services.runtime.health import Health
from services.runtime.http import health_app, read_limited_body, serve_http
from services.runtime.service import connect_to_kafka, run_until_stopped, serve_service
from services.runtime.settings import CommonSettings

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
