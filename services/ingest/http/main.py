"""`touchpoint ingest`: the webhook service as deployed, one process serving
`settings.ingest_host:ingest_port` with uvicorn on uvloop and httptools (the asyncio loop
delays every keep-alive request by ~44 ms here, see INFRA-NOTES)."""

from __future__ import annotations

import asyncio
import logging
import time

import uvicorn
import uvloop

from services.ingest.http.app import create_app
from shared.admin_http import serve_with_admin
from shared.config import Settings
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for
from shared.logging import configure_logging

log = logging.getLogger("touchpoint.ingest")

TOPIC_BOOTSTRAP_SECONDS = 60.0
# Providers give up on a webhook after 5-15 s; answering 503 before that makes them retry
# (the publisher waits up to twice this before it gives up).
WEBHOOK_KAFKA_TIMEOUT_MS = 5_000


def run(settings: Settings) -> None:
    configure_logging("ingest", settings.log_level)
    bootstrap_topics(settings)
    if settings.encrypts_personal_data:
        from shared.db.migrate import upgrade

        upgrade(settings.db_url)  # the key store's table: ingest makes the keys it seals with
    uvloop.run(serve(settings))


async def serve(settings: Settings) -> None:
    """Serves until SIGINT/SIGTERM. The Kafka client is built here, inside the running loop,
    as aiokafka requires."""
    publisher = KafkaPublisher.for_settings(
        settings, client_id="touchpoint-ingest",
        request_timeout_ms=min(settings.kafka_request_timeout_ms, WEBHOOK_KAFKA_TIMEOUT_MS),
    )
    app = create_app(settings, publisher)
    config = uvicorn.Config(
        app, host=settings.ingest_host, port=settings.ingest_port,
        http="httptools", log_config=None, access_log=False, server_header=False,
        proxy_headers=False,  # X-Forwarded-For is read only from trusted_proxies (shared/client_address.py)
    )
    log.info("ingest listening on http://%s:%s", settings.ingest_host, settings.ingest_port)
    await serve_with_admin(config, app, settings.admin_host, settings.ingest_admin_port)


def bootstrap_topics(settings: Settings, wait_seconds: float = TOPIC_BOOTSTRAP_SECONDS) -> None:
    """Creates missing topics, waiting for a broker that is still starting; raises
    KafkaUnavailable (the CLI prints it) when none answers in time."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            created = asyncio.run(ensure_for(settings))
            if created:
                log.info("created topics %s", ", ".join(created))
            return
        except KafkaUnavailable as exc:
            if time.monotonic() >= deadline:
                raise KafkaUnavailable(
                    f"Kafka at {settings.bootstrap_servers} did not answer within {wait_seconds:.0f} s: start it "
                    "(touchpoint kafka start) or point TOUCHPOINT_KAFKA_BOOTSTRAP at a running cluster"
                ) from exc
            log.warning("waiting for Kafka at %s: %s", settings.bootstrap_servers, exc)
            time.sleep(2)
