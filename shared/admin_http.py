"""The admin listener: `/docs`, `/openapi.json` and `/metrics` of a service on their own
address (e.g. loopback or an internal network), so that production can keep them off the
public port (`TOUCHPOINT_PUBLIC_DOCS=false`, `TOUCHPOINT_PUBLIC_METRICS=false`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from shared.metrics import render_latest


def admin_app(public: FastAPI) -> FastAPI:
    """Serves the public app's OpenAPI document and docs, and the process's metrics."""
    admin = FastAPI(title=f"{public.title} (admin)", docs_url=None, redoc_url=None, openapi_url=None)

    @admin.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(public.openapi())

    @admin.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=public.title)

    @admin.get("/metrics")
    async def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    @admin.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return admin


class _AdminServer(uvicorn.Server):
    """Leaves the signals to the public server; it is stopped when that one stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_with_admin(public: uvicorn.Config, app: FastAPI, host: str, port: int) -> None:
    """Serves `public` until it stops, plus the admin listener on host:port when port is set."""
    if not port:
        await uvicorn.Server(public).serve()
        return
    admin = _AdminServer(uvicorn.Config(admin_app(app), host=host, port=port, log_config=None, access_log=False,
                                        server_header=False))
    admin_task = asyncio.create_task(admin.serve())
    try:
        await uvicorn.Server(public).serve()
    finally:
        admin.should_exit = True
        await admin_task
