"""The HTTP side every service has: /healthz, /readyz, /metrics (Prometheus text), served by
uvicorn inside the service's own event loop."""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from driftloop.runtime.health import Health


def health_app(name: str, health: Health, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI(title=f"driftloop {name}", version="0.1.0")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> JSONResponse:
        return JSONResponse({"live": health.live}, status_code=200 if health.live else 503)

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        body = {"ready": health.ready, "waiting_for": sorted(health.waiting_for)}
        return JSONResponse(body, status_code=200 if health.ready else 503)

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def serve_http(app: FastAPI, host: str, port: int, stopping: asyncio.Event) -> None:
    """Serve ``app`` until ``stopping`` is set; signals are handled by the service, not uvicorn."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off")
    server = uvicorn.Server(config)
    # The service owns SIGINT/SIGTERM (it must finish its batch and commit first).
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    task = asyncio.create_task(server.serve())
    await stopping.wait()
    server.should_exit = True
    await task


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes: from the
    declared Content-Length, else while streaming (chunked bodies declare none)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
