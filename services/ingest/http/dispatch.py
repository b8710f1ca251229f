"""Webhook requests straight to their endpoint.

The webhook endpoints take only the `Request` (and `str` path parameters): they read and check
their bodies themselves. FastAPI still resolves dependencies, wraps the call in exit stacks
and walks its router for each request, which costs more than a whole Starlette route; a
webhook provider sends thousands of these. `DirectWebhooks` sits inside the app's
middleware (request ids, error handling, body limit) and hands POSTs to the endpoints of the
given routers to a plain Starlette router with the app's own exception handlers. The same
routes stay included in the app for everything else (OpenAPI, OPTIONS, other methods). An
endpoint that declares anything FastAPI must inject is left to FastAPI."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[..., Awaitable[Response]]


class DirectWebhooks:
    def __init__(self, app: ASGIApp, fastapi: FastAPI, routers: Sequence[APIRouter]) -> None:
        self.app = app
        self._fastapi = fastapi
        self.routes = [
            Route(route.path, _calling(route.endpoint), methods=["POST"])
            for router in routers for route in router.routes
            if isinstance(route, APIRoute) and "POST" in route.methods and _takes_only_request(route)
        ]
        self._direct: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self._matches(scope):
            if self._direct is None:  # the app's handlers are all registered by its first request
                handlers = {key: handler for key, handler in self._fastapi.exception_handlers.items()
                            if key not in (500, Exception)}  # those answer outside, in ServerErrorMiddleware
                self._direct = ExceptionMiddleware(Router(routes=self.routes), handlers=handlers)
            await self._direct(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _matches(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] == Match.FULL for route in self.routes)


def _takes_only_request(route: APIRoute) -> bool:
    if route.dependencies or route.dependant.dependencies:
        return False
    for name, parameter in inspect.signature(route.endpoint).parameters.items():
        annotation = parameter.annotation
        if annotation in (Request, "Request"):
            continue
        if annotation in (str, "str") and name in route.param_convertors:
            continue
        return False
    return True


def _calling(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    names = {
        name: parameter.annotation in (Request, "Request")
        for name, parameter in inspect.signature(endpoint).parameters.items()
    }
    if list(names.values()) == [True]:
        return endpoint

    async def call(request: Request) -> Response:
        arguments: dict[str, Any] = {
            name: request if is_request else request.path_params[name] for name, is_request in names.items()
        }
        return await endpoint(**arguments)

    return call
