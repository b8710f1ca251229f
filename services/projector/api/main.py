"""`touchpoint api`: the agent API with the complaints routes and the web pages, under uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from events.envelope import Event
from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.api.callbacks import callbacks_router
from services.projector.api.complaints import complaints_router
from services.projector.callbacks.rules import rules_from_settings as callback_rules
from services.projector.web.ui import WebUi
from shared.admin_http import serve_with_admin
from shared.config import Settings
from shared.db.engine import make_engine, session_factory
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher


def build_app(settings: Settings) -> FastAPI:
    """The whole agent service: JSON API, complaints, web pages. Clients are built here but
    connect lazily; they are closed when the app shuts down."""
    engine = make_engine(settings.db_url)
    publisher = PublisherInLoop(lambda: KafkaPublisher.for_settings(settings, client_id="touchpoint-api"))
    authorizer = Authorizer(settings)
    web = WebUi(settings, engine, publisher, authorizer)

    @asynccontextmanager
    async def clients(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await publisher.stop()
            await engine.dispose()

    app = create_app(settings, engine=engine, publisher=publisher,
                     routers=[complaints_router(settings, session_factory(engine), publisher, authorizer),
                              callbacks_router(authorizer, callback_rules(settings), settings.default_region)],
                     lifespans=[clients, web.lifespan])
    web.install(app)
    return app


class PublisherInLoop:
    """A KafkaPublisher made on first use: aiokafka clients must be created inside the running
    loop, while the routers that publish are built before it runs."""

    def __init__(self, make: Callable[[], KafkaPublisher]) -> None:
        self._make, self._publisher = make, None

    def _get(self) -> KafkaPublisher:
        if self._publisher is None:
            self._publisher = self._make()
        return self._publisher

    async def start(self) -> None:
        await self._get().start()

    async def stop(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()

    async def publish(self, events: Sequence[Event]) -> None:
        await self._get().publish(events)

    async def send_raw(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        await self._get().send_raw(topic, value, key, headers)


def run(settings: Settings) -> None:
    asyncio.run(upgrade_async(settings.db_url))
    app = build_app(settings)
    # the live pages hold server-sent event streams open; do not wait for them at shutdown
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port,
                            log_level=settings.log_level.lower(), timeout_graceful_shutdown=2,
                            proxy_headers=False)  # X-Forwarded-For only from trusted_proxies
    serving = serve_with_admin(config, app, settings.admin_host, settings.api_admin_port)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serving)
    else:
        uvloop.run(serving)
