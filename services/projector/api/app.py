"""The agent API application. `create_app(settings, ...)` builds it; the engine and publisher
are created at start-up (lifespan) unless passed in (tests pass their own). Other parts of
the API (complaints, web pages) are mounted through `routers`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.api.auth import Authorizer
from services.projector.api.customer_routes import router as customer_routes
from services.projector.api.customers import customers_router
from services.projector.api.consents import consents_router
from services.projector.api.privacy import privacy_router
from shared.config import Settings
from shared.db.engine import make_engine, reading
from shared.kafka.publisher import KafkaPublisher, Publisher
from shared.http_guards import RequestGuardMiddleware
from shared.web import RequestIdMiddleware, docs_routes, install_error_handlers, install_health_routes


def create_app(settings: Settings, engine: AsyncEngine | None = None, publisher: Publisher | None = None,
               routers: Sequence[APIRouter] = (),
               lifespans: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = ()) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        if own_engine:
            app.state.engine = make_engine(settings.db_url)
        if publisher is None:
            app.state.publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-api")
        try:
            async with AsyncExitStack() as stack:
                for extra in lifespans:  # e.g. the web pages' live feed
                    await stack.enter_async_context(extra(app))
                yield
        finally:
            if publisher is None:
                await app.state.publisher.stop()
            if own_engine:
                await app.state.engine.dispose()

    app = FastAPI(title="Touchpoint agent API", lifespan=lifespan, **docs_routes(settings))
    app.add_middleware(RequestGuardMiddleware, max_body_bytes=settings.api_max_body_bytes)
    app.add_middleware(RequestIdMiddleware, trusted_proxies=settings.proxy_networks)
    app.state.settings = settings
    app.state.engine, app.state.publisher = engine, publisher
    authorizer = Authorizer(settings)
    app.state.authorizer = authorizer
    install_error_handlers(app)

    async def readiness() -> dict[str, str]:
        try:
            async with reading(app.state.engine).connect() as conn:
                await conn.execute(text("SELECT 1"))
            return {"database": "ok"}
        except Exception as exc:  # readiness reports any failure instead of raising
            return {"database": f"unavailable: {type(exc).__name__}"}

    install_health_routes(app, readiness, settings.public_metrics)
    app.include_router(customer_routes)
    app.include_router(customers_router(authorizer))
    app.include_router(privacy_router(authorizer))
    app.include_router(consents_router(authorizer))
    for router in routers:
        app.include_router(router)
    install_bearer_openapi(app)
    return app


def install_bearer_openapi(app: FastAPI) -> None:
    """The document says how to authenticate: a bearer token from `[[auth.tokens]]` (the
    routes read it themselves, so FastAPI cannot infer it)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token from [[auth.tokens]]"}}
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
