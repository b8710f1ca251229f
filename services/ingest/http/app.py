"""The ingest HTTP service: providers' webhooks in, events to Kafka.

`create_app(settings, publisher)` builds the FastAPI app around a Publisher port, so tests
pass an InMemoryPublisher and production a KafkaPublisher. Every webhook route only
authenticates, parses (pure functions), publishes and answers; 200 means Kafka acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.ingest.http import form_routes, shipping_routes, telephony_routes
from services.ingest.http.context import IngestContext, utc_now
from services.ingest.http.dispatch import DirectWebhooks
from services.ingest.http.metrics import WEBHOOK_ERRORS, source_of
from services.ingest.http.openapi_document import install_openapi
from services.ingest.http.readiness import ReadinessCheck, kafka_reachable
from services.ingest.webforms.guards import RateLimiter
from shared.config import ConfigError, Settings
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import Publisher
from shared.web import (
    ApiError, RequestIdMiddleware, docs_routes, error_response, install_error_handlers, install_health_routes,
)

log = logging.getLogger("touchpoint.ingest")

STOP_TIMEOUT_S = 10.0


def create_app(
    settings: Settings,
    publisher: Publisher,
    *,
    readiness: ReadinessCheck | None = None,
    clock: Callable[[], datetime] = utc_now,
    rate_limiter: RateLimiter | None = None,
) -> FastAPI:
    check_config(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await publisher.start()
        except KafkaUnavailable as exc:
            # keep serving: webhooks answer 503 until Kafka is back, /readyz says why
            log.warning("Kafka is not reachable at start; webhooks answer 503 until it is: %s", exc)
        try:
            yield
        finally:
            await stop_publisher(publisher)

    app = FastAPI(
        title="Touchpoint ingest",
        summary="Telephony, web form and shipping webhooks into Kafka",
        version="1",
        lifespan=lifespan,
        **docs_routes(settings),
    )
    app.state.ingest = IngestContext(settings, publisher, clock, rate_limiter or RateLimiter())
    webhook_routers = (telephony_routes.router, form_routes.router, shipping_routes.router)
    app.add_middleware(DirectWebhooks, fastapi=app, routers=webhook_routers)  # inside request ids and errors
    app.add_middleware(RequestIdMiddleware, trusted_proxies=settings.proxy_networks)
    install_error_handlers(app)
    _install_webhook_error_handlers(app)
    install_health_routes(app, readiness or kafka_reachable(settings.bootstrap_servers), settings.public_metrics)
    for router in webhook_routers:
        app.include_router(router)
    install_openapi(app, settings)
    return app


async def stop_publisher(publisher: Publisher, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stops the publisher without hanging on an unreachable broker: whatever is still
    unsent was answered 503, so the providers will send it again."""
    try:
        await asyncio.wait_for(publisher.stop(), timeout_s)
    except (asyncio.TimeoutError, KafkaUnavailable):
        log.warning("Kafka did not take the last unacknowledged writes within %.0f s; they were answered 503", timeout_s)


def check_config(settings: Settings) -> None:
    """Refuses webhook settings that could never authenticate a request."""
    cti = settings.file.webhooks.cti
    if cti is not None and cti.require_sipgate_signature and not cti.sipgate_public_key:
        raise ConfigError("webhooks.cti.sipgate_public_key: required when require_sipgate_signature = true "
                          "(sipgate's published public key, PEM)")


def _install_webhook_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        WEBHOOK_ERRORS.labels(source_of(request.url.path), exc.code).inc()
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # a bug, not the caller's fault: log it with the trace, answer without one
        log.exception("unexpected error handling %s", request.url.path)
        WEBHOOK_ERRORS.labels(source_of(request.url.path), "internal_error").inc()
        return error_response(500, "internal_error", "the request could not be handled; it was not stored, retry later")
