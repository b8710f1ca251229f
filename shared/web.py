"""Pieces every HTTP service shares: the JSON error shape of CONTRACT.md, health, readiness
and metrics routes, and request ids for the logs."""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.config import Settings
from shared.client_address import Networks, client_address
from shared.logging import client_address as client_address_var
from shared.logging import correlation_scope
from shared.metrics import render_latest

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]


class ApiError(Exception):
    """Raised by routes to answer `{"error": code, "detail": detail}` with `status`."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}" for err in exc.errors()
        )
        return error_response(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


def docs_routes(settings: Settings) -> dict[str, str | None]:
    """FastAPI's docs arguments: `/docs` and `/openapi.json` on the public port, or none
    there (the admin listener serves them)."""
    if settings.docs_public:
        return {"docs_url": "/docs", "openapi_url": "/openapi.json", "redoc_url": None}
    return {"docs_url": None, "openapi_url": None, "redoc_url": None}


def install_health_routes(app: FastAPI, readiness: ReadinessCheck, metrics: bool = True) -> None:
    """`/healthz` (the process answers), `/readyz` (its dependencies answer), `/metrics`
    (unless `metrics` is False: then only the admin listener serves it)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ok = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    if not metrics:
        return

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)


REQUEST_ID_HEADERS = ("x-request-id", "x-correlation-id")
_USABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


class RequestIds:
    """New request ids: 32 hex digits like a uuid4's, a random prefix of this process and a
    counter. Unique without a call for random bytes per request (a system call each, on the
    path of every webhook); a request id correlates log lines, it guards nothing."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)  # a forked worker gets a prefix of its own

    def renew(self) -> None:
        self._prefix = secrets.token_hex(10)
        self._counter = itertools.count(1)

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"


_REQUEST_IDS = RequestIds()


def request_id_of(headers: Headers) -> str:
    """The caller's request or correlation id when it is a sane token, else a new one (a
    header is never trusted to be short or printable: it ends up in every log line)."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name, "").strip()
        if _USABLE_REQUEST_ID.fullmatch(value):
            return value
    return _REQUEST_IDS.new()


class RequestIdMiddleware:
    """Binds the request id (`correlation_scope`) and the client's address for the logs of the
    request, and answers with the id in `X-Request-ID`."""

    def __init__(self, app: ASGIApp, trusted_proxies: Networks = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(Headers(scope=scope))
        client_token = client_address_var.set(client_address(HTTPConnection(scope), self.trusted_proxies))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            with correlation_scope(request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            client_address_var.reset(client_token)
